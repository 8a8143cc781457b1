/**
 * bench/utp's pairs: one seed -> one leecher over uTP on [::1], sixswarm (bench/lib/utp-peer.js:
 * an engine over UtpNetwork, no TCP at all) and libtorrent (bench/lt-peer.py --utp: TCP off).
 * Each returns when the transfer started and ended by the leecher's own account, its uTP packet
 * counters, and /usr/bin/time usage of both processes.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withProcesses } from './pairs.js';

const PYTHON = '/usr/bin/python3';
const HERE = dirname(fileURLToPath(import.meta.url));
const LT_PEER = join(HERE, '..', 'lt-peer.py');
const UTP_PEER = join(HERE, 'utp-peer.js');
const SEED_READY_MS = 300_000;

/**
 * sixswarm seed -> sixswarm leecher, both uTP only. `packets`: the leecher's datagrams in
 * (data) and out (ACKs) and the seed's resent packets.
 */
export function sixswarmUtpPair(ctx, dir) {
  return withProcesses(async (start) => {
    const leechDir = join(dir, 'leech');
    await mkdir(leechDir, { recursive: true });
    const node = (role) => [ctx.node, ...(ctx.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', join(ctx.cpuProfDir, role)] : []), UTP_PEER, ctx.root];
    const seed = start('sixswarm uTP seed', [...node('seed'), 'seed', ctx.torrent, ctx.dataDir, join(dir, 'seed-state')], join(dir, 'seed'));
    const ready = await seed.waitFor((e) => e.event === 'ready', SEED_READY_MS, '"ready" event');
    const leech = start('sixswarm uTP leecher', [...node('leecher'), 'leech', ctx.torrent, leechDir, join(dir, 'leech-state'), `[::1]:${ready.port}`], join(dir, 'leech'));
    const connected = await leech.waitFor((e) => e.event === 'connected', ctx.timeoutMs, '"connected" event');
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

/** libtorrent seed -> libtorrent leecher, both uTP only; packet counters from the leecher's session stats. */
export function libtorrentUtpPair(ctx, dir) {
  return withProcesses(async (start) => {
    const leechDir = join(dir, 'leech');
    await mkdir(leechDir, { recursive: true });
    const seed = start('libtorrent uTP seed', [PYTHON, LT_PEER, '--utp', 'seed', ctx.torrent, ctx.dataDir], join(dir, 'seed'));
    const ready = await seed.waitFor((e) => e.event === 'ready', SEED_READY_MS, '"ready" event');
    const leech = start('libtorrent uTP leecher', [PYTHON, LT_PEER, '--utp', 'leech', ctx.torrent, leechDir, `[::1]:${ready.port}`], join(dir, 'leech'));
    const connected = await leech.waitFor((e) => e.event === 'connected', ctx.timeoutMs, '"connected" event');
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
      packets: { in: finished.utp.utp_packets_in, out: finished.utp.utp_packets_out, resent: undefined },
    };
  });
}
