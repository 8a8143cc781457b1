/**
 * One seed -> one leecher transfer per client, over [::1] only, and the sixswarm re-check.
 * Each pair function starts its processes, waits for the leecher to finish, stops everything it
 * started (also on failure) and returns when the transfer started and ended, by that client's own
 * account, plus wall time and /usr/bin/time usage of both processes.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchProcess, freePort } from './processes.js';

const PYTHON = '/usr/bin/python3';
const LT_PEER = join(dirname(fileURLToPath(import.meta.url)), '..', 'lt-peer.py');
/** How long a seed may take to check its data and come up before the pair counts as failed. */
const SEED_READY_MS = 300_000;

/**
 * @typedef {object} Ctx
 * @property {string} node        node binary for sixswarm
 * @property {string} cli         dist/bin/sixswarm.js
 * @property {string} torrent     the torrent without a tracker (sixswarm, libtorrent)
 * @property {string} trackerTorrent  the same data, announcing to http://[::1]:trackerPort/announce (aria2c)
 * @property {number} trackerPort
 * @property {string} dataDir     the folder that holds the payload (every seed's data)
 * @property {string} name        the payload's file name
 * @property {number} timeoutMs   per transfer
 * @property {string|undefined} cpuProfDir  when set, sixswarm runs under node --cpu-prof into this folder
 */

/**
 * @typedef {object} Transfer
 * @property {number} spawnAt     leecher started (epoch ms)
 * @property {number} connectedAt first connection to the seed (epoch ms)
 * @property {number} doneAt      every piece verified (epoch ms)
 * @property {number} exitAt      leecher exited (epoch ms)
 * @property {string} file        the downloaded file
 * @property {object|undefined} seedUsage   /usr/bin/time usage of the seed
 * @property {object|undefined} leechUsage
 */

/** Runs `body` with a fresh list of started processes, and stops them all however it ends. */
export async function withProcesses(body) {
  const started = [];
  const start = (label, argv, logBase) => {
    const p = new BenchProcess(label, argv, { logBase });
    started.push(p);
    return p;
  };
  try {
    return await body(start);
  } finally {
    for (const p of started.reverse()) await p.stop();
  }
}

export function sixswarmArgv(ctx, role, args) {
  const prof = ctx.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', join(ctx.cpuProfDir, role)] : [];
  return [ctx.node, ...prof, ctx.cli, ...args];
}

/** The terminal the `ui` leecher gets: a pseudo-terminal from util-linux `script`, this size. */
const PTY_COLUMNS = 120;
const PTY_ROWS = 40;

/** Quote for sh -c. */
const sh = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * sixswarm seed -> sixswarm download --peer [::1]:SEEDPORT, both with `--encryption ENCRYPTION`
 * (off: plaintext; require: RC4 both ways); times from the leecher's --json events. With `ui`,
 * the leecher runs with its terminal UI on a pseudo-terminal (`script -q -e -c`, 120x40; CI unset,
 * or ink would draw no frames) and prints no events. Either way the transfer is also timed from
 * the seed's --json events (`seedView`: the leecher's connection arriving -> leaving, which it does
 * once complete), the figure that compares the two.
 */
export function sixswarmPair(ctx, dir, encryption, { ui = false } = {}) {
  return withProcesses(async (start) => {
    const leechDir = join(dir, 'leech');
    await mkdir(leechDir, { recursive: true });
    const seed = start('sixswarm seed', sixswarmArgv(ctx, 'seed', ['seed', ctx.torrent, ctx.dataDir, '--port', '0', '--encryption', encryption, '--json', '--state-dir', join(dir, 'seed-state')]), join(dir, 'seed'));
    const listening = await seed.waitFor((e) => e.event === 'listening' && e.family === 6, SEED_READY_MS, 'IPv6 "listening" event');
    await seed.waitFor((e) => e.event === 'checked', SEED_READY_MS, '"checked" event');
    const args = ['download', ctx.torrent, '-o', leechDir, '--port', '0', '--encryption', encryption, '--peer', `[::1]:${listening.port}`, '--exit-on-complete', '--state-dir', join(dir, 'leech-state')];
    const argv = sixswarmArgv(ctx, 'leecher', ui ? args : [...args, '--json']);
    const leech = ui
      ? start('sixswarm leecher (UI)', ['script', '-q', '-e', '-c', `stty cols ${PTY_COLUMNS} rows ${PTY_ROWS} && exec env -u CI -u CONTINUOUS_INTEGRATION ${argv.map(sh).join(' ')}`, '/dev/null'], join(dir, 'leech'))
      : start('sixswarm leecher', argv, join(dir, 'leech'));
    const seedSaw = await seed.waitFor((e) => e.event === 'peer-connected', ctx.timeoutMs, '"peer-connected" event of the leecher');
    if (seedSaw.encrypted !== (encryption === 'require')) throw new Error(`the connection is ${seedSaw.encrypted ? '' : 'not '}encrypted under --encryption ${encryption}`);
    const seedLost = await seed.waitFor((e) => e.event === 'peer-disconnected' && e.address === seedSaw.address, ctx.timeoutMs, 'the leecher leaving');
    const connected = ui ? undefined : await leech.waitFor((e) => e.event === 'peer-connected', ctx.timeoutMs, '"peer-connected" event');
    const complete = ui ? undefined : await leech.waitFor((e) => e.event === 'complete', ctx.timeoutMs, '"complete" event');
    const { code } = await leech.waitExit(30_000);
    if (code !== 0) throw new Error(`sixswarm leecher exited with ${code}: ${leech.lastError()}`);
    await seed.stop();
    const seedView = { connectedAt: Date.parse(seedSaw.time), doneAt: Date.parse(seedLost.time) };
    return {
      spawnAt: leech.startedAt,
      connectedAt: connected ? Date.parse(connected.time) : seedView.connectedAt,
      doneAt: complete ? Date.parse(complete.time) : seedView.doneAt,
      seedView,
      exitAt: leech.exitedAt,
      file: join(leechDir, ctx.name),
      seedUsage: seed.usage(),
      leechUsage: leech.usage(),
    };
  });
}

export const ARIA2_COMMON = [
  '--no-conf=true', '--interface=lo', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false',
  '--enable-peer-exchange=false', '--summary-interval=0', '--console-log-level=error',
];

/**
 * aria2c seed -> aria2c leecher. aria2c cannot be told to dial a peer, so both announce to
 * `sixswarm tracker` on [::1]. Times from the leecher's info log: the seed's handshake arriving,
 * and the first "The download was complete." after it.
 */
export function aria2Pair(ctx, dir) {
  return withProcesses(async (start) => {
    const leechDir = join(dir, 'leech');
    await mkdir(leechDir, { recursive: true });
    const tracker = start('sixswarm tracker', [ctx.node, ctx.cli, 'tracker', '--port', String(ctx.trackerPort), '--bind', '::1', '--http', '--json'], join(dir, 'tracker'));
    await tracker.waitFor((e) => e.type === 'listening', 30_000, 'tracker "listening" event');
    const [seedPort, leechPort] = [await freePort(), await freePort()];
    const seed = start(
      'aria2c seed',
      ['aria2c', ...ARIA2_COMMON, `--dir=${ctx.dataDir}`, '--check-integrity=true', '--seed-ratio=0.0', `--listen-port=${seedPort}`, `--log=${join(dir, 'seed.log')}`, '--log-level=notice', ctx.trackerTorrent],
      join(dir, 'seed'),
    );
    await tracker.waitFor((e) => e.type === 'announce' && e.peer === `[::1]:${seedPort}`, SEED_READY_MS, 'announce from the aria2c seed');
    const leechLog = join(dir, 'leech.log');
    const leech = start(
      'aria2c leecher',
      ['aria2c', ...ARIA2_COMMON, `--dir=${leechDir}`, '--seed-time=0', '--file-allocation=none', `--listen-port=${leechPort}`, `--log=${leechLog}`, '--log-level=info', ctx.trackerTorrent],
      join(dir, 'leech'),
    );
    const { code } = await leech.waitExit(ctx.timeoutMs);
    if (code !== 0) throw new Error(`aria2c leecher exited with ${code}: ${leech.lastError()}`);
    await seed.stop();
    const { connectedAt, doneAt } = aria2Times(await readFile(leechLog, 'latin1'), seedPort);
    return { spawnAt: leech.startedAt, connectedAt, doneAt, exitAt: leech.exitedAt, file: join(leechDir, ctx.name), seedUsage: seed.usage(), leechUsage: leech.usage() };
  });
}

/** From an aria2c info log: when the seed's handshake arrived and when the download then completed. */
function aria2Times(log, seedPort) {
  const lines = log.split('\n');
  const handshake = lines.findIndex((l) => l.includes(`From: ::1:${seedPort} handshake`));
  if (handshake < 0) throw new Error(`aria2c leecher log has no handshake from ::1:${seedPort}`);
  const done = lines.findIndex((l, i) => i > handshake && l.includes('The download was complete.'));
  if (done < 0) throw new Error('aria2c leecher log never says "The download was complete." after the handshake');
  return { connectedAt: aria2Time(lines[handshake]), doneAt: aria2Time(lines[done]) };
}

/** "2026-11-23 05:51:28.262845 [INFO] ..." (local time) -> epoch ms. */
export function aria2Time(line) {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d+) /.exec(line);
  if (!m) throw new Error(`aria2c log line without a timestamp: ${line.slice(0, 80)}`);
  return new Date(`${m[1]}T${m[2]}`).getTime() + Number(`0.${m[3]}`) * 1000;
}

/**
 * libtorrent seed -> libtorrent leecher (bench/lt-peer.py); times from the leecher's events.
 * `rc4`: both force encryption with RC4 only (lt-peer.py --rc4).
 */
export function libtorrentPair(ctx, dir, rc4) {
  const enc = rc4 ? ['--rc4'] : [];
  return withProcesses(async (start) => {
    const leechDir = join(dir, 'leech');
    await mkdir(leechDir, { recursive: true });
    const seed = start('libtorrent seed', [PYTHON, LT_PEER, ...enc, 'seed', ctx.torrent, ctx.dataDir], join(dir, 'seed'));
    const ready = await seed.waitFor((e) => e.event === 'ready', SEED_READY_MS, '"ready" event');
    const leech = start('libtorrent leecher', [PYTHON, LT_PEER, ...enc, 'leech', ctx.torrent, leechDir, `[::1]:${ready.port}`], join(dir, 'leech'));
    const connected = await leech.waitFor((e) => e.event === 'connected', ctx.timeoutMs, '"connected" event');
    const finished = await leech.waitFor((e) => e.event === 'finished', ctx.timeoutMs, '"finished" event');
    if (finished.rc4 !== rc4) throw new Error(`the libtorrent connection is ${finished.rc4 ? '' : 'not '}RC4-encrypted`);
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
    };
  });
}

/**
 * `sixswarm seed --recheck` over the complete data: seconds from its first "checking" event
 * (0 bytes checked) to its "checked" event, and how many pieces were valid.
 */
export function sixswarmRecheck(ctx, dir) {
  return withProcesses(async (start) => {
    const seed = start('sixswarm seed --recheck', sixswarmArgv(ctx, 'recheck', ['seed', ctx.torrent, ctx.dataDir, '--recheck', '--port', '0', '--json', '--state-dir', join(dir, 'state')]), join(dir, 'recheck'));
    const first = await seed.waitFor((e) => e.event === 'checking' && e.checkedBytes === 0, 60_000, 'first "checking" event');
    const checked = await seed.waitFor((e) => e.event === 'checked', ctx.timeoutMs, '"checked" event');
    await seed.stop();
    return { seconds: (Date.parse(checked.time) - Date.parse(first.time)) / 1000, bytes: first.totalBytes, valid: checked.valid, pieces: checked.pieces };
  });
}
