/**
 * `sixswarm tracker-check` against the built-in tracker (HTTP and UDP on 127.0.0.1 and ::1): the
 * checker runs under a private /etc/hosts in which `dual.test` has an A and an AAAA record, so
 * both families and the cross-family checks run. Everything applicable passes; nothing is left
 * behind in the tracker; the output modes and the usage errors behave.
 */
import { spawn } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../src/net/address.js';
import { scrape } from '../../src/tracker/scrape.js';
import { privateHosts } from '../support/hosts.js';
import { netnsUnavailable } from '../support/netns.js';
import { builtInTracker, CLI, ensureBuilt, removeDir, runCli, stopAll, tempDir } from '../support/sixswarm.js';
import { BUILT_IN_HTTP, BUILT_IN_UDP, cellOf, failing, matrix, own, runCheck, show } from '../support/tracker-check.js';

const unavailable = netnsUnavailable(); // root, for the private /etc/hosts
let dir: string | undefined;
beforeAll(ensureBuilt);
afterEach(async () => {
  await stopAll();
  await removeDir(dir);
  dir = undefined;
});

describe.skipIf(unavailable !== undefined)('tracker-check against the built-in tracker', () => {
  it('HTTP and UDP over both families: every applicable check passes, and nothing is left behind', async () => {
    dir = await tempDir('sixswarm-tc-');
    const wrap = await privateHosts(dir, ['127.0.0.1 dual.test', '::1 dual.test']);
    const tracker = await builtInTracker(['--bind', '127.0.0.1', '--bind', '::1', '--honor-ip-params']);
    const urls = [`http://dual.test:${tracker.port}/announce`, `udp://dual.test:${tracker.port}`];
    const t0 = Date.now();
    const { code, reports, stderr } = await runCheck(urls, wrap);
    console.info(`[tracker-check] built-in tracker, HTTP + UDP, both families: ${Date.now() - t0} ms, ${reports.map((r) => r.requests).join(' + ')} requests`);
    expect(reports, stderr).toHaveLength(2);
    const [h, u] = reports as [NonNullable<(typeof reports)[0]>, NonNullable<(typeof reports)[0]>];
    expect(matrix(h), show(h)).toEqual(BUILT_IN_HTTP);
    expect(matrix(u), show(u)).toEqual(BUILT_IN_UDP);
    expect(code).toBe(0);
    for (const r of reports) {
      expect(r.ok).toBe(true);
      expect(r.requests).toBeLessThanOrEqual(40);
    }

    // Litter nothing: every peer id the tracker heard from ended with stopped ...
    const announces = tracker.proc.events.filter((e) => e.type === 'announce') as unknown as { peerId: string; event?: string; claimed: Record<string, string>; infoHash: string }[];
    expect(announces.length).toBeGreaterThan(10);
    const last = new Map<string, string | undefined>();
    for (const a of announces) last.set(a.peerId, a.event);
    expect([...last.values()].every((e) => e === 'stopped'), JSON.stringify(announces)).toBe(true);
    // ... only on the check's own random hashes ...
    expect(new Set(announces.map((a) => a.infoHash))).toEqual(new Set(reports.map((r) => r.infoHash)));
    // ... and no address but our own (or the link-local litter probe) was ever claimed.
    for (const a of announces) {
      for (const [f, addr] of Object.entries(a.claimed)) {
        expect(addr === own[Number(f) as 4 | 6] || classify(addr)?.kind === 'link-local', `claimed ${addr}`).toBe(true);
      }
    }
    for (const r of reports) {
      const counts = await scrape(`http://127.0.0.1:${tracker.port}/announce`, [Buffer.from(r.infoHash, 'hex')], { timeoutMs: 3000 });
      expect(counts.get(r.infoHash)).toMatchObject({ complete: 0, incomplete: 0 });
    }
  });

  it('--family 6 checks IPv6 only; the IPv4 column says why it was skipped', async () => {
    dir = await tempDir('sixswarm-tc-');
    const wrap = await privateHosts(dir, ['127.0.0.1 dual.test', '::1 dual.test']);
    const tracker = await builtInTracker(['--bind', '127.0.0.1', '--bind', '::1']);
    const { code, reports } = await runCheck([`http://dual.test:${tracker.port}/announce`, '--family', '6'], wrap);
    const r = reports[0]!;
    expect(code, show(r)).toBe(0);
    for (const row of r.rows) {
      const c4 = cellOf(r, row.id, 4);
      expect(['skipped', 'n/a']).toContain(c4.verdict);
      if (c4.verdict === 'skipped') expect(c4.evidence).toBe('not asked for (--family 6)');
    }
    expect(matrix(r).peers[6]).toBe('pass');
    // Without an IPv4 peer there is nothing of the other family to see.
    expect(cellOf(r, 'mixed', 6)).toMatchObject({ verdict: 'skipped', evidence: 'no IPv4 peer could be announced (see the IPv4 column)' });
  });
});

describe('tracker-check: literal URLs, output modes, usage', () => {
  it('an IPv4 and an IPv6 literal: the other family is n/a, everything else passes (plain text)', async () => {
    const tracker = await builtInTracker(['--bind', '127.0.0.1', '--bind', '::1']);
    const r4 = await runCli(['tracker-check', `http://127.0.0.1:${tracker.port}/announce`, `udp://[::1]:${tracker.port}`], { timeoutMs: 60_000 });
    expect(r4.code, r4.stdout + r4.stderr).toBe(0);
    const text = r4.stdout;
    expect(text).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/announce {2}\(HTTP, info hash [0-9a-f]{12}\.\.\., \d+ requests, [\d.]+ s\)$/m);
    expect(text).toMatch(/^check +IPv4 +IPv6$/m);
    expect(text).toMatch(/^DNS \(A \/ AAAA\) +n\/a +the URL holds an IP address: no DNS +n\/a +the URL names an IPv4 address$/m);
    expect(text).toMatch(/^UDP: 18-byte IPv6 entries +n\/a +6-byte entries are right over IPv4 +pass +\d+ entries of 18 bytes$/m);
    expect(text).toMatch(/^UDP: retransmission answered +n\/a +the URL names an IPv6 address +pass +both copies answered/m);
    expect(text.match(/^PASS: every applicable check passed$/gm)).toHaveLength(2);
    expect(text).not.toMatch(/\bfail\b/);
  });

  it('on a terminal: the ink table, coloured, cut to the terminal width', async () => {
    const tracker = await builtInTracker(['--bind', '127.0.0.1']);
    const cmd = `stty cols 100 rows 60; exec "${process.execPath}" "${CLI}" tracker-check udp://127.0.0.1:${tracker.port}`;
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const p = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, TERM: 'xterm-256color', FORCE_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.on('data', (d: Buffer) => (text += d.toString()));
      p.on('exit', (code) => resolve({ code, text }));
    });
    expect(out.code, out.text).toBe(0);
    expect(out.text).toContain('\u001b[32mpass'); // green
    const plain = out.text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
    expect(plain).toMatch(/UDP: bad connection id refused +pass +error: unknown or exp\.\.\./);
    expect(plain).toContain('PASS: every applicable check passed');
    for (const line of plain.split(/\r?\n/)) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('bad usage exits 2 with a message; --help lists every option', async () => {
    for (const [args, message] of [
      [[], /give at least one announce URL/],
      [['ftp://x/announce'], /unsupported tracker protocol "ftp:"/],
      [['udp://127.0.0.1'], /has no port/],
      [['http://127.0.0.1:1/announce', '--family', '5'], /--family must be 4, 6 or both/],
      [['http://127.0.0.1:1/announce', '--timeout', '0'], /--timeout must be a whole number from 1 to 60/],
      [['http://127.0.0.1:1/announce', '--info-hash', 'abc'], /--info-hash must be 40 hex digits/],
      [['http://127.0.0.1:1/announce', '--bogus'], /unknown option --bogus/],
    ] as const) {
      const r = await runCli(['tracker-check', ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const h = await runCli(['tracker-check', '--help']);
    expect(h.code).toBe(0);
    for (const opt of ['--json', '--family 4|6|both', '--timeout S', '--info-hash HEX', 'Exit codes:', 'link-local']) expect(h.stdout).toContain(opt);
  });

  it('a tracker that is not there: reachable fails with a fix, the rest is skipped, exit 1', async () => {
    const tracker = await builtInTracker(['--bind', '127.0.0.1']);
    const port = tracker.port;
    await stopAll(); // nothing listens on the port any more
    const { code, reports } = await runCheck([`http://127.0.0.1:${port}/announce`, '--timeout', '2']);
    const r = reports[0]!;
    expect(code).toBe(1);
    expect(failing(r)).toEqual(['reachable@4']);
    expect(cellOf(r, 'reachable', 4)).toMatchObject({
      evidence: `connection refused by 127.0.0.1:${port}`,
      fix: expect.stringContaining(`make the tracker listen on 127.0.0.1 port ${port}/tcp`),
    });
  });
});
