/**
 * Floods of incoming handshakes at a real `sixswarm seed`, from a process of their own on 250
 * loopback addresses: 1,500 connections a second that each send 96 random bytes (what makes an
 * MSE responder do its Diffie-Hellman work), and a slowloris with churn (3,000 connections a
 * second sending 50 bytes, then a byte every 5 s, until they are closed). The seed's CPU stays
 * a bounded share of a core, its memory grows little and comes back down once the flood is over,
 * and an honest leecher that requires encryption completes meanwhile. Figures are printed.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, makeTree, runCli, sixswarm, spawnTracked, tempDir, treeDigest, type SixswarmProcess } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

const ATTACKER = String.raw`
const net = require('node:net');
const crypto = require('node:crypto');
const [port, mode, rate, seconds, sources] = [Number(process.argv[1]), process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
let opened = 0;
const open = new Set();
const start = Date.now();
const tick = setInterval(() => {
  const due = Math.floor(((Date.now() - start) / 1000) * rate);
  for (; opened < due; opened++) {
    const i = opened % sources;
    const s = net.connect({ host: '127.0.0.1', port, localAddress: '127.33.' + (i >> 8) + '.' + ((i & 255) + 1) });
    open.add(s);
    s.on('connect', () => {
      s.write(crypto.randomBytes(mode === 'dh' ? 96 : 50));
      if (mode === 'slow') {
        const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write(crypto.randomBytes(1))), 5000);
        t.unref();
      }
    });
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => open.delete(s));
  }
  if (Date.now() - start >= seconds * 1000) {
    clearInterval(tick);
    for (const s of open) s.destroy();
    console.log(JSON.stringify({ event: 'done', opened }));
    setTimeout(() => process.exit(0), 100);
  }
}, 10);
`;

async function rssMb(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

async function cpuSeconds(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

interface Flood {
  done: Promise<void>;
  /** RSS of the seed each second while it ran. */
  rss: number[];
  cpu: () => Promise<number>;
}

/** Runs the attacker against `seed` and samples the seed's RSS every second. */
function flood(seed: SixswarmProcess, port: number, mode: 'dh' | 'slow', rate: number, seconds: number): Flood {
  const pid = seed.proc.pid!;
  const rss: number[] = [];
  const t0 = Date.now();
  const cpu0 = cpuSeconds(pid);
  const attacker = spawnTracked(process.execPath, ['-e', ATTACKER, String(port), mode, String(rate), String(seconds), '250'], { label: `flood ${mode}` });
  const sampler = setInterval(() => void rssMb(pid).then((r) => rss.push(r)), 1000);
  const done = attacker.event('done', (seconds + 30) * 1000).then(() => clearInterval(sampler));
  return { done, rss, cpu: async () => ((await cpuSeconds(pid)) - (await cpu0)) / ((Date.now() - t0) / 1000) };
}

describe('floods of incoming handshakes', () => {
  it('a Diffie-Hellman flood and a slowloris with churn: bounded CPU and memory, the memory given back, an honest encrypted leecher served', { timeout: 360_000 }, async () => {
    dir = await tempDir('sixswarm-mse-flood-');
    const d = dir;
    await makeTree(join(d, 'seed', 'payload'), { 'a.bin': 4 * 1024 * 1024 });
    const torrent = join(d, 't.torrent');
    expect((await runCli(['create', join(d, 'seed', 'payload'), '-o', torrent, '-l', '64K'])).code).toBe(0);
    const seed = sixswarm(['seed', torrent, join(d, 'seed'), '--port', '0', '--json', '--no-dht', '--no-trackers', '--no-ipv6', '--state-dir', join(d, 'state-seed')], { label: 'seed' });
    const port = await seed.port();
    await seed.event('checked');
    let leeches = 0;
    /** A leecher that takes only encrypted connections, dialing the seed while the flood runs. */
    const honest = async () => {
      const out = join(d, `leech-${++leeches}`);
      const t0 = Date.now();
      const l = sixswarm(['download', torrent, '-o', out, '--peer', `127.0.0.1:${port}`, '--port', '0', '--json', '--no-dht', '--no-trackers', '--encryption', 'require', '--exit-on-complete', '--state-dir', join(d, `state-${leeches}`)], { label: `leech ${leeches}` });
      await l.event('complete', 60_000);
      expect(await l.exited, l.stderr).toBe(0);
      expect(await treeDigest(join(out, 'payload'))).toEqual(await treeDigest(join(d, 'seed', 'payload')));
      expect(l.events.find((e) => e.event === 'peer-connected')).toMatchObject({ encrypted: true });
      return (Date.now() - t0) / 1000;
    };

    // The baseline: a seed that has served once (its caches warm), without a flood.
    const quiet = await honest();
    await new Promise((r) => setTimeout(r, 2000));
    const baseline = await rssMb(seed.proc.pid!);

    // 96 random bytes, 1,500 times a second for 10 s.
    const dh = flood(seed, port, 'dh', 1500, 10);
    await new Promise((r) => setTimeout(r, 3000));
    const dhLeech = await honest();
    await dh.done;
    const dhCpu = await dh.cpu();

    // Slowloris with churn, 3,000 connections a second for 20 s.
    const slow = flood(seed, port, 'slow', 3000, 20);
    await new Promise((r) => setTimeout(r, 5000));
    const slowLeech = await honest();
    await slow.done;
    const slowCpu = await slow.cpu();
    const peak = Math.max(...dh.rss, ...slow.rss);
    const t0 = Date.now();
    // V8 gives its heap back once the process is idle a while: 20-30 s on an idle machine, up to 100 s seen on a busy one.
    const trail: number[] = [];
    const after = await waitUntil(async () => {
      const r = await rssMb(seed.proc.pid!);
      trail.push(Math.round(r));
      return r < baseline + 30 && r;
    }, 180_000, () => `the seed's memory coming back down from ${peak.toFixed(0)} MB (baseline ${baseline.toFixed(0)} MB), last: ${trail.slice(-10).join(' ')}`);
    console.log(
      `handshake floods: an honest leecher without a flood done in ${quiet.toFixed(1)} s, baseline RSS ${baseline.toFixed(0)} MB; DH flood: seed CPU ${(dhCpu * 100).toFixed(0)}% of a core, honest leecher done in ${dhLeech.toFixed(1)} s; ` +
        `slowloris with churn: seed CPU ${(slowCpu * 100).toFixed(0)}%, honest leecher done in ${slowLeech.toFixed(1)} s; peak RSS ${peak.toFixed(0)} MB, ` +
        `back to ${after.toFixed(0)} MB ${((Date.now() - t0) / 1000).toFixed(0)} s after the flood`,
    );
    expect(dhCpu, 'seed CPU under the DH flood, share of one core').toBeLessThan(0.5);
    expect(slowCpu, 'seed CPU under the slowloris, share of one core').toBeLessThan(0.5);
    expect(peak - baseline, 'RSS growth under the floods, MB').toBeLessThan(150);
    expect(seed.proc.exitCode).toBeNull();
  });
});
