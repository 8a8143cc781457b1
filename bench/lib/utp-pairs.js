/**
 * bench/utp's pairs: one seed -> one leecher, sixswarm (bench/lib/utp-peer.js: an engine over
 * UtpNetwork, no TCP at all; or with `transport` 'tcp' over the kernel's TCP only) and libtorrent
 * (bench/lt-peer.py --utp: TCP off; or TCP only). On [::1] by default; with `ctx.net` each end
 * runs where it says (bench/utp --path wan: a namespace each, on their own addresses).
 * Each returns when the transfer started and ended by the leecher's own account, its uTP packet
 * counters (uTP only), and /usr/bin/time usage of both processes.
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withProcesses } from './pairs.js';
import { nodeSha1 } from './sha1.js';

const PYTHON = '/usr/bin/python3';
const HERE = dirname(fileURLToPath(import.meta.url));
const LT_PEER = join(HERE, '..', 'lt-peer.py');
const UTP_PEER = join(HERE, 'utp-peer.js');
const SEED_READY_MS = 300_000;

/**
 * Where the two ends run: their listening addresses, and `exec(role, argv)` ('seed' or
 * 'leecher') wrapping a command to run there.
 * @typedef {{ seedHost: string, leechHost: string, exec: (role: string, argv: string[]) => string[] }} PairNet
 */
/** @type {PairNet} */
const LOOPBACK = { seedHost: '::1', leechHost: '::1', exec: (_role, argv) => argv };

/**
 * Runs the pair `run(ctx, dir)`, then checks the leecher's copy against `sha1` and deletes it:
 * the transfer, the copy's digest ('missing' without one) and whether it matched.
 */
export async function runVerified(run, ctx, dir, sha1) {
  const t = await run(ctx, dir);
  const digest = existsSync(t.file) ? nodeSha1(t.file).hex : 'missing';
  rmSync(t.file, { force: true });
  return { t, digest, ok: digest === sha1 };
}

const hostPort = (host, port) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/**
 * sixswarm seed -> sixswarm leecher over `transport` ('utp' or 'tcp') only. `packets` (uTP): the
 * leecher's datagrams in (data) and out (ACKs) and the seed's resent packets. `ctx.onConnected`,
 * if set, is called with the time of the leecher's first connection (epoch ms).
 */
export function sixswarmEnginePair(ctx, dir, transport = 'utp') {
  const net = ctx.net ?? LOOPBACK;
  return withProcesses(async (start) => {
    const leechDir = join(dir, 'leech');
    await mkdir(leechDir, { recursive: true });
    const what = `sixswarm ${transport === 'tcp' ? 'TCP' : 'uTP'}`;
    const node = (role) => net.exec(role, [ctx.node, ...(ctx.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', join(ctx.cpuProfDir, role)] : []), UTP_PEER, ctx.root, ...(transport === 'tcp' ? ['--tcp'] : [])]);
    const seed = start(`${what} seed`, [...node('seed'), 'seed', ctx.torrent, ctx.dataDir, join(dir, 'seed-state'), net.seedHost], join(dir, 'seed'));
    const ready = await seed.waitFor((e) => e.event === 'ready', SEED_READY_MS, '"ready" event');
    const leech = start(`${what} leecher`, [...node('leecher'), 'leech', ctx.torrent, leechDir, join(dir, 'leech-state'), hostPort(net.seedHost, ready.port), net.leechHost], join(dir, 'leech'));
    const connected = await leech.waitFor((e) => e.event === 'connected', ctx.timeoutMs, '"connected" event');
    ctx.onConnected?.(connected.t);
    const complete = await leech.waitFor((e) => e.event === 'complete', ctx.timeoutMs, '"complete" event');
    const stats = await leech.waitFor((e) => e.event === 'stats', 30_000, '"stats" event');
    const { code } = await leech.waitExit(30_000);
    if (code !== 0) throw new Error(`sixswarm leecher exited with ${code}: ${leech.lastError()}`);
    await seed.stop();
    const seedStats = seed.events.find((e) => e.event === 'stats');
    return {
      spawnAt: leech.startedAt,
      connectedAt: connected.t,
      doneAt: complete.t,
      exitAt: leech.exitedAt,
      file: join(leechDir, ctx.name),
      seedUsage: seed.usage(),
      leechUsage: leech.usage(),
      packets: { in: stats.datagramsIn, out: stats.datagramsOut, resent: seedStats?.resent },
    };
  });
}

/**
 * libtorrent seed -> libtorrent leecher over `transport` ('utp' or 'tcp') only; uTP packet
 * counters from the leecher's session stats. `ctx.onConnected` as for sixswarmEnginePair.
 */
export function libtorrentSessionPair(ctx, dir, transport = 'utp') {
  const net = ctx.net ?? LOOPBACK;
  return withProcesses(async (start) => {
    const leechDir = join(dir, 'leech');
    await mkdir(leechDir, { recursive: true });
    const what = `libtorrent ${transport === 'tcp' ? 'TCP' : 'uTP'}`;
    const peer = (role) => net.exec(role, [PYTHON, LT_PEER, ...(transport === 'tcp' ? [] : ['--utp']), '--listen', role === 'seed' ? net.seedHost : net.leechHost]);
    const seed = start(`${what} seed`, [...peer('seed'), 'seed', ctx.torrent, ctx.dataDir], join(dir, 'seed'));
    const ready = await seed.waitFor((e) => e.event === 'ready', SEED_READY_MS, '"ready" event');
    const leech = start(`${what} leecher`, [...peer('leecher'), 'leech', ctx.torrent, leechDir, hostPort(net.seedHost, ready.port)], join(dir, 'leech'));
    const connected = await leech.waitFor((e) => e.event === 'connected', ctx.timeoutMs, '"connected" event');
    ctx.onConnected?.(connected.t * 1000);
    const finished = await leech.waitFor((e) => e.event === 'finished', ctx.timeoutMs, '"finished" event');
    const { code } = await leech.waitExit(30_000);
    if (code !== 0) throw new Error(`libtorrent leecher exited with ${code}: ${leech.lastError()}`);
    await seed.stop();
    return {
      spawnAt: leech.startedAt,
      connectedAt: connected.t * 1000,
      doneAt: finished.t * 1000,
      exitAt: leech.exitedAt,
      file: join(leechDir, ctx.name),
      seedUsage: seed.usage(),
      leechUsage: leech.usage(),
      packets: { in: finished.utp?.utp_packets_in, out: finished.utp?.utp_packets_out, resent: undefined },
    };
  });
}
