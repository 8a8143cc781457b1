/** Running `sixswarm tracker-check --json` and reading its verdicts in tests. */
import { OwnAddresses } from '../../src/engine/own-addresses.js';
import type { Family } from '../../src/net/address.js';
import type { CheckId, TrackerReport, Verdict } from '../../src/tracker-check/report.js';
import { runCli, sixswarm } from './sixswarm.js';

export type Matrix = Record<CheckId, Record<Family, Verdict>>;

export function matrix(r: TrackerReport): Matrix {
  return Object.fromEntries(r.rows.map((row) => [row.id, { 4: row.cells[4].verdict, 6: row.cells[6].verdict }])) as Matrix;
}

/** "id@family" of every failing cell. */
export function failing(r: TrackerReport): string[] {
  return r.rows.flatMap((row) => ([4, 6] as const).filter((f) => row.cells[f].verdict === 'fail').map((f) => `${row.id}@${f}`));
}

/** Each row's cells with evidence, for assertion messages. */
export function show(r: TrackerReport): string {
  return r.rows.map((row) => `${row.id.padEnd(14)} ${[4, 6].map((f) => `${row.cells[f as Family].verdict}: ${row.cells[f as Family].evidence}`).join(' | ')}`).join('\n');
}

/** `tracker-check --json ARGS` (under `wrap`, e.g. a private hosts file); its exit code and reports. */
export async function runCheck(args: string[], wrap?: string[], timeoutMs = 60_000): Promise<{ code: number | null; reports: TrackerReport[]; stderr: string; stdout: string }> {
  if (!wrap) {
    const r = await runCli(['tracker-check', '--json', ...args], { timeoutMs });
    return { code: r.code, reports: r.events as unknown as TrackerReport[], stderr: r.stderr, stdout: r.stdout };
  }
  const p = sixswarm(['tracker-check', '--json', ...args], { wrap, label: 'tracker-check' });
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, reports: p.events as unknown as TrackerReport[], stderr: p.stderr, stdout: p.stdoutRaw };
}

/** This host's global addresses: the checker (same host) sends them as ipv4= / ipv6=. */
export const own = new OwnAddresses().get();
const ownVerdict = (f: 4 | 6) => (own[f] ? 'pass' : 'skipped');

/** What the built-in tracker gets, reached over both families by name. */
export const BUILT_IN_HTTP: Matrix = {
  dns: { 4: 'pass', 6: 'pass' },
  reachable: { 4: 'pass', 6: 'pass' },
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
  'udp-entries': { 4: 'n/a', 6: 'pass' },
  mixed: { 4: 'n/a', 6: 'n/a' },
  'own-address': { 4: 'n/a', 6: 'n/a' },
  'link-local': { 4: 'n/a', 6: 'n/a' },
  'connection-id': { 4: 'pass', 6: 'pass' },
  retransmit: { 4: 'pass', 6: 'pass' },
};
