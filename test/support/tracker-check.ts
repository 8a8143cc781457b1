/** Running `sixswarm tracker-check --json` and reading its verdicts in tests. */
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
