/**
 * A run over many trackers at a glance: one row per tracker (its standing, one short verdict per
 * family, BEP 34), sorted best first, and the filters that pick URLs out of it. Pure.
 */
import type { Family } from '../net/address.js';
import type { FamilySummary, TrackerReport } from './report.js';

/** pass: no check failed; fail: some did; dead: no address answered at all; not checked: never started (or cut before any answer). */
export type Standing = 'pass' | 'fail' | 'dead' | 'not checked';

/** One line of a list: a tracker checked, or one the run never got to (and why). */
export type ListEntry = { url: string; report: TrackerReport } | { url: string; notChecked: string };

export interface SummaryRow {
  url: string;
  standing: Standing;
  /** Failing cells (BEP 34 included). */
  failures: number;
  /** Per family, a few words: "pass", "fail (2)", "1 of 2 answer", "no AAAA", "n/a". */
  families: Record<Family, string>;
  bep34: string;
  /** Every IPv6 address probed answers and no IPv6 check failed. */
  ipv6Ok: boolean;
  elapsedMs?: number;
  /** Why it was not (fully) checked. */
  note?: string;
}

const RANK: Record<Standing, number> = { pass: 0, fail: 1, dead: 2, 'not checked': 3 };

function familyWords(s: FamilySummary): string {
  if (s.verdict === 'skipped' || s.verdict === 'n/a') return s.verdict;
  if (s.probed === 0) return s.text.startsWith('no ') ? `no ${s.family === 4 ? 'A' : 'AAAA'}` : 'DNS failed';
  if (s.answering === 0) return s.probed > 1 ? `none of ${s.probed} answer` : 'no answer';
  const answer = s.probed > 1 ? `${s.answering} of ${s.probed} answer` : '';
  if (s.failures === 0) return s.probed > 1 ? `pass (${answer})` : 'pass';
  return `fail (${s.failures})${answer ? `, ${answer}` : ''}`;
}

export function summaryRow(e: ListEntry): SummaryRow {
  if ('notChecked' in e) return { url: e.url, standing: 'not checked', failures: 0, families: { 4: '-', 6: '-' }, bep34: '-', ipv6Ok: false, note: e.notChecked };
  const r = e.report;
  const fam = (f: Family) => r.families.find((s) => s.family === f)!;
  const answered = r.families.some((s) => s.answering > 0);
  const failures = r.families.reduce((n, s) => n + s.failures, 0) + (r.bep34.verdict === 'fail' ? 1 : 0);
  const reachable = r.rows.find((x) => x.id === 'reachable')!;
  const judged = reachable.cells.some((c) => c.verdict === 'pass' || c.verdict === 'fail');
  const standing: Standing = r.ok ? 'pass' : answered ? 'fail' : judged || failures > 0 ? 'dead' : 'not checked';
  const v6 = fam(6);
  return {
    url: r.url,
    standing,
    failures,
    families: { 4: familyWords(fam(4)), 6: familyWords(v6) },
    bep34: r.bep34.verdict === 'fail' ? 'fail' : r.bep34.verdict === 'pass' ? 'pass' : '-',
    ipv6Ok: v6.verdict === 'pass' && v6.probed > 0 && v6.answering === v6.probed,
    elapsedMs: r.elapsedMs,
    ...(r.cut ? { note: r.cut } : {}),
  };
}

/** Best first: passing trackers, then failing ones (fewest failures first), dead ones, those not checked; ties keep list order. */
export function sortedRows(entries: readonly ListEntry[]): SummaryRow[] {
  return entries
    .map((e, i) => ({ row: summaryRow(e), i }))
    .sort((a, b) => RANK[a.row.standing] - RANK[b.row.standing] || a.row.failures - b.row.failures || Number(b.row.ipv6Ok) - Number(a.row.ipv6Ok) || a.i - b.i)
    .map((x) => x.row);
}

export type Filter = 'ipv6-ok' | 'failing';

/** The URLs `filter` picks, in list order. */
export function filtered(entries: readonly ListEntry[], filter: Filter): string[] {
  return entries.map(summaryRow).filter((r) => (filter === 'ipv6-ok' ? r.ipv6Ok : r.standing === 'fail' || r.standing === 'dead')).map((r) => r.url);
}

export interface Tally {
  trackers: number;
  pass: number;
  fail: number;
  dead: number;
  notChecked: number;
  ipv6Ok: number;
}

export function tally(entries: readonly ListEntry[]): Tally {
  const rows = entries.map(summaryRow);
  const count = (s: Standing) => rows.filter((r) => r.standing === s).length;
  return { trackers: rows.length, pass: count('pass'), fail: count('fail'), dead: count('dead'), notChecked: count('not checked'), ipv6Ok: rows.filter((r) => r.ipv6Ok).length };
}

/** A duration for a report: "340 ms", "12.5 s"; "-" when unknown. */
export function duration(ms: number | undefined): string {
  if (ms === undefined) return '-';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "50 trackers: 20 pass, 25 with failures, 5 dead; 18 do IPv6 right" (counts of 0 left out). */
export function tallyText(t: Tally): string {
  const parts = [`${t.pass} pass`, t.fail && `${t.fail} with failures`, t.dead && `${t.dead} dead`, t.notChecked && `${t.notChecked} not checked`].filter(Boolean);
  return `${t.trackers} tracker${t.trackers === 1 ? '' : 's'}: ${parts.join(', ')}; ${t.ipv6Ok} ${t.ipv6Ok === 1 ? 'does' : 'do'} IPv6 right`;
}

/** What a run was: where, when, with what bounds; printed above every report. */
export interface RunInfo {
  host: string;
  /** ISO 8601. */
  startedAt: string;
  elapsedMs: number;
  version: string;
  /** The options that shape the verdicts ("--timeout 5 --family both ..."). */
  options: string;
  /** Set when the run was interrupted. */
  interrupted?: boolean;
}
