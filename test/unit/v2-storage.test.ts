/**
 * The check of a v2 torrent's data on disk, over real files and the real hashing workers: every
 * piece by its merkle hash (a hybrid's by its SHA-1 too), a damaged piece alone lost; a torrent
 * without piece layers (a magnet's metadata) rebuilds each file's layer from the disk when the
 * file proves its root, and leaves a damaged file's pieces to be fetched; resume state trusted
 * afterwards as for v1.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BDict, decode, encode } from '../../src/bencode/index.js';
import { createTorrent, type TorrentFormat } from '../../src/metainfo/create.js';
import { parseTorrent } from '../../src/metainfo/torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { HashPool } from '../../src/storage/hash-pool.js';
import { TorrentStorage } from '../../src/storage/torrent-storage.js';
import { cleanUpAfterEach, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);
const pool = new HashPool(2);
afterAll(() => pool.close());

const PIECE = 64 * 1024;
const FILES = { 'a.bin': 20 * PIECE + 5, 'sub/b.bin': 3 * PIECE - 1, 'sub/c.txt': 1000 };

async function payload(format: TorrentFormat, files: Record<string, number> = FILES): Promise<{ meta: Metainfo; bare: Metainfo; root: string }> {
  dir = await tempDir('sixswarm-v2-storage-');
  for (const [rel, size] of Object.entries(files)) {
    await mkdir(join(dir, 'p', rel, '..'), { recursive: true });
    await writeFile(join(dir, 'p', rel), randomBytes(size));
  }
  const buf = await createTorrent({ path: join(dir, 'p'), format, pieceLength: PIECE });
  const top = decode(buf) as BDict;
  top.delete('piece layers');
  return { meta: parseTorrent(buf), bare: parseTorrent(encode(top)), root: dir };
}

function storage(meta: Metainfo, root: string, state = 'state'): TorrentStorage {
  return new TorrentStorage(meta, root, pool, { writable: false, stateDir: join(root, state) });
}

/** Flip one byte of a file: the piece holding it no longer matches. */
async function flip(file: string, at: number): Promise<void> {
  const fh = await open(file, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at);
  b[0]! ^= 0xff;
  await fh.write(b, 0, 1, at);
  await fh.close();
}

describe('checking v2 data on disk', () => {
  it.each(['v2', 'hybrid'] as const)('%s: every piece by its hashes, a damaged one alone lost', async (format) => {
    const { meta, root } = await payload(format);
    const s = storage(meta, root);
    expect(await s.check(true)).toEqual({ hashed: meta.pieceCount, valid: meta.pieceCount, trusted: 0 });
    await flip(join(root, 'p', 'a.bin'), 7 * PIECE + 3);
    const again = storage(meta, root);
    expect((await again.check(true)).valid).toBe(meta.pieceCount - 1);
    expect(again.have.has(7)).toBe(false);
    await s.close();
    await again.close();
  });

  it.each(['v2', 'hybrid'] as const)('%s: a check spread over several worker jobs (32 MiB each) puts every hash in its place', async (format) => {
    const { meta, root } = await payload(format, { 'big.bin': 70 * 1024 * 1024 + 3, 'small.txt': 10 });
    const s = storage(meta, root);
    expect(await s.check(true)).toEqual({ hashed: meta.pieceCount, valid: meta.pieceCount, trusted: 0 });
    await s.close();
  });

  it('rebuilds missing piece layers from files that prove their roots, and loses only a damaged file', async () => {
    const { meta, bare, root } = await payload('v2');
    const s = storage(bare, root);
    expect(s.hashes.complete).toBe(false);
    expect((await s.check(true)).valid).toBe(meta.pieceCount);
    expect(s.hashes.complete).toBe(true);
    expect(s.hashes.learned).toBe(2); // a.bin and b.bin have more than one piece
    const hexes = (layers: Iterable<Buffer>) => [...layers].map((l) => l.toString('hex')).sort();
    expect(hexes(s.hashes.knownLayers().values())).toEqual(hexes(meta.pieceLayers.values()));
    await s.close();

    await flip(join(root, 'p', 'sub', 'b.bin'), 10);
    const damaged = storage(bare, root, 'state-2');
    const result = await damaged.check(true);
    // b.bin cannot prove its root: none of its three pieces can be told good until its layer comes from a peer.
    expect(result.valid).toBe(meta.pieceCount - 3);
    expect(damaged.hashes.complete).toBe(false);
    expect([...damaged.hashes.incompleteFiles()].map((f) => bare.files[f]!.path.join('/'))).toEqual(['p/sub/b.bin']);
    await damaged.close();
  });

  it('trusts its resume state after a save, as for v1', async () => {
    const { meta, root } = await payload('v2');
    const s = storage(meta, root);
    await s.check(false);
    await s.saveResume();
    await s.close();
    const again = storage(meta, root);
    expect(await again.check(false)).toEqual({ hashed: 0, valid: 0, trusted: meta.pieceCount });
    await again.close();
  });
});
