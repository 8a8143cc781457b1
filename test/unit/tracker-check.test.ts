/**
 * tracker-check's pure layers in memory: BEP 34 records, the list format, the summary's order
 * and filters, and the Markdown and HTML reports given text a hostile tracker or list chose
 * (markup, table pipes, control characters) - it must come out as text, never as markup.
 */
import { describe, expect, it } from 'vitest';
import { parseBep34 } from '../../src/tracker/bep34.js';
import { renderHtml } from '../../src/tracker-check/html.js';
import { parseList } from '../../src/tracker-check/list.js';
import { renderMarkdown } from '../../src/tracker-check/markdown.js';
import type { Cell, CheckRow, TrackerReport } from '../../src/tracker-check/report.js';
import { filtered, sortedRows, type ListEntry, type RunInfo } from '../../src/tracker-check/summary.js';
import { renderSummaryText } from '../../src/tracker-check/table.js';

describe('BEP 34 records', () => {
  it('ports and protocols in order, DENY, and what is no record or a malformed one', () => {
    expect(parseBep34('BITTORRENT UDP:1234 TCP:80')).toEqual({ deny: false, entries: [{ protocol: 'udp', port: 1234 }, { protocol: 'tcp', port: 80 }] });
    expect(parseBep34('bittorrent  tcp:6969')).toEqual({ deny: false, entries: [{ protocol: 'tcp', port: 6969 }] });
    expect(parseBep34('BITTORRENT DENY')).toEqual({ deny: true });
    expect(parseBep34('BITTORRENT')).toEqual({ deny: true });
    expect(parseBep34('v=spf1 -all')).toBeUndefined();
    expect(parseBep34('BITTORRENTX UDP:1')).toBeUndefined();
    for (const bad of ['BITTORRENT UDP:0', 'BITTORRENT UDP:65536', 'BITTORRENT SCTP:80', 'BITTORRENT UDP:80 DENY', 'BITTORRENT UDP:-1']) {
      expect(parseBep34(bad), bad).toBeInstanceOf(Error);
    }
    expect((parseBep34('BITTORRENT UDP:\u001b[2J') as Error).message).toBe('"UDP:\\x1b[2J" is neither UDP:port, TCP:port nor DENY');
  });
});

describe('tracker lists', () => {
  it('the public lists\' format: blank lines, comments, CRLF; duplicates dropped; bad lines named by number', () => {
    const text = [
      '# best trackers',
      'udp://tracker.example:1337/announce',
      '',
      'http://tracker.example:80/announce # the HTTP one',
      '\thttps://t.example/announce  ',
      'udp://tracker.example:1337/announce',
      'udp://noport.example',
      'tracker.example:6969',
      'http://a.example/announce http://b.example/announce',
      'ftp://x.example/',
    ].join('\r\n');
    const l = parseList(text, 'list.txt');
    expect(l.urls.map((u) => u.text)).toEqual(['udp://tracker.example:1337/announce', 'http://tracker.example:80/announce', 'https://t.example/announce']);
    expect(l.duplicates).toBe(1);
    expect(l.bad).toEqual([
      'list.txt:7: udp://noport.example: UDP tracker URL udp://noport.example has no port',
      expect.stringMatching(/^list\.txt:8: tracker\.example:6969: /),
      'list.txt:9: http://a.example/announce http://b.example/announce: one URL a line',
      expect.stringMatching(/^list\.txt:10: ftp:\/\/x\.example\/: unsupported tracker protocol "ftp:"/),
    ]);
  });
});

const cell = (verdict: Cell['verdict'], evidence: string, fix?: string): Cell => ({ verdict, evidence, ...(fix ? { fix } : {}) });

/** A report with one column per family, `id` failing over IPv6 with `evidence` when given. */
function report(url: string, opts: { failing?: { evidence: string; fix: string }; dead?: boolean } = {}): TrackerReport {
  const ok = !opts.failing && !opts.dead;
  const rows: CheckRow[] = [
    { id: 'reachable', title: 'reachable', cells: opts.dead ? [cell('fail', 'connection refused', 'listen'), cell('fail', 'connection refused', 'listen')] : [cell('pass', 'HTTP reply'), cell('pass', 'HTTP reply')] },
    { id: 'peers', title: 'peers / peers6 returned', cells: [cell(opts.dead ? 'skipped' : 'pass', 'seed listed'), opts.failing ? cell('fail', opts.failing.evidence, opts.failing.fix) : cell(opts.dead ? 'skipped' : 'pass', 'seed listed')] },
  ];
  const fails6 = opts.failing ? 1 : opts.dead ? 1 : 0;
  return {
    type: 'tracker-check',
    url,
    protocol: 'http',
    infoHash: '00'.repeat(20),
    columns: [{ family: 4, address: '192.0.2.1', label: 'IPv4' }, { family: 6, address: '2001:db8::1', label: 'IPv6' }],
    rows,
    families: [
      { family: 4, verdict: opts.dead ? 'fail' : 'pass', addresses: 1, probed: 1, answering: opts.dead ? 0 : 1, failures: opts.dead ? 1 : 0, text: 'the A address answers; no check failed' },
      { family: 6, verdict: fails6 ? 'fail' : 'pass', addresses: 1, probed: 1, answering: opts.dead ? 0 : 1, failures: fails6, text: 'the AAAA address answers' },
    ],
    bep34: { verdict: 'n/a', evidence: 'no BITTORRENT TXT record (BEP 34 is optional)', records: [] },
    requests: 10,
    elapsedMs: 1234,
    ok,
  };
}

const RUN: RunInfo = { host: 'checker<b>', startedAt: '2026-01-01T00:00:00.000Z', elapsedMs: 5000, version: '0.1.0', options: '--timeout 5' };

describe('summary, filters and reports', () => {
  const hostile = { evidence: '<script>alert(1)</script> | **bold** `code` \u001b[31m', fix: 'do <b>this</b> | that' };
  const entries: ListEntry[] = [
    { url: 'http://dead.example/announce', report: report('http://dead.example/announce', { dead: true }) },
    { url: 'http://x.example/announce?a=1&b="><img src=x onerror=alert(1)>|', report: report('http://x.example/announce?a=1&b="><img src=x onerror=alert(1)>|', { failing: hostile }) },
    { url: 'udp://late.example:1', notChecked: "the run's 60 s bound ran out before its turn" },
    { url: 'http://good.example/announce', report: report('http://good.example/announce') },
  ];

  it('sorted by verdict (pass, fail, dead, not checked); the filters pick URLs in list order', () => {
    expect(sortedRows(entries).map((r) => r.standing)).toEqual(['pass', 'fail', 'dead', 'not checked']);
    expect(filtered(entries, 'ipv6-ok')).toEqual(['http://good.example/announce']);
    expect(filtered(entries, 'failing')).toEqual([entries[0]!.url, entries[1]!.url]);
    const text = renderSummaryText(entries);
    expect(text.split('\n')[0]).toMatch(/^verdict +IPv4 +IPv6 +BEP 34 +time +tracker$/);
    expect(text).toContain("udp://late.example:1  (the run's 60 s bound ran out before its turn)");
    expect(text).toContain('4 trackers: 1 pass, 1 with failures, 1 dead, 1 not checked; 1 does IPv6 right');
  });

  it('HTML: text from trackers and lists stays text (no tag, no attribute escapes), control characters shown', () => {
    const html = renderHtml(entries, RUN);
    expect(html).not.toMatch(/<script|<img|checker<b>|<b>this|onerror=alert\(1\)>/);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).toContain('\\x1b[31m');
    expect(html).toContain('title="&#60;script&#62;');
    expect(html).toContain('Run on <b>checker&#60;b&#62;</b>');
    // Only the page's own markup: every tag is one the renderer writes.
    const tags = new Set([...html.matchAll(/<\/?([a-z0-9]+)/g)].map((m) => m[1]));
    expect([...tags].sort()).toEqual(['a', 'b', 'body', 'code', 'details', 'div', 'h1', 'h2', 'head', 'html', 'li', 'meta', 'p', 'section', 'small', 'style', 'summary', 'table', 'tbody', 'td', 'th', 'thead', 'time', 'title', 'tr', 'ul'].sort());
  });

  it('Markdown: pipes, emphasis, code and tags from trackers are escaped; each table row keeps its columns', () => {
    const md = renderMarkdown(entries, RUN);
    expect(md).not.toMatch(/<script|<img|<b>/);
    const unescapedPipes = (line: string) => line.replace(/\\\|/g, '').split('|').length - 1;
    const summary = md.split('\n').filter((l) => /^\| (pass|fail|dead|not checked)/.test(l));
    expect(summary).toHaveLength(4);
    for (const l of summary) expect(unescapedPipes(l), l).toBe(7);
    const matrix = md.split('\n').filter((l) => l.startsWith('| peers / peers6 returned'));
    expect(matrix).toHaveLength(3);
    for (const l of matrix) expect(unescapedPipes(l), l).toBe(4);
    expect(md).toContain('\\*\\*bold\\*\\* \\`code\\`');
    expect(md).toContain('&lt;script&gt;alert(1)&lt;/script&gt; \\| ');
    expect(md).toContain('Fix: do &lt;b&gt;this&lt;/b&gt; \\| that');
  });
});
