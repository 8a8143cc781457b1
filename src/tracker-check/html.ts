/**
 * A run as one self-contained HTML page to publish: no scripts, no external assets (styles
 * inline), when and where it ran, the summary table (best first, each tracker linked to its
 * section), and each tracker's matrix: a cell shows its verdict, its evidence on hover (title)
 * and, opened, its evidence and fix. Every text from a tracker or a list is escaped.
 */
import { printable } from '../util/sanitize.js';
import type { Cell, TrackerReport } from './report.js';
import { duration, sortedRows, tally, tallyText, type ListEntry, type RunInfo } from './summary.js';

/** `s` safe as HTML text or inside a double- or single-quoted attribute. */
export function esc(s: string): string {
  return printable(s, 2000).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const verdictClass = (v: string) => `v-${v.replace(/[^a-z]/g, '')}`;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; word-break: break-all; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.url { font-family: ui-monospace, monospace; word-break: break-all; }
.v-pass { background: #e3f5e1; } .v-fail { background: #fbe0de; } .v-policy { background: #e2eefb; }
.v-na { background: #f4f4f4; color: #666; } .v-skipped { background: #fdf6d8; }
.v-dead { background: #f0d0d0; } .v-notchecked { background: #eee; }
details > summary { cursor: pointer; font-weight: 600; }
details .evidence { margin-top: .25em; max-width: 28em; }
details .fix { margin-top: .25em; max-width: 28em; font-style: italic; }
ul.families { margin: .25em 0; }
`;

export function renderHtml(entries: readonly ListEntry[], run: RunInfo): string {
  const t = tally(entries);
  const ids = new Map(entries.map((e, i) => [e.url, `t${i + 1}`]));
  const rows = sortedRows(entries).map((r) => {
    const label = r.standing === 'fail' ? `fail (${r.failures})` : r.standing;
    const link = 'notChecked' in (entries.find((e) => e.url === r.url) ?? {}) ? esc(r.url) : `<a href="#${ids.get(r.url)}">${esc(r.url)}</a>`;
    return `<tr><td class="${verdictClass(r.standing)}">${esc(label)}</td><td class="url">${link}${r.note ? ` <small>(${esc(r.note)})</small>` : ''}</td><td>${esc(r.families[4])}</td><td>${esc(r.families[6])}</td><td>${esc(r.bep34)}</td><td>${duration(r.elapsedMs)}</td></tr>`;
  });
  const sections = entries.flatMap((e) => ('report' in e ? [section(e.report, ids.get(e.url)!)] : []));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tracker-check report, ${esc(run.startedAt)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>tracker-check report</h1>
<p class="run">Run on <b>${esc(run.host)}</b> at <time datetime="${esc(run.startedAt)}">${esc(run.startedAt)}</time> by sixswarm ${esc(run.version)}, ${duration(run.elapsedMs)}${run.interrupted ? ' (interrupted: the trackers not reached are listed as not checked)' : ''}. Options: <code>${esc(run.options)}</code>.</p>
<p class="tally"><b>${esc(tallyText(t))}.</b> Open a cell of a tracker's matrix (or hover over it) for its evidence and the fix.</p>
<table class="summary">
<thead><tr><th>verdict</th><th>tracker</th><th>IPv4</th><th>IPv6</th><th>BEP 34</th><th>time</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
${sections.join('\n')}
</body>
</html>
`;
}

function cellHtml(c: Cell): string {
  const fix = c.fix ? `<div class="fix">Fix: ${esc(c.fix)}</div>` : '';
  return `<td class="${verdictClass(c.verdict)}" title="${esc(c.evidence)}"><details><summary>${esc(c.verdict)}</summary><div class="evidence">${esc(c.evidence)}</div>${fix}</details></td>`;
}

function section(r: TrackerReport, id: string): string {
  const head = `<tr><th>check</th>${r.columns.map((c) => `<th>${esc(c.label)}</th>`).join('')}</tr>`;
  const body = r.rows.map((row) => `<tr><th scope="row">${esc(row.title)}</th>${row.cells.map(cellHtml).join('')}</tr>`);
  const bep34 = `<tr><th scope="row">BEP 34 (DNS TXT)</th>${cellHtml(r.bep34).replace('<td ', `<td colspan="${r.columns.length}" `)}</tr>`;
  return `<section id="${id}">
<h2>${esc(r.url)}</h2>
<p>${r.protocol.toUpperCase()}, info hash <code>${r.infoHash}</code>, ${r.requests} requests, ${duration(r.elapsedMs)}${r.cut ? `; cut short: ${esc(r.cut)}` : ''}.</p>
<ul class="families">${r.families.map((s) => `<li class="${verdictClass(s.verdict)}">IPv${s.family}: ${esc(s.text)}</li>`).join('')}</ul>
<table class="matrix">
<thead>${head}</thead>
<tbody>
${body.join('\n')}
${bep34}
</tbody>
</table>
</section>`;
}
