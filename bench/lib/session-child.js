/**
 * One headless session for bench/session: the engine behind `sixswarm ui` (Engine, StatusFeed,
 * SessionStore, Session from dist/) without a terminal. `prepare` adds every torrent of a
 * list over its complete data and waits until all seed (so resume state exists); `run` opens the
 * saved session and reports, as JSON lines: time to open and to every torrent seeding (from process
 * start, module loading included), time until every torrent's first announce got its answer, CPU
 * and RSS while idle, descriptors, and the data files open once a block of every torrent was read.
 */
import { readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, root, sessionDir, stateDir, dataDir, listFile, idleArg] = process.argv.slice(2);
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const { Engine } = await dist('src/engine/engine.js');
const { StatusFeed } = await dist('src/status/feed.js');
const { SessionStore } = await dist('src/session/session-store.js');
const { Session } = await dist('src/session/session.js');

const emit = (e) => process.stdout.write(`${JSON.stringify(e)}\n`);
const ms = () => Math.round(performance.now());
const sleep = (t) => new Promise((r) => setTimeout(r, t));
async function until(check, what, timeoutMs = 600_000) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
/** [all descriptors, those on files under the data folder]. */
async function fds() {
  let all = 0, data = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    all++;
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')).startsWith(dataDir)) data++;
  }
  return { all, data };
}

const engine = new Engine({ port: 0, ipv4: false, ipv6: true, listenHost: { 6: '::1' }, stateDir, trackers: { announceIp: 'never' } });
const feed = new StatusFeed(engine);
const session = new Session({ engine, feed, store: new SessionStore(sessionDir), downloadDir: dataDir });
const announced = new Set();
let hashed = 0;
feed.on('event', (e) => {
  if (e.event === 'tracker' && !e.error && e.announce === 'started') announced.add(e.torrent);
  if (e.event === 'checked') hashed += e.hashed;
  if (e.event === 'error') emit({ event: 'error', message: e.message });
});
await engine.listen();
const seeding = () => session.summaries().every((s) => s.state === 'seeding');

if (mode === 'prepare') {
  for (const t of JSON.parse(await readFile(listFile, 'utf8'))) await session.add(t);
  await until(seeding, 'every torrent seeding');
  await session.close();
  emit({ event: 'prepared', torrents: session.summaries().length, ms: ms() });
  process.exit(0);
}

const cpu0 = process.cpuUsage();
const problems = await session.open();
const n = session.summaries().length;
emit({ event: 'open', ms: ms(), torrents: n, problems: problems.length });
await until(seeding, 'every torrent seeding');
const cpuStart = process.cpuUsage(cpu0);
emit({ event: 'seeding', ms: ms(), cpuS: (cpuStart.user + cpuStart.system) / 1e6, hashedPieces: hashed });
await until(() => announced.size >= n, 'every torrent announced');
emit({ event: 'announced', ms: ms() });

const idleS = Number(idleArg);
const cpu1 = process.cpuUsage();
const t1 = performance.now();
await sleep(idleS * 1000);
const cpuIdle = process.cpuUsage(cpu1);
const wall = (performance.now() - t1) / 1000;
const idleFds = await fds();
emit({ event: 'idle', seconds: wall, cpuPercent: ((cpuIdle.user + cpuIdle.system) / 1e6 / wall) * 100, rssMiB: process.memoryUsage().rss / 2 ** 20, fds: idleFds.all, dataFds: idleFds.data });

// One block of every torrent, 32 reads at a time: the open-file LRU bounds the descriptors.
const hashes = session.summaries().map((s) => s.infoHash);
let maxData = 0;
for (let i = 0; i < hashes.length; i += 32) {
  await Promise.all(hashes.slice(i, i + 32).map(async (h) => {
    const storage = engine.torrent(h).storage;
    const lease = await storage.readBlock(0, 0, Math.min(16 * 1024, storage.layout.pieceSize(0)));
    lease.release();
  }));
  maxData = Math.max(maxData, (await fds()).data);
}
emit({ event: 'read-all', ms: ms(), maxDataFds: maxData, dataFds: (await fds()).data });
const c0 = ms();
await session.close();
emit({ event: 'closed', closeMs: ms() - c0 });
process.exit(0);
