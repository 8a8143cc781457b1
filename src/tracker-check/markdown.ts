/**
 * A run as a Markdown document to publish: when and where it ran, the summary table (best
 * first), then each tracker's matrix with its evidence, and each failure with its fix. Every text
 * that came from a tracker or a list is escaped, so it can neither break a table nor inject markup.
 */
import { printable } from '../util/sanitize.js';
import type { TrackerReport } from './report.js';
import { duration, sortedRows, tally, tallyText, type ListEntry, type RunInfo } from './summary.js';
import { cut } from './table.js';

/** `s` safe inside a Markdown table cell or paragraph. */
export function md(s: string): string {
  return printable(s, 2000).replace(/[\\`*_[\]<>|#~&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : `\\${c}`));
}

export function renderMarkdown(entries: readonly ListEntry[], run: RunInfo): string {
  const t = tally(entries);
  const out = [
    '# tracker-check report',
    '',
    `Run on ${md(run.host)} at ${md(run.startedAt)} by sixswarm ${md(run.version)}, ${duration(run.elapsedMs)}${run.interrupted ? ' (interrupted: the trackers not reached are listed as not checked)' : ''}. Options: ${md(run.options)}.`,
    '',
    `**${tallyText(t)}.**`,
    '',
    '| verdict | tracker | IPv4 | IPv6 | BEP 34 | time |',
    '| --- | --- | --- | --- | --- | --- |',
    ...sortedRows(entries).map((r) => `| ${r.standing === 'fail' ? `fail (${r.failures})` : r.standing} | ${md(r.url)}${r.note ? ` (${md(r.note)})` : ''} | ${md(r.families[4])} | ${md(r.families[6])} | ${r.bep34} | ${duration(r.elapsedMs)} |`),
    '',
  ];
  for (const e of entries) if ('report' in e) out.push(...section(e.report));
  return `${out.join('\n')}\n`;
}

function section(r: TrackerReport): string[] {
  const out = [
    `## ${md(r.url)}`,
    '',
    `${r.protocol.toUpperCase()}, info hash ${r.infoHash}, ${r.requests} requests, ${duration(r.elapsedMs)}${r.cut ? `; cut short: ${md(r.cut)}` : ''}.`,
    '',
    ...r.families.map((s) => `- IPv${s.family}: ${md(s.text)}`),
    `- BEP 34 (DNS TXT): ${r.bep34.verdict}, ${md(r.bep34.evidence)}`,
    '',
    `| check | ${r.columns.map((c) => md(c.label)).join(' | ')} |`,
    `| --- |${r.columns.map(() => ' --- |').join('')}`,
    ...r.rows.map((row) => `| ${md(row.title)} | ${row.cells.map((c) => `${c.verdict === 'fail' ? '**fail**' : c.verdict}: ${md(cut(c.evidence, 300))}`).join(' | ')} |`),
    '',
  ];
  const problems = r.rows.flatMap((row) => row.cells.flatMap((c, i) => (c.verdict === 'fail' ? [`- **${md(row.title)}, ${md(r.columns[i]!.label)}**: ${md(c.evidence)}  \n  Fix: ${md(c.fix ?? '')}`] : [])));
  if (r.bep34.verdict === 'fail') problems.push(`- **BEP 34 (DNS TXT)**: ${md(r.bep34.evidence)}  \n  Fix: ${md(r.bep34.fix ?? '')}`);
  if (problems.length > 0) out.push('Problems and fixes:', '', ...problems, '');
  return out;
}
