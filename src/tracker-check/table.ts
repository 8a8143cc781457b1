/**
 * The report as a table: the model both the plain-text and the ink rendering draw, so that they
 * cannot disagree, the plain-text rendering itself, and the plain-text summary of a run.
 */
import { printable } from '../util/sanitize.js';
import { failures, type TrackerReport, type Verdict } from './report.js';
import { duration, sortedRows, tally, tallyText, type ListEntry } from './summary.js';

export interface TableModel {
  heading: string;
  columns: string[];
  rows: { id: string; title: string; cells: { verdict: Verdict; evidence: string }[] }[];
  /** One line per family: "IPv6: 1 of 2 AAAA addresses answer; 3 checks failed". */
  families: string[];
  /** "BEP 34 (DNS TXT): n/a  no BITTORRENT TXT record ..." */
  bep34: { verdict: Verdict; evidence: string };
  problems: { where: string; evidence: string; fix: string }[];
  summary: string;
  titleWidth: number;
  /** Width of a cell's evidence (longer evidence is cut with "..."). */
  evidenceWidth: number;
}

/** Verdicts padded to one width so that evidence lines up. */
export const VERDICT_WIDTH = 7;

export const cut = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, Math.max(0, n - 3))}...`);

/** Evidence width for plain text: wide enough to read with two columns, narrower with more. */
const textEvidenceWidth = (columns: number) => (columns <= 2 ? 40 : 28);

export function tableModel(r: TrackerReport, evidenceWidth = textEvidenceWidth(r.columns.length)): TableModel {
  const protocol = r.protocol.toUpperCase();
  const failed = failures(r);
  const rows = r.rows.map((row) => ({
    id: row.id,
    title: row.title,
    cells: row.cells.map((c) => ({ verdict: c.verdict, evidence: cut(c.evidence, evidenceWidth) })),
  }));
  const longest = Math.max(...rows.flatMap((row) => row.cells.map((c) => c.evidence.length)));
  const problems = failed.map(({ row, column, cell }) => ({ where: `${row.title}, ${column.label}`, evidence: cell.evidence, fix: cell.fix ?? '' }));
  if (r.bep34.verdict === 'fail') problems.push({ where: 'BEP 34 (DNS TXT)', evidence: r.bep34.evidence, fix: r.bep34.fix ?? '' });
  const n = problems.length;
  return {
    heading: `${printable(r.url, 200)}  (${protocol}, info hash ${r.infoHash.slice(0, 12)}..., ${r.requests} requests, ${(r.elapsedMs / 1000).toFixed(2)} s)`,
    columns: ['check', ...r.columns.map((c) => c.label)],
    rows,
    families: r.families.map((s) => `IPv${s.family}: ${s.text}`),
    bep34: { verdict: r.bep34.verdict, evidence: r.bep34.evidence },
    problems,
    summary: `${n === 0 ? 'PASS: every applicable check passed' : `FAIL: ${n} check${n === 1 ? '' : 's'} failed`}${r.cut ? ` (cut short: ${r.cut})` : ''}`,
    titleWidth: Math.max(...rows.map((row) => row.title.length)),
    evidenceWidth: Math.min(evidenceWidth, longest),
  };
}

/** Plain text: one line per check, the families' verdicts, BEP 34, then each problem with its fix. */
export function renderText(r: TrackerReport): string {
  const m = tableModel(r);
  const cellWidth = VERDICT_WIDTH + 1 + m.evidenceWidth;
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(m.titleWidth) : i < cells.length - 1 ? c.padEnd(cellWidth) : c)).join('  ').trimEnd();
  const out = [m.heading, line(m.columns)];
  for (const row of m.rows) out.push(line([row.title, ...row.cells.map((c) => `${c.verdict.padEnd(VERDICT_WIDTH)} ${c.evidence}`)]));
  out.push(...m.families, `BEP 34 (DNS TXT): ${m.bep34.verdict} ${m.bep34.evidence}`);
  for (const p of m.problems) out.push(`! ${p.where}: ${p.evidence}`, `    fix: ${p.fix}`);
  out.push(m.summary, '');
  return out.join('\n');
}

/** The run's summary: one line per tracker, best first, then the counts. */
export function renderSummaryText(entries: readonly ListEntry[]): string {
  const rows = sortedRows(entries);
  const table = [['verdict', 'IPv4', 'IPv6', 'BEP 34', 'time', 'tracker'], ...rows.map((r) => [
    r.standing === 'fail' ? `fail (${r.failures})` : r.standing, r.families[4], r.families[6], r.bep34, duration(r.elapsedMs), `${printable(r.url, 200)}${r.note ? `  (${r.note})` : ''}`,
  ])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const t = tally(entries);
  return [
    ...table.map((row) => row.map((c, i) => (i < row.length - 1 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd()),
    `${tallyText(t)}`,
    '',
  ].join('\n');
}
