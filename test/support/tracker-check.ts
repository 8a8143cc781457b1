/** Running `sixswarm tracker-check --json` and reading its verdicts in tests. */
import { OwnAddresses } from '../../src/engine/own-addresses.js';
import type { Family } from '../../src/net/address.js';
import type { CheckId, TrackerReport, Verdict } from '../../src/tracker-check/report.js';
import { runCli, sixswarm } from './sixswarm.js';

export type Matrix = Record<CheckId, Record<Family, Verdict>>;

/** The report's matrix by family; only for reports with one column per family (one address each, or none). */
export function matrix(r: TrackerReport): Matrix {
  for (const f of [4, 6] as const) {
    if (r.columns.filter((c) => c.family === f).length !== 1) throw new Error(`IPv${f} has ${r.columns.length} columns: use byColumn\n${show(r)}`);
  }
  const at = (f: Family) => r.columns.findIndex((c) => c.family === f);
  return Object.fromEntries(r.rows.map((row) => [row.id, { 4: row.cells[at(4)]!.verdict, 6: row.cells[at(6)]!.verdict }])) as Matrix;
}

/** Every row's verdicts keyed by column label ("IPv6 2001:db8::1"). */
export function byColumn(r: TrackerReport): Record<CheckId, Record<string, Verdict>> {
  return Object.fromEntries(r.rows.map((row) => [row.id, Object.fromEntries(row.cells.map((c, i) => [r.columns[i]!.label, c.verdict]))])) as Record<CheckId, Record<string, Verdict>>;
}

/** One cell: row `id`, the column of `family` (or the one labelled `label`). */
export function cellOf(r: TrackerReport, id: CheckId, column: Family | string) {
  const i = typeof column === 'number' ? r.columns.findIndex((c) => c.family === column) : r.columns.findIndex((c) => c.label === column);
  if (i < 0) throw new Error(`no column ${column} in ${r.columns.map((c) => c.label).join(', ')}`);
  return r.rows.find((x) => x.id === id)!.cells[i]!;
}

/** "id@family" (or "id@label" with several addresses of a family) of every failing cell. */
export function failing(r: TrackerReport): string[] {
  const name = (i: number) => {
    const c = r.columns[i]!;
    return r.columns.filter((x) => x.family === c.family).length > 1 ? c.label : String(c.family);
  };
  return r.rows.flatMap((row) => row.cells.flatMap((cell, i) => (cell.verdict === 'fail' ? [`${row.id}@${name(i)}`] : [])));
}

/** Each row's cells with evidence, for assertion messages. */
export function show(r: TrackerReport): string {
  return [
    `${r.url}  columns: ${r.columns.map((c) => c.label).join(' | ')}${r.cut ? `  (cut: ${r.cut})` : ''}`,
    ...r.rows.map((row) => `${row.id.padEnd(14)} ${row.cells.map((c) => `${c.verdict}: ${c.evidence}`).join(' | ')}`),
    ...r.families.map((f) => `IPv${f.family}: ${f.verdict}: ${f.text}`),
    `bep34: ${r.bep34.verdict}: ${r.bep34.evidence}`,
  ].join('\n');
}

/** `tracker-check --json ARGS` (under `wrap`, e.g. a private hosts file); its exit code, reports and closing summary. */
export async function runCheck(args: string[], wrap?: string[], timeoutMs = 60_000): Promise<{ code: number | null; reports: TrackerReport[]; stderr: string; stdout: string }> {
  if (!wrap) {
    const r = await runCli(['tracker-check', '--json', ...args], { timeoutMs });
    return { code: r.code, reports: reportsOf(r.events), stderr: r.stderr, stdout: r.stdout };
  }
  const p = sixswarm(['tracker-check', '--json', ...args], { wrap, label: 'tracker-check' });
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, reports: reportsOf(p.events), stderr: p.stderr, stdout: p.stdoutRaw };
}

/** The per-tracker reports among the JSON lines (the closing summary left out), in list order. */
function reportsOf(events: unknown[]): TrackerReport[] {
  const reports = (events as { type?: string }[]).filter((e) => e.type === 'tracker-check') as unknown as TrackerReport[];
  const summary = (events as { type?: string; rows?: { url: string }[] }[]).find((e) => e.type === 'tracker-check-summary');
  if (!summary?.rows) return reports;
  // Reports arrive as each tracker finishes; the summary's rows keep the list's order.
  const order = new Map(summary.rows.map((row, i) => [row.url, i]));
  return [...reports].sort((a, b) => (order.get(a.url) ?? 0) - (order.get(b.url) ?? 0));
}

/** This host's global addresses: the checker (same host) sends them as ipv4= / ipv6=. */
export const own = new OwnAddresses().get();
const ownVerdict = (f: 4 | 6) => (own[f] ? 'pass' : 'skipped');

/** What the built-in tracker gets, reached over both families by name. */
export const BUILT_IN_HTTP: Matrix = {
  dns: { 4: 'pass', 6: 'pass' },
  reachable: { 4: 'pass', 6: 'pass' },
  'reply-source': { 4: 'n/a', 6: 'n/a' },
  announce: { 4: 'pass', 6: 'pass' },
  interval: { 4: 'pass', 6: 'pass' },
  'udp-entries': { 4: 'n/a', 6: 'n/a' },
  peers: { 4: 'pass', 6: 'pass' },
  mixed: { 4: 'pass', 6: 'pass' },
  'own-address': { 4: ownVerdict(6), 6: ownVerdict(4) },
  'link-local': { 4: 'pass', 6: 'pass' },
  scrape: { 4: 'pass', 6: 'pass' },
  stopped: { 4: 'pass', 6: 'pass' },
  'unknown-hash': { 4: 'pass', 6: 'pass' },
  malformed: { 4: 'pass', 6: 'pass' },
  'connection-id': { 4: 'n/a', 6: 'n/a' },
  retransmit: { 4: 'n/a', 6: 'n/a' },
};
export const BUILT_IN_UDP: Matrix = {
  ...BUILT_IN_HTTP,
  'reply-source': { 4: 'pass', 6: 'pass' },
  'udp-entries': { 4: 'n/a', 6: 'pass' },
  mixed: { 4: 'n/a', 6: 'n/a' },
  'own-address': { 4: 'n/a', 6: 'n/a' },
  'link-local': { 4: 'n/a', 6: 'n/a' },
  'connection-id': { 4: 'pass', 6: 'pass' },
  retransmit: { 4: 'pass', 6: 'pass' },
};
