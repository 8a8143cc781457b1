/**
 * Resume of a BitTorrent v2 download after a crash (kill -9) and after a clean stop, as for v1:
 * from a .torrent (a raw-TCP harness seeds it at a fixed rate so the download can be stopped
 * halfway), and from a v2 magnet (libtorrent seeds it; the piece layers fetched from it were kept
 * with the metadata before any piece of their files was written, so the restart can check the
 * pieces on disk against them and downloads only the rest).
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { ensureBuilt } from '../support/build.js';
import { libtorrentPeer } from '../support/peers.js';
import { RawPeerServer, type ServeOptions } from '../support/raw-peer.js';
import { freePort, makeTree, removeDir, runCli, sixswarm, tempDir, treeDigest, type JsonEvent, type SixswarmProcess } from '../support/sixswarm.js';
import { readFile } from 'node:fs/promises';

const PIECE = 64 * 1024;
const TREE = { 'big.bin': 12 * 1024 * 1024 + 4321, 'sub/mid.bin': 4 * 1024 * 1024 - 99, 'sub/small.txt': 777 };
const SLOW = 8 * 1024 * 1024;

let dir: string;
let torrent: string;
let meta: Metainfo;
let harness: RawPeerServer;
const serving: ServeOptions = {};
const procs: SixswarmProcess[] = [];
let runs = 0;

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('sixswarm-resume-v2-');
  await makeTree(join(dir, 'seed', 'payload'), TREE);
  torrent = join(dir, 'v2.torrent');
  const r = await runCli(['create', join(dir, 'seed', 'payload'), '-o', torrent, '--piece-length', String(PIECE), '--v2']);
  expect(r.code, r.stderr).toBe(0);
  meta = await readTorrentFile(torrent);
  // The torrent's piece space: each file from the start of a piece, padding zeros.
  const payload = Buffer.alloc(meta.totalLength);
  for (const f of meta.files) if (!f.pad) (await readFile(join(dir, 'seed', ...f.path))).copy(payload, f.offset);
  harness = await RawPeerServer.listen('127.0.0.1');
  harness.seed(meta.infoHash, payload, PIECE, serving);
});

afterEach(async () => {
  const all = procs.splice(0);
  for (const p of all) p.kill('SIGKILL');
  await Promise.all(all.map((p) => p.exited));
  for (const p of harness.peers) p.close();
});

afterAll(async () => {
  await harness?.close();
  await removeDir(dir);
});

function run(source: string, out: string, stateDir: string, extra: string[]): SixswarmProcess {
  const p = sixswarm(['download', source, '-o', out, '--port', '0', '--json', ...extra], { env: { SIXSWARM_STATE_DIR: stateDir }, label: `leech-${++runs}` });
  procs.push(p);
  return p;
}

const verifiedIn = (p: SixswarmProcess): number[] => p.events.filter((e) => e.event === 'piece-verified').map((e) => e.index as number);

/** Stop `p` with `signal` once 40–60% of the pieces are verified; returns them. */
async function stopHalfway(p: SixswarmProcess, signal: NodeJS.Signals): Promise<number[]> {
  let count = 0;
  const target = Math.round(meta.pieceCount * 0.45);
  await p.waitFor((e) => e.event === 'piece-verified' && ++count >= target, 30_000, `${target} verified pieces`);
  p.kill(signal);
  await p.exited;
  const verified = verifiedIn(p);
  expect(verified.length).toBeGreaterThanOrEqual(target);
  expect(verified.length).toBeLessThan(meta.pieceCount * 0.8);
  return verified;
}

/** Run to completion: every piece either found on disk or downloaded now, not both. */
async function finish(p: SixswarmProcess, out: string): Promise<{ checked: JsonEvent; downloaded: number[] }> {
  const checked = await p.event('checked', 20_000);
  await p.event('complete', 30_000);
  expect(await p.exited).toBe(0);
  const downloaded = verifiedIn(p);
  expect(new Set(downloaded).size).toBe(downloaded.length);
  expect(checked.have as number).toBe(meta.pieceCount - downloaded.length);
  expect(await treeDigest(join(out, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
  return { checked, downloaded };
}

describe('resume of a v2 download', () => {
  it('after kill -9 halfway, finds the verified pieces by their merkle hashes and downloads only the rest', async () => {
    const out = join(dir, 'kill9'), state = join(dir, 'state-kill9');
    const peer = ['--peer', `127.0.0.1:${harness.port}`];
    serving.bytesPerSecond = SLOW;
    const before = await stopHalfway(run(torrent, out, state, peer), 'SIGKILL');
    serving.bytesPerSecond = 0;
    const { checked, downloaded } = await finish(run(torrent, out, state, [...peer, '--exit-on-complete']), out);
    expect(checked.valid as number).toBeGreaterThanOrEqual(before.length);
    for (const i of before) expect(downloaded).not.toContain(i);
  });

  it('after a clean SIGTERM stop, trusts the saved state instead of hashing', async () => {
    const out = join(dir, 'term'), state = join(dir, 'state-term');
    const peer = ['--peer', `127.0.0.1:${harness.port}`];
    serving.bytesPerSecond = SLOW;
    const before = await stopHalfway(run(torrent, out, state, peer), 'SIGTERM');
    serving.bytesPerSecond = 0;
    const { checked, downloaded } = await finish(run(torrent, out, state, [...peer, '--exit-on-complete']), out);
    expect(checked.trusted as number).toBeGreaterThanOrEqual(before.length);
    expect(checked.hashed).toBe(0);
    for (const i of before) expect(downloaded).not.toContain(i);
  });

  it('of a v2 magnet after kill -9: the piece layers kept with the metadata check what is on disk', async () => {
    const magnet = (await runCli(['info', torrent, '--magnet'])).stdout.trim();
    const ltPort = await freePort();
    const lt = libtorrentPeer({ torrent, save: join(dir, 'seed'), port: ltPort });
    expect((await lt.event('checked')).seeding).toBe(true);
    const out = join(dir, 'magnet'), state = join(dir, 'state-magnet');
    const peer = ['--peer', `[::1]:${ltPort}`];
    const before = await stopHalfway(run(magnet, out, state, [...peer, '--max-down', '4M']), 'SIGKILL');
    const restart = run(magnet, out, state, [...peer, '--exit-on-complete']);
    const { checked, downloaded } = await finish(restart, out);
    // The metadata was not fetched again: it came from the state folder, with its layers.
    expect(restart.events.find((e) => e.event === 'metadata')).toBeUndefined();
    expect(checked.valid as number).toBeGreaterThanOrEqual(before.length);
    for (const i of before) expect(downloaded).not.toContain(i);
  });
});
