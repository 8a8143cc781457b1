/**
 * What `tracker-check` found about one tracker: a matrix of checks by probed address (one column
 * per address the name resolves to, or one per family when none was probed), a verdict per
 * family, and the name's BEP 34 record.
 */
import type { Family } from '../net/address.js';
import type { TrackerProtocol } from '../tracker/url.js';

/**
 * n/a: the check cannot apply here (UDP has no ipv6=); skipped: it could, but was not judged (and
 * why); policy: the tracker chose not to do something it may rightly refuse (not a fault).
 */
export type Verdict = 'pass' | 'fail' | 'policy' | 'n/a' | 'skipped';

export interface Cell {
  verdict: Verdict;
  /** One line: what was seen. */
  evidence: string;
  /** Failing cells only: what a tracker operator should change. */
  fix?: string;
}

export type CheckId =
  | 'dns' | 'reachable' | 'reply-source' | 'announce' | 'interval' | 'peers' | 'udp-entries' | 'mixed' | 'own-address'
  | 'link-local' | 'scrape' | 'stopped' | 'unknown-hash' | 'malformed' | 'connection-id' | 'retransmit';

/** One column of the matrix: an address the checks went to, or a family nothing went to. */
export interface Column {
  family: Family;
  /** Undefined when no address of the family was probed (no record, not asked for, a literal of the other family). */
  address?: string;
  /** `IPv4`, or `IPv4 192.0.2.1` when the family has more than one address. */
  label: string;
}

export interface CheckRow {
  id: CheckId;
  title: string;
  /** One per column, in the report's column order. */
  cells: Cell[];
}

/** One family's verdict over all of its addresses. */
export interface FamilySummary {
  family: Family;
  /** pass: every address answers and no check failed; fail: some did; skipped / n/a: not tried, and why. */
  verdict: 'pass' | 'fail' | 'skipped' | 'n/a';
  /** Addresses the name resolves to in this family (1 for a literal of it). */
  addresses: number;
  /** Addresses probed (at most MAX_ADDRESSES_PER_FAMILY of them). */
  probed: number;
  /** Probed addresses that answered. */
  answering: number;
  /** Failing cells in this family's columns. */
  failures: number;
  /** "2 of 3 AAAA addresses answer; 1 check failed", "no AAAA record", "not asked for (--family 4)". */
  text: string;
}

/** BEP 34: what the name's DNS TXT records say about its tracker. */
export interface Bep34Report extends Cell {
  /** The BITTORRENT records as published (empty: none). */
  records: string[];
}

export interface TrackerReport {
  type: 'tracker-check';
  url: string;
  protocol: TrackerProtocol;
  /** Hex; random unless --info-hash gave one. */
  infoHash: string;
  columns: Column[];
  rows: CheckRow[];
  families: FamilySummary[];
  bep34: Bep34Report;
  /** Requests sent (UDP: transactions, each sent at most three times). */
  requests: number;
  elapsedMs: number;
  /** Why the check ended before its last step (a time bound ran out, or it was interrupted). */
  cut?: string;
  /** No cell failed. */
  ok: boolean;
}

export const FAMILIES: readonly Family[] = [4, 6];

export function failures(r: TrackerReport): { row: CheckRow; column: Column; cell: Cell }[] {
  return r.rows.flatMap((row) => row.cells.flatMap((cell, i) => (cell.verdict === 'fail' ? [{ row, column: r.columns[i]!, cell }] : [])));
}

/** The cells of `row` that belong to `family`'s columns. */
export function familyCells(r: TrackerReport, row: CheckRow, family: Family): Cell[] {
  return row.cells.filter((_, i) => r.columns[i]!.family === family);
}
