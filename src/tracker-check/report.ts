/** What `tracker-check` found about one tracker: a matrix of checks by address family. */
import type { Family } from '../net/address.js';
import type { TrackerProtocol } from '../tracker/url.js';

/** n/a: the check cannot apply here (UDP has no ipv6=); skipped: it could, but was not judged (and why). */
export type Verdict = 'pass' | 'fail' | 'n/a' | 'skipped';

export interface Cell {
  verdict: Verdict;
  /** One line: what was seen. */
  evidence: string;
  /** Failing cells only: what a tracker operator should change. */
  fix?: string;
}

export type CheckId =
  | 'dns' | 'reachable' | 'announce' | 'interval' | 'peers' | 'udp-entries' | 'mixed' | 'own-address' | 'link-local'
  | 'scrape' | 'stopped' | 'unknown-hash' | 'malformed' | 'connection-id' | 'retransmit';

export interface CheckRow {
  id: CheckId;
  title: string;
  cells: Record<Family, Cell>;
}

export interface TrackerReport {
  type: 'tracker-check';
  url: string;
  protocol: TrackerProtocol;
  /** Hex; random unless --info-hash gave one. */
  infoHash: string;
  rows: CheckRow[];
  /** Requests sent (UDP: transactions, each sent at most three times). */
  requests: number;
  elapsedMs: number;
  /** No cell failed. */
  ok: boolean;
}

export const FAMILIES: readonly Family[] = [4, 6];

export function failures(r: TrackerReport): { row: CheckRow; family: Family; cell: Cell }[] {
  return r.rows.flatMap((row) => FAMILIES.filter((f) => row.cells[f].verdict === 'fail').map((family) => ({ row, family, cell: row.cells[family] })));
}
