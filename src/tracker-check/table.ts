/**
 * The report as a table: the model both the plain-text and the ink rendering draw, so that they
 * cannot disagree, and the plain-text rendering itself.
 */
import { printable } from '../util/sanitize.js';
import { failures, FAMILIES, type TrackerReport, type Verdict } from './report.js';

export interface TableModel {
  heading: string;
  columns: [string, string, string];
  rows: { id: string; title: string; cells: { verdict: Verdict; evidence: string }[] }[];
  problems: { where: string; evidence: string; fix: string }[];
  summary: string;
  titleWidth: number;
  /** Width of a cell's evidence (longer evidence is cut with "..."). */
  evidenceWidth: number;
}

/** Verdicts padded to one width so that evidence lines up. */
export const VERDICT_WIDTH = 7;

const cut = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 3)}...`);

export function tableModel(r: TrackerReport, evidenceWidth = 40): TableModel {
  const protocol = r.protocol.toUpperCase();
  const failed = failures(r);
  const rows = r.rows.map((row) => ({
    id: row.id,
    title: row.title,
    cells: FAMILIES.map((f) => ({ verdict: row.cells[f].verdict, evidence: cut(row.cells[f].evidence, evidenceWidth) })),
  }));
  const longest = Math.max(...rows.flatMap((row) => row.cells.map((c) => c.evidence.length)));
  return {
    heading: `${printable(r.url, 200)}  (${protocol}, info hash ${r.infoHash.slice(0, 12)}..., ${r.requests} requests, ${(r.elapsedMs / 1000).toFixed(2)} s)`,
    columns: ['check', 'IPv4', 'IPv6'],
    rows,
    problems: failed.map(({ row, family, cell }) => ({ where: `${row.title}, IPv${family}`, evidence: cell.evidence, fix: cell.fix ?? '' })),
    summary: failed.length === 0 ? 'PASS: every applicable check passed' : `FAIL: ${failed.length} check${failed.length === 1 ? '' : 's'} failed`,
    titleWidth: Math.max(...rows.map((row) => row.title.length)),
    evidenceWidth: Math.min(evidenceWidth, longest),
  };
}

/** Plain text: one line per check, then each problem with its fix. */
export function renderText(r: TrackerReport): string {
  const m = tableModel(r);
  const cellWidth = VERDICT_WIDTH + 1 + m.evidenceWidth;
  const line = (a: string, b: string, c: string) => `${a.padEnd(m.titleWidth)}  ${b.padEnd(cellWidth)}  ${c}`.trimEnd();
  const out = [m.heading, line(...m.columns)];
  for (const row of m.rows) {
    const [c4, c6] = row.cells.map((c) => `${c.verdict.padEnd(VERDICT_WIDTH)} ${c.evidence}`) as [string, string];
    out.push(line(row.title, c4, c6));
  }
  for (const p of m.problems) out.push(`! ${p.where}: ${p.evidence}`, `    fix: ${p.fix}`);
  out.push(m.summary, '');
  return out.join('\n');
}
