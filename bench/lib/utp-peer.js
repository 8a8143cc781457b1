/**
 * One sixswarm engine that speaks only uTP, for bench/utp: `new Engine(opts, new UtpNetwork(new
 * KernelNetwork()))` from dist/, listening on [::1] (no TCP socket at all), plaintext. With --tcp
 * it speaks only TCP instead (`new Engine(opts, new KernelNetwork())`: the same engine and
 * settings, for bench/utp --path wan's uTP-against-TCP comparison).
 *
 *   node utp-peer.js ROOT [--tcp] seed  TORRENT DATA_DIR STATE_DIR [LISTEN]
 *   node utp-peer.js ROOT [--tcp] leech TORRENT OUT_DIR  STATE_DIR [HOST]:PORT [LISTEN]
 *
 * LISTEN: the address to listen on (default ::1; its family is the only one used). The netns
 * test (test/netns/utp-netns.test.ts) and bench/utp --path wan run it inside namespaces on their
 * own addresses.
 * JSON lines on stdout: {"event":"ready","port":N} once a seed has checked its data and listens;
 * {"event":"connected"} at the leecher's first peer connection; {"event":"complete"} when every
 * piece is verified, then {"event":"stats", ...} (its uTP socket's counters; none over TCP) and
 * exit 0. A seed runs until SIGTERM and prints its stats then. {"event":"error","message":...}
 * and exit 1 on failure.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, ...args] = process.argv.slice(2);
const tcp = args[0] === '--tcp';
const [mode, torrentFile, dir, stateDir, ...rest] = tcp ? args.slice(1) : args;
const peer = mode === 'leech' ? rest[0] : undefined;
const listen = (mode === 'leech' ? rest[1] : rest[0]) ?? '::1';
const family = listen.includes(':') ? 6 : 4;
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const { Engine } = await dist('src/engine/engine.js');
const { KernelNetwork } = await dist('src/transport/kernel/kernel-network.js');
const { UtpNetwork } = await dist('src/utp/utp-network.js');
const { parseTorrent } = await dist('src/metainfo/torrent.js');

const emit = (e) => process.stdout.write(`${JSON.stringify({ ...e, t: performance.timeOrigin + performance.now() })}\n`);
const fail = (message) => {
  emit({ event: 'error', message });
  process.exit(1);
};

const network = tcp ? new KernelNetwork() : new UtpNetwork(new KernelNetwork());
const engine = new Engine({ port: 0, ipv4: family === 4, ipv6: family === 6, listenHost: { [family]: listen }, stateDir, encryption: 'off' }, network);
const stats = async () => emit({ event: 'stats', ...(tcp ? {} : (await network.stats())[family]) });
let stopping = false;
const stop = async (code) => {
  if (stopping) return;
  stopping = true;
  await stats();
  await engine.close();
  process.exit(code);
};
process.on('SIGTERM', () => void stop(0));

try {
  const [listening] = await engine.listen();
  const meta = parseTorrent(await readFile(torrentFile));
  const torrent = await engine.addTorrent({ meta }, dir, { writable: mode === 'leech' });
  let connected = false;
  torrent.on('event', (e) => {
    if (e.event === 'peer-connected' && !connected) {
      connected = true;
      emit({ event: 'connected' });
    }
    if (e.event === 'complete' && mode === 'leech') {
      emit({ event: 'complete' });
      void stop(0);
    }
    if (e.event === 'error') fail(e.message);
  });
  await torrent.start();
  if (mode === 'seed') emit({ event: 'ready', port: listening.port });
  else {
    const m = /^\[(.+)\]:(\d+)$/.exec(peer ?? '') ?? /^([\d.]+):(\d+)$/.exec(peer ?? '');
    if (!m) fail(`leech needs the seed as [HOST]:PORT or IPV4:PORT, not "${peer}"`);
    torrent.swarm.addPeers([{ host: m[1], port: Number(m[2]) }], { kind: 'manual' });
  }
} catch (e) {
  fail(e.message);
}
