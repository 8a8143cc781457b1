/**
 * sixswarm against a real libtorrent-rasterbar 2.0 (python3-libtorrent) over [::1] only, both
 * ways, including libtorrent's own v1+v2 hybrid torrents, whose BEP 47 pad files sixswarm never
 * writes but must read (and serve) as zeros.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadOverIPv6, expectIPv6Only, libtorrentCreate, libtorrentPeer, libtorrentPeers, logTiming, mktorrent, seedOverIPv6, since, stopSeed } from '../support/peers.js';
import { cleanUpAfterEach, freePort, makeTree, runCli, tempDir, treeDigest } from '../support/sixswarm.js';

const MiB = 1024 * 1024;
const TREE = {
  'a.bin': 3 * MiB + 777,
  'sub/b.bin': 1 * MiB + 4099,
  'sub/c.txt': 5000,
  'sub/deeper/d.bin': 1 * MiB + 1,
};
const TREE_BYTES = Object.values(TREE).reduce((a, b) => a + b, 0);

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function setup() {
  dir = await tempDir('sixswarm-interop-lt-');
  await makeTree(join(dir, 'seed', 'payload'), TREE);
  return { d: dir, env: { SIXSWARM_STATE_DIR: join(dir, 'state') } };
}

/** A libtorrent seed of the data in d/seed, listening on [::1] only; resolves with its port. */
async function libtorrentSeed(d: string, torrent: string): Promise<number> {
  const port = await freePort();
  const lt = libtorrentPeer({ torrent, save: join(d, 'seed'), port });
  const checked = await lt.event('checked');
  expect(checked.seeding, 'libtorrent has all the data').toBe(true);
  return port;
}

/** libtorrent dials the sixswarm seed over [::1] and must finish with every piece and no hash failure. */
async function libtorrentDownloadsFromSixswarm(d: string, env: NodeJS.ProcessEnv, torrent: string, what: string) {
  const seed = await seedOverIPv6({ torrent, dir: join(d, 'seed'), env });
  const seedPort = await seed.port();
  const t0 = Date.now();
  const lt = libtorrentPeer({ torrent, save: join(d, 'leech'), port: await freePort(), connect: [`[::1]:${seedPort}`] });
  const checked = await lt.event('checked');
  expect(checked.seeding).toBe(false);
  const done = await lt.event('complete', 30_000);
  const ms = since(t0);
  expect(done.pieces).toBe(checked.total);
  expect(done.failed, 'bytes that failed libtorrent hash checks').toBe(0);
  expect(lt.events.filter((e) => e.event === 'hash-failed' || e.event === 'error')).toEqual([]);
  expect(libtorrentPeers(lt)).toContain(`out ::1:${seedPort} sixswarm 0.1.0`);
  expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
  expectIPv6Only(seed);
  expect(await stopSeed(seed)).toBeGreaterThanOrEqual(done.downloaded as number);
  logTiming(`sixswarm -> libtorrent (${what})`, TREE_BYTES, ms);
}

describe('libtorrent interop over [::1]', () => {
  it('libtorrent downloads a multi-file sixswarm-created torrent from a sixswarm seed', async () => {
    const { d, env } = await setup();
    const created = await runCli(['create', join(d, 'seed', 'payload'), '-o', join(d, 'p.torrent'), '--piece-length', '32K']);
    expect(created.code, created.stderr).toBe(0);
    await libtorrentDownloadsFromSixswarm(d, env, join(d, 'p.torrent'), 'sixswarm create');
  });

  it('sixswarm downloads a multi-file mktorrent torrent from a libtorrent seed', async () => {
    const { d, env } = await setup();
    await mktorrent(join(d, 'seed', 'payload'), join(d, 'p.torrent'), 18);
    const port = await libtorrentSeed(d, join(d, 'p.torrent'));
    const t0 = Date.now();
    const leech = await downloadOverIPv6({ torrent: join(d, 'p.torrent'), out: join(d, 'leech'), port, env, timeoutMs: 30_000 });
    logTiming('libtorrent -> sixswarm (mktorrent)', TREE_BYTES, since(t0));
    expect(leech.events.find((e) => e.event === 'peer-connected')?.client).toMatch(/^-LT20/);
    expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
  });

  it('sixswarm downloads a libtorrent-created hybrid torrent with pad files from a libtorrent seed', async () => {
    const { d, env } = await setup();
    await libtorrentCreate(join(d, 'seed', 'payload'), join(d, 'hybrid.torrent'), 64 * 1024);
    const info = await runCli(['info', join(d, 'hybrid.torrent'), '--json']);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout, 'libtorrent inserted pad files').toMatch(/"pad":true/);
    const port = await libtorrentSeed(d, join(d, 'hybrid.torrent'));
    const t0 = Date.now();
    await downloadOverIPv6({ torrent: join(d, 'hybrid.torrent'), out: join(d, 'leech'), port, env, timeoutMs: 30_000 });
    logTiming('libtorrent -> sixswarm (libtorrent hybrid, pad files)', TREE_BYTES, since(t0));
    // Pad files are never written: the tree on disk is exactly the payload.
    expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
  });

  it('libtorrent downloads its own hybrid torrent with pad files from a sixswarm seed', async () => {
    const { d, env } = await setup();
    await libtorrentCreate(join(d, 'seed', 'payload'), join(d, 'hybrid.torrent'), 64 * 1024);
    await libtorrentDownloadsFromSixswarm(d, env, join(d, 'hybrid.torrent'), 'libtorrent hybrid, pad files');
  });
});
