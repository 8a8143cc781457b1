/**
 * BitTorrent v2 (BEP 52) against a real libtorrent 2.0 (python3-libtorrent) over [::1]: v2-only
 * and hybrid torrents, by file and by magnet (`urn:btmh:`), both ways. sixswarm's connections run
 * under the v2 info hash (named, or a hybrid's v1 connection upgraded); a magnet's piece layers
 * come from the peer as hash requests and are served back the same way (also for two files with
 * one merkle root, and for 16 KiB pieces, whose layer is level 0); torrents `create --v2`
 * and `--hybrid` make are ones libtorrent downloads; and a corrupted block beside an honest seed
 * is caught by its merkle hash, with only its sender blamed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTorrent, readTorrentFile } from '../../src/metainfo/torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { downloadOverIPv6, expectIPv6Only, libtorrentCreate, libtorrentPeer, libtorrentPeers, logTiming, seedOverIPv6, since, stopSeed } from '../support/peers.js';
import { RawPeerServer } from '../support/raw-peer.js';
import { cleanUpAfterEach, freePort, makeTree, runCli, sixswarm, tempDir, treeDigest, type SixswarmProcess } from '../support/sixswarm.js';

const MiB = 1024 * 1024;
const TREE = {
  'a.bin': 3 * MiB + 777,
  'sub/b.bin': 1 * MiB + 4099,
  'sub/c.txt': 5000,
  'sub/deeper/d.bin': 1 * MiB + 1,
};
const TREE_BYTES = Object.values(TREE).reduce((a, b) => a + b, 0);
const PIECE = 64 * 1024;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function setup() {
  dir = await tempDir('sixswarm-interop-v2-');
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

async function magnetOf(torrent: string): Promise<string> {
  const r = await runCli(['info', torrent, '--magnet']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** Every connection sixswarm made ran under the v2 info hash. */
function expectV2Connections(p: SixswarmProcess): void {
  const connected = p.events.filter((e) => e.event === 'peer-connected');
  expect(connected.length).toBeGreaterThan(0);
  for (const c of connected) expect(c.v2, JSON.stringify(c)).toBe(true);
}

/** libtorrent (from the .torrent, or by `magnet`) downloads from a sixswarm seed over [::1], without a hash failure. */
async function libtorrentDownloadsFromSixswarm(d: string, env: NodeJS.ProcessEnv, torrent: string, what: string, magnet?: string): Promise<SixswarmProcess> {
  const seed = await seedOverIPv6({ torrent, dir: join(d, 'seed'), env });
  const seedPort = await seed.port();
  const t0 = Date.now();
  const lt = libtorrentPeer({ ...(magnet ? { magnet } : { torrent }), save: join(d, 'leech'), port: await freePort(), connect: [`[::1]:${seedPort}`] });
  const done = await lt.event('complete', 30_000);
  const ms = since(t0);
  expect(done.failed, 'bytes that failed libtorrent hash checks').toBe(0);
  expect(lt.events.filter((e) => e.event === 'hash-failed' || e.event === 'error')).toEqual([]);
  expect(libtorrentPeers(lt)).toContain(`out ::1:${seedPort} sixswarm 0.1.0`);
  expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
  expectIPv6Only(seed);
  expectV2Connections(seed);
  expect(await stopSeed(seed)).toBeGreaterThanOrEqual(done.downloaded as number);
  logTiming(`sixswarm -> libtorrent (${what})`, TREE_BYTES, ms);
  return seed;
}

function lastProgress(p: SixswarmProcess): Record<string, unknown> {
  return p.events.filter((e) => e.event === 'progress').at(-1)!;
}

/** The metadata a magnet download kept in the state folder, with the piece layers it fetched. */
async function savedMetadata(d: string): Promise<Metainfo> {
  const { readdir } = await import('node:fs/promises');
  const files = await readdir(join(d, 'state', 'metadata'));
  expect(files).toHaveLength(1);
  return parseTorrent(await readFile(join(d, 'state', 'metadata', files[0]!)));
}

describe('BitTorrent v2 with libtorrent over [::1]', () => {
  it('sixswarm downloads a libtorrent v2-only torrent from a libtorrent seed, over v2 connections', async () => {
    const { d, env } = await setup();
    await libtorrentCreate(join(d, 'seed', 'payload'), join(d, 'v2.torrent'), PIECE, 'v2');
    const meta = await readTorrentFile(join(d, 'v2.torrent'));
    expect([meta.v1, meta.v2]).toEqual([false, true]);
    const port = await libtorrentSeed(d, join(d, 'v2.torrent'));
    const t0 = Date.now();
    const leech = await downloadOverIPv6({ torrent: join(d, 'v2.torrent'), out: join(d, 'leech'), port, env, timeoutMs: 30_000 });
    logTiming('libtorrent -> sixswarm (v2 only)', TREE_BYTES, since(t0));
    expectV2Connections(leech);
    expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
  });

  it('sixswarm downloads a v2-only magnet (urn:btmh:): metadata, then the piece layers by hash requests, then the data', async () => {
    const { d, env } = await setup();
    await libtorrentCreate(join(d, 'seed', 'payload'), join(d, 'v2.torrent'), PIECE, 'v2');
    const magnet = await magnetOf(join(d, 'v2.torrent'));
    expect(magnet).toMatch(/xt=urn:btmh:1220[0-9a-f]{64}/);
    expect(magnet).not.toMatch(/btih/);
    const port = await libtorrentSeed(d, join(d, 'v2.torrent'));
    const t0 = Date.now();
    const leech = await downloadOverIPv6({ torrent: magnet, out: join(d, 'leech'), port, env, timeoutMs: 30_000 });
    logTiming('libtorrent -> sixswarm (v2 magnet)', TREE_BYTES, since(t0));
    expectV2Connections(leech);
    expect(leech.events.find((e) => e.event === 'metadata')).toBeDefined();
    expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
    // The info dictionary has no piece layers: the three files of more than a piece had theirs
    // fetched from libtorrent, proven against their roots, and kept with the metadata.
    const saved = await savedMetadata(d);
    const original = await readTorrentFile(join(d, 'v2.torrent'));
    expect(saved.infoHashV2).toEqual(original.infoHashV2);
    expect([...saved.pieceLayers.entries()]).toEqual([...original.pieceLayers.entries()]);
    expect(saved.pieceLayers.size).toBe(3);
    expect(lastProgress(leech).hashes).toMatchObject({ fetched: 3 });
  });

  it('two files with the same content (one merkle root), pieces of 16 KiB: a v2 magnet downloads both ways', async () => {
    dir = await tempDir('sixswarm-interop-v2-');
    const d = dir, env = { SIXSWARM_STATE_DIR: join(d, 'state') };
    const same = randomBytes(40 * 16 * 1024 + 5);
    await mkdir(join(d, 'seed', 'payload', 'sub'), { recursive: true });
    await writeFile(join(d, 'seed', 'payload', 'one.bin'), same);
    await writeFile(join(d, 'seed', 'payload', 'sub', 'copy.bin'), same);
    await writeFile(join(d, 'seed', 'payload', 'big.bin'), randomBytes(2 * MiB + 3));
    await libtorrentCreate(join(d, 'seed', 'payload'), join(d, 'v2.torrent'), 16 * 1024, 'v2');
    const meta = await readTorrentFile(join(d, 'v2.torrent'));
    const roots = meta.files.filter((f) => f.piecesRoot).map((f) => f.piecesRoot!.toString('hex'));
    expect(new Set(roots).size).toBe(roots.length - 1);
    const magnet = await magnetOf(join(d, 'v2.torrent'));
    // libtorrent -> sixswarm: both copies get their layer from the answers for their one root.
    const port = await libtorrentSeed(d, join(d, 'v2.torrent'));
    const leech = await downloadOverIPv6({ torrent: magnet, out: join(d, 'leech'), port, env, timeoutMs: 30_000 });
    expect(leech.events.filter((e) => e.event === 'peer-disconnected' && /protocol error/.test(String(e.reason)))).toEqual([]);
    expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
    // sixswarm -> libtorrent: the piece layers (level 0 of the trees, with 16 KiB pieces) served to it.
    const seed = await seedOverIPv6({ torrent: join(d, 'v2.torrent'), dir: join(d, 'seed'), env: { SIXSWARM_STATE_DIR: join(d, 'state-seed') } });
    const lt = libtorrentPeer({ magnet, save: join(d, 'by-libtorrent'), port: await freePort(), connect: [`[::1]:${await seed.port()}`] });
    const done = await lt.event('complete', 30_000);
    expect(done.failed, 'bytes that failed libtorrent hash checks').toBe(0);
    expect(await treeDigest(join(d, 'by-libtorrent'))).toEqual(await treeDigest(join(d, 'seed')));
    await stopSeed(seed);
  });

  it('sixswarm downloads a libtorrent hybrid by file and by magnet, its v1 dial upgraded to v2', async () => {
    const { d, env } = await setup();
    await libtorrentCreate(join(d, 'seed', 'payload'), join(d, 'hybrid.torrent'), PIECE, 'hybrid');
    const magnet = await magnetOf(join(d, 'hybrid.torrent'));
    expect(magnet).toMatch(/xt=urn:btih:[0-9a-f]{40}&xt=urn:btmh:1220[0-9a-f]{64}/);
    const port = await libtorrentSeed(d, join(d, 'hybrid.torrent'));
    // Plaintext dials (--encryption allow): the v1 handshake offers the upgrade and libtorrent takes it.
    const byFile = await downloadOverIPv6({ torrent: join(d, 'hybrid.torrent'), out: join(d, 'by-file'), port, env, timeoutMs: 30_000, args: ['--encryption', 'allow'] });
    expectV2Connections(byFile);
    expect(await treeDigest(join(d, 'by-file'))).toEqual(await treeDigest(join(d, 'seed')));
    const byMagnet = await downloadOverIPv6({ torrent: magnet, out: join(d, 'by-magnet'), port, env: { SIXSWARM_STATE_DIR: join(d, 'state-magnet') }, timeoutMs: 30_000, args: ['--encryption', 'allow'] });
    expectV2Connections(byMagnet);
    expect(await treeDigest(join(d, 'by-magnet'))).toEqual(await treeDigest(join(d, 'seed')));
    // Encrypted dials (the default): libtorrent finds the torrent by the v1 hash's MSE key and,
    // as between two libtorrents, ignores the offer: the connection stays v1, checked by SHA-1.
    const encrypted = await downloadOverIPv6({ torrent: magnet, out: join(d, 'encrypted'), port, env: { SIXSWARM_STATE_DIR: join(d, 'state-mse') }, timeoutMs: 30_000 });
    expect(encrypted.events.find((e) => e.event === 'peer-connected')).toMatchObject({ encrypted: true });
    expect(await treeDigest(join(d, 'encrypted'))).toEqual(await treeDigest(join(d, 'seed')));
  });

  it('libtorrent downloads v2-only and hybrid torrents made by sixswarm create from a sixswarm seed', async () => {
    const { d, env } = await setup();
    for (const format of ['v2', 'hybrid'] as const) {
      const torrent = join(d, `${format}.torrent`);
      const created = await runCli(['create', join(d, 'seed', 'payload'), '-o', torrent, '--piece-length', '32K', `--${format}`]);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toMatch(/infohash v2 [0-9a-f]{64}/);
      await libtorrentDownloadsFromSixswarm(d, { ...env, SIXSWARM_STATE_DIR: join(d, `state-${format}`) }, torrent, `sixswarm create --${format}`);
      await import('node:fs/promises').then((fs) => fs.rm(join(d, 'leech'), { recursive: true }));
    }
  });

  it('libtorrent fetches a v2 magnet from a sixswarm seed: the metadata, then the piece layers sixswarm serves', async () => {
    const { d, env } = await setup();
    await libtorrentCreate(join(d, 'seed', 'payload'), join(d, 'v2.torrent'), PIECE, 'v2');
    const magnet = await magnetOf(join(d, 'v2.torrent'));
    const seed = await libtorrentDownloadsFromSixswarm(d, env, join(d, 'v2.torrent'), 'v2 magnet, piece layers served', magnet);
    // libtorrent asked for the three files' piece layers (and maybe leaves): every request answered.
    const hashes = lastProgress(seed).hashes as { answered: number; rejected: number };
    expect(hashes.answered).toBeGreaterThanOrEqual(3);
    expect(hashes.rejected).toBe(0);
  });

  it('libtorrent fetches a hybrid magnet from a sixswarm seed over an upgraded connection', async () => {
    const { d, env } = await setup();
    await libtorrentCreate(join(d, 'seed', 'payload'), join(d, 'hybrid.torrent'), PIECE, 'hybrid');
    const magnet = await magnetOf(join(d, 'hybrid.torrent'));
    await libtorrentDownloadsFromSixswarm(d, env, join(d, 'hybrid.torrent'), 'hybrid magnet', magnet);
  });
});

describe('a corrupted block in a v2 torrent', () => {
  it('fails the merkle check, the true leaf hashes from the honest seed name its sender, and only it is blamed', async () => {
    const { d, env } = await setup();
    const BIG = 1024 * 1024; // 64 blocks a piece: the bad piece gets blocks from both peers
    await libtorrentCreate(join(d, 'seed', 'payload'), join(d, 'v2.torrent'), BIG, 'v2');
    const meta = await readTorrentFile(join(d, 'v2.torrent'));
    const payload = Buffer.alloc(meta.totalLength); // the torrent's piece space: files at their offsets, padding zeros
    for (const f of meta.files) if (!f.pad && f.length > 0) (await readFile(join(d, 'seed', ...f.path))).copy(payload, f.offset);
    const ltPort = await libtorrentSeed(d, join(d, 'v2.torrent'));
    // The liar has one piece only and corrupts every block of it it sends: it starts that piece,
    // and the honest seed fills in the blocks it did not get to.
    const BAD = 1;
    const liar = await RawPeerServer.listen('127.0.0.1');
    liar.onPeer(async (p) => {
      await p.readHandshake();
      p.sendHandshake(meta.infoHash);
      p.serve(payload, meta.pieceLength, { pieces: [BAD], corruptPieces: [BAD], rejectHashRequests: true });
    });
    try {
      // Rate-limited, so that both peers are connected and asked while the pieces come in.
      const leech = sixswarm(['download', join(d, 'v2.torrent'), '-o', join(d, 'leech'), '--peer', liar.address, '--peer', `[::1]:${ltPort}`, '--port', '0', '--max-down', '2M', '--exit-on-complete', '--json'], { env, label: 'sixswarm download' });
      const failed = await leech.waitFor((e) => e.event === 'piece-failed' && e.index === BAD, 30_000, 'the bad piece to fail');
      expect((failed.peers as string[]).sort()).toEqual(['127.0.0.1', '::1']); // both sent blocks of it
      const blamed = await leech.waitFor((e) => e.event === 'piece-blamed' && e.index === BAD, 40_000, 'the block-level verdict');
      expect(blamed.peers).toEqual(['127.0.0.1']);
      await leech.event('complete', 60_000);
      expect(await leech.exited).toBe(0);
      expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
      // The honest seed's blocks were never blamed, and it was never banned.
      for (const e of leech.events.filter((x) => x.event === 'piece-blamed')) expect(e.peers).toEqual(['127.0.0.1']);
      expect(leech.events.filter((e) => e.event === 'peer-banned').map((e) => e.ip)).not.toContain('::1');
      expect(leech.events.filter((e) => e.event === 'peer-disconnected' && /banned/.test(e.reason as string)).map((e) => e.address)).not.toContain(`[::1]:${ltPort}`);
    } finally {
      await liar.close();
    }
  });
});
