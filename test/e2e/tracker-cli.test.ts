/**
 * `sixswarm tracker` as a process (needs `npm run build`), and Announcer with real host
 * names: a client runs in a private mount namespace whose /etc/hosts maps `dual.test` to
 * 127.0.0.1 and ::1 and `v4only.test` to 127.0.0.1 only, so getaddrinfo gives A and AAAA records.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../dist/bin/sixswarm.js', import.meta.url));
const SESSION = new URL('../../dist/src/tracker/announcer.js', import.meta.url).href;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Json = Record<string, unknown>;

/** Start a process; collect its stdout JSON lines; kill it (TERM, then KILL) at cleanup. */
function start(cmd: string, args: string[]) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Json[] = [];
  let stderr = '';
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Json);
    } catch {
      lines.push({ text: l });
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
  });
  return { child, lines, exited, stderr: () => stderr };
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((r) => {
    const c = spawn('node', [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code) => r({ code, out, err }));
  });
}

const CLIENT_SCRIPT = `
import { randomBytes } from 'node:crypto';
import { Announcer } from ${JSON.stringify(SESSION)};
const port = Number(process.argv[2]);
const port4 = Number(process.argv[3]);
const ih = Buffer.from('${'ab'.repeat(20)}', 'hex');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
setTimeout(() => { out({ who: 'script', error: 'script timed out' }); process.exit(1); }, 15000).unref();
const mk = (who, ourPort, url) => {
  const s = new Announcer({
    infoHash: ih, peerId: randomBytes(20), ports: { local: () => ourPort, advertised: () => ourPort }, tiers: [[url]], families: { 4: true, 6: true },
    getStats: () => ({ uploaded: 0, downloaded: 0, left: 10 }), ownAddresses: () => ({ 6: '2001:db8::5' }),
    minIntervalFloorMs: 300, udpRetransmitBaseMs: 300, timeoutMs: 3000,
  });
  s.on('announce', (ev) => out({ who, kind: 'announce', key: s.key, at: Date.now(), ...ev }));
  s.on('peers', (peers, ev) => out({ who, kind: 'peers', family: ev.family, peers }));
  return s;
};
const b = mk('B', 43002, 'http://v4only.test:' + port + '/announce');
const c = mk('C', 43003, 'udp://dual.test:' + port);
const a = mk('A', 43001, 'http://dual.test:' + port + '/announce');
// D: dual.test resolves for IPv6 too, but this tracker listens on 127.0.0.1 only.
const d = mk('D', 43004, 'http://dual.test:' + port4 + '/announce');
let dOk = 0;
const dTwice = new Promise((r) => d.on('announce', (ev) => { if (ev.family === 4 && !ev.error && ++dOk === 2) r(); }));
d.start();
let got = 0;
const done = new Promise((r) => {
  b.on('announce', (ev) => { if (ev.family === 4 && !ev.error && ++got === 3) r(); });
  c.on('announce', (ev) => { if (!ev.error && ++got === 3) r(); });
});
b.start(); c.start();
await done;
a.start();
await Promise.all([new Promise((r) => setTimeout(r, 1500)), dTwice]);
await Promise.all([a.stop(), b.stop(), c.stop(), d.stop()]);
out({ who: 'script', done: true });
`;

describe('sixswarm tracker', () => {
  it('serves HTTP and UDP on both families to clients using host names with A and AAAA records', async () => {
    expect(existsSync(MAIN), 'run `npm run build` first').toBe(true);
    const tracker = start('node', [MAIN, 'tracker', '--port', '0', '--bind', '127.0.0.1', '--bind', '[::1]', '--honor-ip-params', '--interval', '60', '--json']);
    await until(() => tracker.lines.length >= 4, 'four listening events');
    const listening = tracker.lines.slice(0, 4);
    expect(listening.map((l) => [l.type, l.transport, l.address]).sort()).toEqual([
      ['listening', 'http', '127.0.0.1'],
      ['listening', 'http', '::1'],
      ['listening', 'udp', '127.0.0.1'],
      ['listening', 'udp', '::1'],
    ]);
    const port = listening[0]!.port as number;
    expect(listening.every((l) => l.port === port)).toBe(true);

    const dir = await mkdtemp(join(tmpdir(), 'sixswarm-trk-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'hosts'), '127.0.0.1 dual.test v4only.test\n::1 dual.test\n');
    await writeFile(join(dir, 'client.mjs'), CLIENT_SCRIPT);
    // A second tracker on 127.0.0.1 only, min interval 2 s (interval 4 s).
    const tracker4 = start('node', [MAIN, 'tracker', '--port', '0', '--bind', '127.0.0.1', '--http', '--honor-ip-params', '--interval', '4', '--json']);
    await until(() => tracker4.lines.length >= 1, 'second tracker listening');
    const port4 = tracker4.lines[0]!.port as number;
    const client = start('unshare', ['--mount', 'sh', '-c', 'mount --bind "$1" /etc/hosts && exec node "$2" "$3" "$4"', 'sh', join(dir, 'hosts'), join(dir, 'client.mjs'), String(port), String(port4)]);
    const code = await client.exited;
    expect(code, client.stderr()).toBe(0);
    expect(client.lines.at(-1)).toEqual({ who: 'script', done: true });

    const announces = tracker.lines.filter((l) => l.type === 'announce');
    const by = (p: number) => announces.filter((l) => (l.peer as string).endsWith(`:${p}`));
    const events = (who: string) => client.lines.filter((l) => l.who === who && l.kind === 'announce');

    // A: one hostname, one announce per family (HTTP), one key; reachable over both, so no ipv6= (auto).
    const a = by(43001).filter((l) => l.event === 'started');
    expect(a.map((l) => [l.transport, l.family]).sort()).toEqual([['http', 4], ['http', 6]]);
    expect(new Set(a.map((l) => l.key)).size).toBe(1);
    expect(a[0]!.key).toBe((events('A')[0]!.key as number).toString(16).padStart(8, '0'));
    expect(a.every((l) => JSON.stringify(l.claimed) === '{}')).toBe(true);
    // B: its host has no AAAA record, so the IPv6 announce fails and ipv6= goes over IPv4 instead.
    const b = by(43002).filter((l) => l.event === 'started');
    expect(b.map((l) => [l.family, l.claimed, l.extra])).toEqual([[4, { 6: '2001:db8::5' }, ['[2001:db8::5]:43002']]]);
    expect(events('B').find((e) => e.family === 6)!.error).toMatch(/v4only\.test has no IPv6 address/);
    // C: UDP to a dual-stack name, both families, one key.
    const c = by(43003).filter((l) => l.event === 'started');
    expect(c.map((l) => [l.transport, l.family]).sort()).toEqual([['udp', 4], ['udp', 6]]);
    expect(new Set(c.map((l) => l.key)).size).toBe(1);
    // A got everyone: B's announced IPv6 address, C on both families (UDP clients).
    const aPeers = client.lines.filter((l) => l.who === 'A' && l.kind === 'peers').flatMap((l) => l.peers as Json[]);
    for (const p of [
      { host: '2001:db8::5', port: 43002, family: 6 },
      { host: '127.0.0.1', port: 43002, family: 4 },
      { host: '127.0.0.1', port: 43003, family: 4 },
      { host: '::1', port: 43003, family: 6 },
    ]) {
      expect(aPeers).toContainEqual(p);
    }
    // D: its first IPv4 announce went without ipv6= (the name has an AAAA record); the IPv6 announce was
    // then refused, so the next IPv4 announce carries ipv6=, as soon as min interval (2 s) allows, before the 4 s interval.
    expect(events('D').find((e) => e.family === 6)!.error).toMatch(/ECONNREFUSED/);
    const d = tracker4.lines.filter((l) => l.type === 'announce');
    expect(d.slice(0, 2).map((l) => [l.event ?? 'update', l.claimed])).toEqual([['started', {}], ['update', { 6: '2001:db8::5' }]]);
    expect(d[1]!.extra).toEqual(['[2001:db8::5]:43004']);
    const [d1, d2] = events('D').filter((e) => e.family === 4 && !e.error).map((e) => e.at as number);
    expect(d2! - d1!).toBeGreaterThanOrEqual(1950);
    expect(d2! - d1!).toBeLessThan(3500);
    // stopped from everyone, on every family that started
    await until(() => announces.filter((l) => l.event === 'stopped').length >= 5, 'stopped announces');

    tracker.child.kill('SIGTERM');
    expect(await tracker.exited).toBe(0);
  });

  it('bad options exit 2 with a message; --help exits 0', async () => {
    for (const args of [['--port', 'abc'], ['--port', '70000'], ['--bind', 'example.org'], ['--interval', '0'], ['--nope']]) {
      const r = await run(['tracker', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(/^sixswarm tracker: /);
    }
    expect((await run(['tracker', '--port', '70000'])).err).toBe('sixswarm tracker: --port must be a whole number from 0 to 65535, got "70000"\n');
    expect((await run(['tracker', '--interval', '1e3'])).err).toBe('sixswarm tracker: --interval must be a whole number from 1 to 86400, got "1e3"\n');
    const h = await run(['tracker', '--help']);
    expect(h.code).toBe(0);
    for (const option of ['--port N', '--http', '--udp', '--bind ADDR', '--honor-ip-params', '--interval SECONDS', '--json', '-h, --help']) expect(h.out).toContain(option);
    expect(h.out).toMatch(/Exit codes: 0 stopped by a signal, 1 runtime failure .*, 2 bad options/);
  });

  it('a port already taken is a runtime failure (exit 1) naming the process that holds it, not a crash', async () => {
    const first = start('node', [MAIN, 'tracker', '--port', '0', '--bind', '127.0.0.1', '--json']);
    await until(() => first.lines.length >= 2, 'listening');
    const port = String(first.lines[0]!.port);
    const r = await run(['tracker', '--port', port, '--bind', '127.0.0.1']);
    expect(r.code).toBe(1);
    // Which process has it (this test's first tracker), and what to do.
    expect(r.err).toBe(`sixswarm tracker: cannot listen: port ${port} is in use (by pid ${first.child.pid}: sixswarm tracker --port 0 --bind 127.0.0.1 --json): give another with --port N (0 picks a free one)\n`);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
  });
});
