/**
 * tracker-check over whole lists, as the people who keep public tracker lists use it: a list of
 * 50 trackers on loopback (sound ones, slow ones, dead ones, hostile ones; the built-in tracker,
 * opentracker and the fault trackers of test/support/fault-tracker.ts) checked concurrently
 * within a total bound, reported as one HTML page that headless Chromium opens and reads back
 * (every row right, evidence there when a cell is opened, no request leaves the page); Markdown
 * checked by content; the URL filters; the total bound cutting a list short; Ctrl-C printing
 * what is done (every peer stopped); the progress bar on a terminal.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape } from '../../src/tracker/scrape.js';
import type { TrackerReport } from '../../src/tracker-check/report.js';
import {
  acceptsLinkLocal, answersGarbage, ignoresStopped, neverAnswers, noPeers6, repliesFromAnotherPort, sixByteEntriesOverIpv6, slow,
  slowRedirectLoop, startFaultTracker, threeByteReplies, wrongTransactionId, type Fault, type FaultTracker,
} from '../support/fault-tracker.js';
import { privateHosts } from '../support/hosts.js';
import { netnsUnavailable } from '../support/netns.js';
import { startOpentracker, type Opentracker } from '../support/opentracker.js';
import { builtInTracker, CLI, ensureBuilt, freePort, removeDir, sixswarm, stopAll, tempDir } from '../support/sixswarm.js';
import { failing, runCheck, show } from '../support/tracker-check.js';

const unavailable = netnsUnavailable(); // root, for the private /etc/hosts
const faults: FaultTracker[] = [];
let ot: Opentracker | undefined;
let dir = '';
let wrap: string[] = [];

/** What each listed URL must get: its standing and its failing cells ("id@family"). */
interface Expected {
  url: string;
  standing: 'pass' | 'fail' | 'dead';
  failing: string[];
}
const expected: Expected[] = [];

async function fault(f: Fault): Promise<number> {
  const t = await startFaultTracker(f);
  faults.push(t);
  return t.port;
}

/** A UDP port nothing listens on (bound, then closed). */
async function closedUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const both = (id: string) => [`${id}@4`, `${id}@6`];

beforeAll(async () => {
  ensureBuilt();
  if (unavailable) return;
  dir = await tempDir('sixswarm-tcl-');
  wrap = await privateHosts(dir, ['127.0.0.1 dual.test', '::1 dual.test']);
  const add = (url: string, standing: Expected['standing'], fails: string[] = []) => expected.push({ url, standing, failing: fails });

  // Sound trackers: 8 behind the transparent proxy over both families by name (HTTP and UDP), 5 by literal.
  for (let i = 0; i < 8; i++) {
    const p = await fault({});
    add(`http://dual.test:${p}/announce`, 'pass');
    add(`udp://dual.test:${p}`, 'pass');
    if (i < 5) add(i % 2 ? `http://127.0.0.1:${p}/announce` : `udp://[::1]:${p}`, 'pass');
  }
  // Slow but sound: 0.4 s a reply.
  for (let i = 0; i < 2; i++) {
    const p = await fault(slow(400));
    add(`http://dual.test:${p}/announce`, 'pass');
    add(`udp://dual.test:${p}`, 'pass');
  }
  // The built-in tracker (a process of its own), by name.
  const own = await builtInTracker(['--bind', '127.0.0.1', '--bind', '::1']);
  add(`http://dual.test:${own.port}/announce`, 'pass');
  add(`udp://dual.test:${own.port}`, 'pass');
  // Hostile or broken, one fault each.
  let p = await fault(answersGarbage);
  add(`http://dual.test:${p}/announce`, 'fail', both('announce'));
  add(`udp://dual.test:${p}`, 'fail', both('announce'));
  add(`udp://dual.test:${await fault(wrongTransactionId)}`, 'dead', both('reachable'));
  add(`udp://dual.test:${await fault(threeByteReplies)}`, 'dead', both('reachable'));
  add(`udp://dual.test:${await fault(repliesFromAnotherPort)}`, 'fail', both('reply-source'));
  add(`http://dual.test:${await fault(slowRedirectLoop(1200))}/announce`, 'dead', both('reachable'));
  add(`http://dual.test:${await fault(noPeers6)}/announce`, 'fail', ['peers@6']);
  p = await fault(ignoresStopped);
  add(`http://dual.test:${p}/announce`, 'fail', both('stopped'));
  add(`udp://dual.test:${p}`, 'fail', both('stopped'));
  add(`http://dual.test:${await fault(acceptsLinkLocal())}/announce`, 'fail', both('link-local'));
  add(`udp://dual.test:${await fault(sixByteEntriesOverIpv6)}`, 'fail', ['udp-entries@6', 'peers@6']);
  // Dead: silent (timeouts), and nothing listening (refused).
  p = await fault(neverAnswers);
  add(`http://dual.test:${p}/announce`, 'dead', both('reachable'));
  add(`udp://dual.test:${p}`, 'dead', both('reachable'));
  // Four distinct ports of each kind: a port handed out twice would make two lines one tracker.
  const unused = async (next: () => Promise<number>, taken: Set<number>) => {
    for (;;) {
      const port = await next();
      if (!taken.has(port)) return taken.add(port), port;
    }
  };
  const [tcpTaken, udpTaken] = [new Set<number>(), new Set<number>()];
  for (let i = 0; i < 4; i++) {
    add(`http://dual.test:${await unused(freePort, tcpTaken)}/announce`, 'dead', both('reachable'));
    add(`udp://dual.test:${await unused(closedUdpPort, udpTaken)}`, 'dead', both('reachable'));
  }
  // opentracker (IPv4 only, whitelist): a random hash is refused.
  ot = await startOpentracker(join(dir), []);
  add(`http://127.0.0.1:${ot.port}/announce`, 'fail', ['announce@4']);
  add(`udp://127.0.0.1:${ot.port}`, 'fail', ['announce@4']);
  if (expected.length !== 50) throw new Error(`the list has ${expected.length} trackers, not 50`);
}, 120_000);

afterAll(async () => {
  await ot?.stop();
  for (const f of faults) await f.close();
  await stopAll();
  await removeDir(dir || undefined);
});

/** The list as the public lists write it: URLs with blank lines between, comments, a duplicate and a bad line. */
function listText(urls: string[]): string {
  return [
    '# trackers to check, one a line',
    '',
    ...urls.flatMap((u, i) => (i === 3 ? [u, '', `${u}   # listed twice`] : [u, ''])),
    'tracker.example.org:6969',
    '',
  ].join('\n');
}

describe.skipIf(unavailable !== undefined)('tracker-check over a list of 50 trackers', () => {
  it('an HTML report within the total bound, every row right, read back from headless Chromium', async () => {
    const file = join(dir, 'trackers.txt');
    await writeFile(file, listText(expected.map((e) => e.url)));
    const bound = 30;
    const t0 = Date.now();
    // --timeout 3: sound trackers on a loaded two-core machine must never look dead.
    const html = sixswarm(['tracker-check', '--list', file, '--format', 'html', '--timeout', '3', '--parallel', '16', '--total-timeout', String(bound)], { wrap, label: 'tracker-check' });
    const code = await html.exitCode(bound * 1000 + 20_000);
    const wall = Date.now() - t0;
    console.info(`[tracker-check-list] 50 trackers, --parallel 16, --timeout 3: ${wall} ms (total bound ${bound} s)`);
    expect(wall).toBeLessThan(bound * 1000);
    expect(code, html.stderr).toBe(1);
    expect(html.stderr).toContain('skipped trackers.txt:'.replace('trackers.txt', file));
    expect(html.stderr).toMatch(/tracker\.example\.org:6969: "tracker\.example\.org:6969" is not a URL|unsupported tracker protocol/);
    const page = join(dir, 'report.html');
    await writeFile(page, html.stdoutRaw);

    // Self-contained: nothing but the page itself is ever asked for.
    expect(html.stdoutRaw).not.toMatch(/<script|<link|src=|@import|url\(/i);
    const browser = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const tab = browser.pages()[0] ?? (await browser.newPage());
      const requests: string[] = [];
      tab.on('request', (r) => requests.push(r.url()));
      await tab.goto(`file://${page}`);
      const text = await tab.innerText('body');
      expect(text).toMatch(/^tracker-check report$/m);
      expect(text).toMatch(/Run on \S+ at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z by sixswarm /);
      expect(text).toContain('Options: --family both --timeout 3 ');
      const count = (s: Expected['standing']) => expected.filter((e) => e.standing === s).length;
      expect(text).toContain(`50 trackers: ${count('pass')} pass, ${count('fail')} with failures, ${count('dead')} dead; `);

      // The summary table: one row per tracker, sorted by verdict, each right.
      const rows = await tab.$$eval('table.summary tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td as HTMLElement).innerText.trim())));
      expect(rows).toHaveLength(50);
      const rank = { pass: 0, fail: 1, dead: 2 } as const;
      const standings = rows.map((r) => r[0]!.replace(/ \(\d+\)$/, '') as keyof typeof rank);
      expect([...standings].sort((a, b) => rank[a] - rank[b])).toEqual(standings);
      for (const e of expected) {
        const row = rows.find((r) => r[1] === e.url);
        expect(row, e.url).toBeDefined();
        expect(row![0]!.replace(/ \(\d+\)$/, ''), `${e.url}: ${row!.join(' | ')}`).toBe(e.standing);
      }

      // Each tracker's matrix: the failing cells are exactly the expected ones.
      const sections = await tab.$$eval('section', (ss) => ss.map((s) => {
        const labels = [...s.querySelectorAll('table.matrix thead th')].slice(1).map((th) => (th as HTMLElement).innerText.trim());
        const failed: string[] = [];
        for (const tr of s.querySelectorAll('table.matrix tbody tr')) {
          const title = (tr.querySelector('th') as HTMLElement).innerText.trim();
          tr.querySelectorAll('td').forEach((td, i) => {
            if (td.classList.contains('v-fail')) failed.push(`${title}@${labels[i] ?? 'all'}`);
          });
        }
        return { url: (s.querySelector('h2') as HTMLElement).innerText.trim(), failed };
      }));
      expect(sections).toHaveLength(50);
      const titles: Record<string, string> = {
        announce: 'announce accepted', reachable: 'reachable', 'reply-source': 'UDP: replies from that address', peers: 'peers / peers6 returned',
        stopped: 'stopped removes our peers', 'link-local': 'link-local ipv6=/ipv4= refused', 'udp-entries': 'UDP: 18-byte IPv6 entries',
      };
      for (const e of expected) {
        const s = sections.find((x) => x.url === e.url)!;
        const want = e.failing.map((f) => {
          const [id, fam] = f.split('@') as [string, string];
          return `${titles[id]}@IPv${fam}`;
        });
        expect(s.failed.sort(), e.url).toEqual(want.sort());
      }

      // Evidence: in a cell's title (hover) and, once the cell is opened, on the page.
      const silent = expected.find((e) => e.url.startsWith('udp://') && e.failing.includes('reachable@4') && faults.some((f) => e.url.endsWith(`:${f.port}`)))!;
      const cell = tab.locator(`section:has(h2:text-is("${silent.url}")) table.matrix tbody tr:has(th:text-is("reachable")) td`).first();
      expect(await cell.getAttribute('title')).toMatch(/^no reply|^no reply to the connect request/);
      expect(await cell.innerText()).toBe('fail');
      await cell.locator('summary').click();
      expect(await cell.innerText()).toMatch(/^fail\n(no reply|no reply to the connect request)[^\n]*\nFix: /);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 200_000);

  it('markdown by content; --only-ipv6-ok and --only-failing print the URLs', async () => {
    const pick = [expected[0]!, expected.find((e) => e.failing.includes('peers@6'))!, expected.find((e) => e.standing === 'dead' && e.url.startsWith('http'))!];
    const file = join(dir, 'three.txt');
    await writeFile(file, listText(pick.map((e) => e.url)));
    const both = await runCheck(['--list', file, '--format', 'markdown'], wrap);
    expect(both.code).toBe(2); // runCheck gives --json: two formats at once are refused, plainly
    expect(both.stderr).toContain('--json and --format markdown contradict each other');
    const p = sixswarm(['tracker-check', '--list', file, '--format', 'markdown', '--timeout', '2'], { wrap, label: 'tracker-check' });
    expect(await p.exitCode(60_000), p.stderr).toBe(1);
    const text = p.stdoutRaw;
    expect(text).toMatch(/^# tracker-check report$/m);
    expect(text).toMatch(/^Run on .+ at \d{4}-\d\d-\d\dT[\d:.]+Z by sixswarm [\d.]+, [\d.]+ m?s\. Options: --family both --timeout 2 /m);
    expect(text).toContain('**3 trackers: 1 pass, 1 with failures, 1 dead; ');
    expect(text).toMatch(/^\| verdict \| tracker \| IPv4 \| IPv6 \| BEP 34 \| time \|$/m);
    const summary = text.split('\n').filter((l) => /^\| (pass|fail|dead)/.test(l));
    expect(summary.map((l) => l.split(' | ')[0])).toEqual(['| pass', '| fail (1)', '| dead']);
    expect(summary[1]).toContain(`| ${pick[1]!.url} |`);
    expect(text).toContain(`\n## ${pick[1]!.url}\n`);
    expect(text).toMatch(/^\| peers \/ peers6 returned \| pass: peers lists the seed \(\d+ entries\) \| \*\*fail\*\*: no peers6 in the reply to an IPv6 announcer \|$/m);
    expect(text).toMatch(/^- \*\*peers \/ peers6 returned, IPv6\*\*: no peers6 in the reply to an IPv6 announcer {2}$/m);
    expect(text).toMatch(/^ {2}Fix: send IPv6 peers as compact "peers6"/m);
    expect(text).toContain('- BEP 34 (DNS TXT): skipped, no TXT answer:');

    const ok = sixswarm(['tracker-check', '--list', file, '--only-ipv6-ok', '--timeout', '2'], { wrap, label: 'tracker-check' });
    expect(await ok.exitCode(60_000)).toBe(1);
    expect(ok.stdoutRaw).toBe(`${pick[0]!.url}\n`);
    const bad = sixswarm(['tracker-check', '--list', file, '--only-failing', '--timeout', '2'], { wrap, label: 'tracker-check' });
    expect(await bad.exitCode(60_000)).toBe(1);
    expect(bad.stdoutRaw).toBe(`${pick[1]!.url}\n${pick[2]!.url}\n`);
    // From standard input too.
    const stdin = spawn('sh', ['-c', `${wrap.map((a) => `'${a}'`).join(' ')} "${process.execPath}" "${CLI}" tracker-check --list - --only-ipv6-ok --timeout 2 < "${file}"`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    stdin.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => stdin.on('exit', r));
    expect(out).toBe(`${pick[0]!.url}\n`);
  }, 120_000);

  it('the total bound: trackers whose turn comes too late are reported as not checked, and the run ends in time', async () => {
    const silent: string[] = [];
    for (let i = 0; i < 6; i++) silent.push(`udp://dual.test:${await fault(neverAnswers)}`);
    const file = join(dir, 'late.txt');
    await writeFile(file, listText(silent));
    const t0 = Date.now();
    const { code, reports, stdout } = await runCheck(['--list', file, '--timeout', '1', '--parallel', '2', '--total-timeout', '3'], wrap);
    const wall = Date.now() - t0;
    console.info(`[tracker-check-list] total bound 3 s, 6 silent trackers, --parallel 2: ${wall} ms, ${reports.length} checked`);
    expect(code).toBe(1);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { notChecked: number; rows: { url: string; standing: string; note?: string }[] };
    expect(summary.notChecked).toBeGreaterThanOrEqual(2);
    expect(summary.rows.filter((r) => r.standing === 'not checked').every((r) => r.note === "the run's 3 s bound ran out before its turn")).toBe(true);
    expect(reports.length + summary.notChecked).toBe(6);
    expect(wall).toBeLessThan(3000 + 2500); // the bound, plus starting the process
  });

  it('Ctrl-C prints what is done so far and stops every peer announced', async () => {
    const slowOnes: number[] = [];
    for (let i = 0; i < 6; i++) slowOnes.push(await fault(slow(600)));
    const file = join(dir, 'slow.txt');
    await writeFile(file, listText(slowOnes.map((p) => `http://dual.test:${p}/announce`)));
    const p = sixswarm(['tracker-check', '--list', file, '--json', '--timeout', '3', '--parallel', '3'], { wrap, label: 'tracker-check' });
    await new Promise((r) => setTimeout(r, 2500));
    p.kill('SIGINT');
    expect(await p.exitCode(30_000)).toBe(130);
    expect(p.stderr).toContain('interrupted: stopping the peers announced so far, then printing what is done');
    const events = p.events as unknown as ({ type: 'tracker-check-summary'; interrupted?: boolean; notChecked: number; rows: { standing: string; note?: string }[] } | TrackerReport)[];
    const summary = events.find((e) => e.type === 'tracker-check-summary') as Extract<(typeof events)[number], { type: 'tracker-check-summary' }>;
    const done = events.filter((e): e is TrackerReport => e.type === 'tracker-check');
    expect(summary.interrupted).toBe(true);
    expect(summary.rows).toHaveLength(6);
    expect(summary.notChecked).toBe(3);
    expect(done).toHaveLength(3);
    for (const r of done) {
      expect(r.cut, show(r)).toMatch(/^interrupted while /);
      expect(failing(r), show(r)).toEqual([]);
      // Every peer it announced was stopped on the way out.
      const port = new URL(r.url).port;
      const counts = await scrape(`http://127.0.0.1:${port}/announce`, [Buffer.from(r.infoHash, 'hex')], { timeoutMs: 3000 });
      expect(counts.get(r.infoHash) ?? { complete: 0, incomplete: 0 }, r.url).toMatchObject({ complete: 0, incomplete: 0 });
    }
  }, 60_000);

  it('on a terminal: a progress bar while the list runs, then the summary sorted by verdict', async () => {
    const few = [expected[0]!, expected.find((e) => e.standing === 'dead')!, expected.find((e) => e.standing === 'fail')!];
    const file = join(dir, 'few.txt');
    await writeFile(file, listText(few.map((e) => e.url)));
    const cmd = `stty cols 120 rows 40; exec ${wrap.map((a) => `'${a}'`).join(' ')} "${process.execPath}" "${CLI}" tracker-check --list "${file}" --timeout 2`;
    const text = await new Promise<string>((resolve) => {
      const s = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, TERM: 'xterm-256color' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let t = '';
      s.stdout.on('data', (d: Buffer) => (t += d.toString()));
      s.on('exit', () => resolve(t));
    });
    const plain = text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
    expect(plain).toMatch(/\[[#-]{10,40}\] [0-3]\/3 trackers, \d running, \d+ s/);
    expect(plain).toMatch(/checking \S+: (resolving|announcing a seed|starting)/);
    const tail = plain.slice(plain.lastIndexOf('verdict'));
    const lines = tail.split(/\r?\n/).filter((l) => /^(pass|fail|dead)/.test(l));
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(['pass', 'fail', 'dead']);
    expect(tail).toContain('3 trackers: 1 pass, 1 with failures, 1 dead;');
    await readFile(file); // the list is left as it was
  }, 60_000);
});
