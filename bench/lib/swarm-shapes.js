/**
 * Swarm shapes over [::1] for bench/swarm and bench/big: N seeds -> 1 leecher and 1 seed -> N
 * leechers, for sixswarm (half the peers dual-stack, half IPv6-only) and for libtorrent
 * (bench/lt-peer.py). Payload in plaintext on both sides, as in bench/transfer's plaintext pairs:
 * sixswarm with `--encryption off` (its default encrypts between two sixswarms), libtorrent with
 * its defaults (it negotiates MSE and then picks plaintext for the payload). Every seed trusts its data (sixswarm: a copy of resume state made once by
 * `prepareSeedState`; libtorrent: seed_mode), so no seed spends the run hashing.
 */
import { cp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { settlePageCache } from './page-cache.js';
import { BenchProcess } from './processes.js';
import { mbps } from './report.js';
import { nodeSha1 } from './sha1.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'bin', 'sixswarm.js');
const PYTHON = '/usr/bin/python3';
const LT_PEER = join(ROOT, 'bench', 'lt-peer.py');
const TIMEOUT = 900_000;

/** Sum of user+sys seconds and the largest peak RSS (MiB) of some processes. */
function usage(procs) {
  let cpu = 0, rss = 0;
  for (const p of procs) {
    const u = p.usage();
    if (!u) continue;
    cpu += u.cpuS;
    rss = Math.max(rss, u.maxRssKiB / 1024);
  }
  return { cpu, rss };
}

/** One check of the payload by a sixswarm seed: the resume state every sixswarm seed starts from. */
export async function prepareSeedState(torrent, data, stateDir, logBase) {
  const first = new BenchProcess('sixswarm first check', [process.execPath, CLI, 'seed', torrent, data, '--port', '0', '--json', '--no-trackers', '--state-dir', stateDir], { logBase });
  await first.waitFor((e) => e.event === 'checked', 600_000, 'checked');
  await first.stop();
}

/** One sixswarm seed; half of them IPv6-only (`--no-ipv4`), the rest dual-stack. */
async function sixswarmSeed(ctx, i) {
  const state = join(ctx.dir, `seed-${i}-state`);
  await cp(ctx.seedState, state, { recursive: true });
  const family = i % 2 === 0 ? [] : ['--no-ipv4'];
  const p = new BenchProcess(`sixswarm seed ${i}`, [process.execPath, ...(ctx.seedNodeArgs ?? []), CLI, 'seed', ctx.torrent, ctx.data, '--port', '0', '--json', '--no-trackers', '--encryption', 'off', '--state-dir', state, ...family], { logBase: join(ctx.dir, `seed-${i}`) });
  const listening = await p.waitFor((e) => e.event === 'listening' && e.family === 6, 120_000, 'listening');
  await p.waitFor((e) => e.event === 'checked', 120_000, 'checked');
  return { p, port: listening.port };
}

function sixswarmLeech(ctx, i, seedPorts) {
  const family = i % 2 === 0 ? [] : ['--no-ipv4'];
  const args = ['download', ctx.torrent, '-o', join(ctx.dir, `leech-${i}`), '--port', '0', '--json', '--no-trackers', '--encryption', 'off', '--exit-on-complete', '--state-dir', join(ctx.dir, `leech-${i}-state`), ...family, ...seedPorts.flatMap((port) => ['--peer', `[::1]:${port}`])];
  const p = new BenchProcess(`sixswarm leecher ${i}`, [process.execPath, ...(ctx.leecherNodeArgs ?? []), CLI, ...args], { logBase: join(ctx.dir, `leech-${i}`) });
  return {
    p,
    file: join(ctx.dir, `leech-${i}`, ctx.name),
    connected: () => p.waitFor((e) => e.event === 'peer-connected', TIMEOUT, 'peer-connected').then((e) => Date.parse(e.time)),
    done: () => p.waitFor((e) => e.event === 'complete', TIMEOUT, 'complete').then((e) => Date.parse(e.time)),
  };
}

async function libtorrentSeed(ctx, i) {
  const p = new BenchProcess(`libtorrent seed ${i}`, [PYTHON, LT_PEER, 'seed', ctx.torrent, ctx.data], { logBase: join(ctx.dir, `seed-${i}`), env: { LT_SEED_MODE: '1' } });
  const ready = await p.waitFor((e) => e.event === 'ready', 120_000, 'ready');
  return { p, port: ready.port };
}

function libtorrentLeech(ctx, i, seedPorts) {
  const out = join(ctx.dir, `leech-${i}`);
  spawnSync('mkdir', ['-p', out]);
  const p = new BenchProcess(`libtorrent leecher ${i}`, [PYTHON, LT_PEER, 'leech', ctx.torrent, out, seedPorts.map((port) => `[::1]:${port}`).join(',')], { logBase: join(ctx.dir, `leech-${i}`) });
  return {
    p,
    file: join(out, ctx.name),
    connected: () => p.waitFor((e) => e.event === 'connected', TIMEOUT, 'connected').then((e) => e.t * 1000),
    done: () => p.waitFor((e) => e.event === 'finished', TIMEOUT, 'finished').then((e) => e.t * 1000),
  };
}

const CLIENTS = {
  sixswarm: { seed: sixswarmSeed, leech: sixswarmLeech },
  libtorrent: { seed: libtorrentSeed, leech: libtorrentLeech },
};

/**
 * One shape for one client with `peers` peers: starts everything, waits for every leecher,
 * verifies every copy. ctx: { torrent, data, payload, name, sha1, bytes, seedState, drop, dir,
 * leecherNodeArgs?, seedNodeArgs? (node options for sixswarm leechers or seeds, e.g. --cpu-prof) }.
 */
export async function runShape(ctx, client, shape, peers) {
  const c = CLIENTS[client];
  const nSeeds = shape === 'n-to-1' ? peers : 1;
  const nLeeches = shape === 'n-to-1' ? 1 : peers;
  settlePageCache(ctx.payload, ctx.drop);
  const seeds = [];
  let leeches = [];
  try {
    for (let i = 0; i < nSeeds; i++) seeds.push(await c.seed(ctx, i));
    leeches = Array.from({ length: nLeeches }, (_, i) => c.leech(ctx, i, seeds.map((s) => s.port)));
    const connected = await Promise.all(leeches.map((l) => l.connected()));
    const done = await Promise.all(leeches.map((l) => l.done()));
    await Promise.all(leeches.map((l) => l.p.waitExit(60_000)));
    for (const s of seeds) await s.p.stop();
    for (const l of leeches) {
      const digest = existsSync(l.file) ? nodeSha1(l.file).hex : 'missing';
      if (digest !== ctx.sha1) throw new Error(`${l.p.label}: the copy does not match the payload (${digest})`);
    }
    const seconds = (Math.max(...done) - Math.min(...connected)) / 1000;
    return { seconds, rate: mbps(ctx.bytes * nLeeches, seconds), seeds: usage(seeds.map((s) => s.p)), leeches: usage(leeches.map((l) => l.p)) };
  } finally {
    for (const x of [...leeches, ...seeds]) await x.p.stop();
  }
}
