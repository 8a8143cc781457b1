/**
 * The process-wide LRU of open data files (src/storage/open-files.ts) shared by every torrent's
 * FileStore: real files, real descriptors (counted in /proc/self/fd). With room for one file,
 * a piece that spans three files is written and read back while another torrent's store takes
 * the room: every handle is closed and reopened on the way, the bytes come back as written, and
 * no more descriptors are open than the bound (plus the handles in use at that moment). Writes to
 * one file are queued one behind the other (parallel ones only wait on the inode lock).
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TorrentFile } from '../../src/metainfo/types.js';
import { FileStore } from '../../src/storage/file-store.js';
import { PieceLayout } from '../../src/storage/layout.js';
import { OpenFiles, type OpenFile } from '../../src/storage/open-files.js';
import { cleanUpAfterEach, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

const PIECE = 64 * 1024;

/** Files of `sizes` bytes one after another, under folder `name`. */
function layoutOf(name: string, sizes: number[]): PieceLayout {
  let offset = 0;
  const files: TorrentFile[] = sizes.map((length, i) => {
    const f = { path: [name, `f${i}.bin`], length, offset, pad: false };
    offset += length;
    return f;
  });
  return new PieceLayout(files, PIECE, offset);
}

/** Descriptors this process has open on files under `root`. */
async function openUnder(root: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(join('/proc/self/fd', fd)).catch(() => '');
    if (target.startsWith(root)) n++;
  }
  return n;
}

describe('the open-file LRU', () => {
  it('closes and reopens files under a write and a read of the same piece, within its bound, bytes intact', async () => {
    dir = await tempDir();
    const lru = new OpenFiles(1);
    // Piece 0 spans all three files of torrent A; torrent B is one file of two pieces.
    const a = new FileStore(dir, layoutOf('a', [10_000, 30_000, 2 * PIECE]), { writable: true, openFiles: lru });
    const b = new FileStore(dir, layoutOf('b', [2 * PIECE]), { writable: true, openFiles: lru });
    await a.checkFolder();
    await b.checkFolder();
    const pieceA = randomBytes(PIECE), pieceB0 = randomBytes(PIECE), pieceB1 = randomBytes(PIECE);

    await a.writePiece(0, pieceA);
    expect(lru.size).toBe(1); // three files opened one after another, each closing the one before
    // The read of A's piece reopens its files while B's writes take the one place in between.
    const [read] = await Promise.all([a.read(0, 0, PIECE), b.writePiece(0, pieceB0), b.writePiece(1, pieceB1)]);
    expect(read.equals(pieceA)).toBe(true);
    expect(lru.size).toBeLessThanOrEqual(1);
    // Closing is fsync then close, in the background; sync() waits for the closes under way.
    await Promise.all([a.sync(), b.sync()]);
    expect(await openUnder(dir)).toBeLessThanOrEqual(1);

    // A block across the boundary of A's first two files, read after B took the place again.
    expect((await b.read(1, 0, PIECE)).equals(pieceB1)).toBe(true);
    expect((await a.read(0, 9_000, 2_000)).equals(pieceA.subarray(9_000, 11_000))).toBe(true);
    await a.sync();
    await b.sync();
    await a.close();
    await b.close();
    expect(await openUnder(dir)).toBe(0);

    // What is on disk is what was written: files read by path, not through the stores.
    const f = async (name: string) => readFile(join(dir!, name));
    expect(Buffer.concat([await f('a/f0.bin'), await f('a/f1.bin'), (await f('a/f2.bin')).subarray(0, PIECE - 40_000)]).equals(pieceA)).toBe(true);
    expect((await f('b/f0.bin')).equals(Buffer.concat([pieceB0, pieceB1]))).toBe(true);
  });

  it('never closes a handle in use: the bound gives way while every file is busy, then shrinks back', async () => {
    dir = await tempDir();
    const lru = new OpenFiles(2);
    const stores = ['p', 'q', 'r', 's'].map((n) => new FileStore(dir!, layoutOf(n, [PIECE]), { writable: true, openFiles: lru }));
    const pieces = stores.map(() => randomBytes(PIECE));
    // Four writes at once: each holds its file while it writes, so all four are open.
    const writes = stores.map((s, i) => s.writePiece(0, pieces[i]!));
    expect(lru.size).toBe(4);
    await Promise.all(writes);
    // As each write ended, idle files closed down to the bound.
    expect(lru.size).toBe(2);
    await Promise.all(stores.map((s) => s.sync()));
    expect(await openUnder(dir)).toBe(2);
    for (const [i, s] of stores.entries()) expect((await s.read(0, 0, PIECE)).equals(pieces[i]!)).toBe(true);
    expect(lru.size).toBe(2);
    for (const s of stores) await s.close();
    expect(lru.size).toBe(0);
    expect(await openUnder(dir)).toBe(0);
  });
});

describe('writes to one file', () => {
  it('go one at a time, in the order they were asked for, and each settles with its own bytes on disk', async () => {
    dir = await tempDir();
    const pieces = 64;
    // The real LRU, watched: how many operations hold the file at once.
    let most = 0;
    class Watched extends OpenFiles {
      override add(f: OpenFile): void {
        super.add(f);
        most = Math.max(most, f.users);
      }
      override use(f: OpenFile): void {
        super.use(f);
        most = Math.max(most, f.users);
      }
    }
    const store = new FileStore(dir, layoutOf('one', [pieces * PIECE]), { writable: true, openFiles: new Watched(8) });
    await store.checkFolder();
    const data = Array.from({ length: pieces }, () => randomBytes(PIECE));
    // All asked for at once, as verified pieces arrive: unqueued, all 64 would hold the file together.
    const finished: number[] = [];
    await Promise.all(data.map((d, i) => store.writePiece(i, d).then(() => finished.push(i))));
    expect(most).toBe(1);
    expect(finished).toEqual(data.map((_, i) => i));
    await store.sync();
    expect((await readFile(join(dir, 'one', 'f0.bin'))).equals(Buffer.concat(data))).toBe(true);
    // A file of another store is not held up behind them (its queue is its own).
    const other = new FileStore(dir, layoutOf('two', [PIECE]), { writable: true });
    const again = store.writePiece(0, data[0]!);
    await other.writePiece(0, data[1]!);
    await again;
    expect((await other.read(0, 0, PIECE)).equals(data[1]!)).toBe(true);
    await store.close();
    await other.close();
  });
});
