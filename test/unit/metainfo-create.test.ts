import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, ftruncateSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, BDict } from '../../src/bencode/index.js';
import { autoPieceLength, createTorrent } from '../../src/metainfo/create.js';
import { parseTorrent } from '../../src/metainfo/torrent.js';
import { InputError } from '../../src/util/errors.js';

const LT_INSPECT = join(import.meta.dirname, '..', '..', 'fixtures', 'torrents', 'lt_inspect.py');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sixswarm-create-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** A fresh folder under the test's temp dir, filled with the given files (path -> bytes). */
function tree(files: Record<string, Buffer | string>): string {
  const root = join(dir, `t${counter++}`);
  mkdirSync(root);
  for (const [rel, data] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), data);
  }
  return root;
}

const pseudoRandom = (n: number, seed: number): Buffer => {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
};

function piecesOf(data: Buffer, pieceLength: number): string {
  let hex = '';
  for (let off = 0; off < data.length; off += pieceLength) {
    hex += createHash('sha1').update(data.subarray(off, off + pieceLength)).digest('hex');
  }
  return hex;
}

async function usageError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error('createTorrent accepted what it should refuse');
}

const ltView = (torrent: string, data: string): { info_hash_v1: string; pieces_ok: boolean; files: { path: string[] }[] } =>
  JSON.parse(execFileSync('/usr/bin/python3', [LT_INSPECT, torrent, data], { encoding: 'utf8' }));

describe('createTorrent', () => {
  it('makes a single-file torrent whose piece hashes match the data', async () => {
    const data = pseudoRandom(100_001, 7);
    const root = tree({ 'movie.bin': data });
    const before = Math.floor(Date.now() / 1000);
    const buf = await createTorrent({
      path: join(root, 'movie.bin'),
      trackers: [['udp://[::1]:6969'], ['http://127.0.0.1:1/a', 'http://[::1]:1/a']],
      pieceLength: 32768,
      private: true,
      comment: 'a comment',
    });
    const m = parseTorrent(buf);
    expect(m).toMatchObject({
      name: 'movie.bin',
      multiFile: false,
      totalLength: 100_001,
      pieceLength: 32768,
      pieceCount: 4,
      private: true,
      comment: 'a comment',
      createdBy: 'sixswarm/0.1.0',
      announce: [['udp://[::1]:6969'], ['http://127.0.0.1:1/a', 'http://[::1]:1/a']],
    });
    expect(m.creationDate).toBeGreaterThanOrEqual(before);
    expect(m.files).toEqual([{ path: ['movie.bin'], length: 100_001, offset: 0, pad: false }]);
    expect(m.pieceHashes.toString('hex')).toBe(piecesOf(data, 32768));
    const root0 = decode(buf) as BDict;
    expect(root0.get('announce')).toEqual(Buffer.from('udp://[::1]:6969'));
  });

  it('writes announce without announce-list for one tracker, and no private key unless asked', async () => {
    const root = tree({ f: 'x'.repeat(100) });
    const d = decode(await createTorrent({ path: join(root, 'f'), trackers: [['udp://[::1]:1']] })) as BDict;
    expect(d.has('announce-list')).toBe(false);
    expect((d.get('info') as BDict).has('private')).toBe(false);
    const none = decode(await createTorrent({ path: join(root, 'f') })) as BDict;
    expect(none.has('announce')).toBe(false);
  });

  it('makes a multi-file torrent in byte order, with pieces across file boundaries, that libtorrent loads and verifies', async () => {
    const root = tree({
      'B.txt': pseudoRandom(5000, 1),
      'a.txt': pseudoRandom(20_000, 2),
      'a/x': pseudoRandom(16_384, 3),
      'a/empty': '',
      'a/z/deep.bin': pseudoRandom(40_000, 4),
      'é.txt': pseudoRandom(3, 5),
      '.hidden': pseudoRandom(10, 6),
    });
    const progress: [number, number][] = [];
    const buf = await createTorrent({ path: root, pieceLength: 16384, onProgress: (a, b) => progress.push([a, b]) });
    const m = parseTorrent(buf);
    const name = root.split('/').pop()!;
    expect(m.multiFile).toBe(true);
    expect(m.files.map((f) => f.path.slice(1).join('/'))).toEqual(['.hidden', 'B.txt', 'a/empty', 'a/x', 'a/z/deep.bin', 'a.txt', 'é.txt']);
    expect(m.files.every((f) => f.path[0] === name)).toBe(true);
    expect(m.totalLength).toBe(81_397);
    expect(progress.at(-1)).toEqual([81_397, 81_397]);

    const file = join(dir, 'multi.torrent');
    writeFileSync(file, buf);
    const lt = ltView(file, dir);
    expect(lt.info_hash_v1).toBe(m.infoHashHex);
    expect(lt.pieces_ok).toBe(true);
  });

  it('reports progress in order up to the total, chunk by chunk', async () => {
    const root = tree({ big: pseudoRandom(10 * 1024 * 1024 + 5, 9) });
    const seen: number[] = [];
    await createTorrent({ path: join(root, 'big'), pieceLength: 65536, onProgress: (done, total) => { seen.push(done); expect(total).toBe(10 * 1024 * 1024 + 5); } });
    expect(seen.length).toBeGreaterThan(2);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(seen.at(-1)).toBe(10 * 1024 * 1024 + 5);
  });

  it('hashes a 1 GiB file by streaming, with bounded memory', async () => {
    const file = join(dir, 'sparse-1g');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 1024 ** 3);
    closeSync(fd);
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const buf = await createTorrent({ path: file, onProgress: () => { peak = Math.max(peak, process.memoryUsage().rss); } });
    rmSync(file);
    const m = parseTorrent(buf);
    expect(m.pieceLength).toBe(1024 * 1024);
    expect(m.pieceCount).toBe(1024);
    const zeroPiece = createHash('sha1').update(Buffer.alloc(1024 * 1024)).digest('hex');
    expect(m.pieceHashes.toString('hex')).toBe(zeroPiece.repeat(1024));
    expect(peak - rssBefore).toBeLessThan(128 * 1024 * 1024);
  });

  it('chooses power-of-two piece lengths from 16 KiB to 16 MiB aiming at 1000-2000 pieces', () => {
    expect(autoPieceLength(1)).toBe(16384);
    expect(autoPieceLength(2000 * 16384)).toBe(16384);
    expect(autoPieceLength(2000 * 16384 + 1)).toBe(32768);
    expect(autoPieceLength(1024 ** 3)).toBe(1024 * 1024);
    expect(autoPieceLength(2 ** 45)).toBe(16 * 1024 * 1024);
    for (const size of [1e8, 3.3e9, 2e10, 3e10]) {
      const pieces = Math.ceil(size / autoPieceLength(size));
      expect(pieces).toBeGreaterThan(1000);
      expect(pieces).toBeLessThanOrEqual(2000);
    }
  });

  it('refuses piece lengths that are not a power of two from 16 KiB', async () => {
    const root = tree({ f: 'data' });
    for (const pieceLength of [0, -16384, 1000, 8192, 3 * 16384, 2 ** 29, 16384.5]) {
      expect(await usageError(createTorrent({ path: join(root, 'f'), pieceLength }))).toMatch(/bad piece length .*power of two/);
    }
  });

  it('refuses bad tracker URLs', async () => {
    const root = tree({ f: 'data' });
    expect(await usageError(createTorrent({ path: join(root, 'f'), trackers: [['ftp://x.example/']] }))).toMatch(/bad tracker URL "ftp:\/\/x.example\/"/);
    expect(await usageError(createTorrent({ path: join(root, 'f'), trackers: [['not a url']] }))).toMatch(/bad tracker URL/);
  });

  it('refuses empty folders, zero-size data and missing paths', async () => {
    expect(await usageError(createTorrent({ path: tree({}) }))).toMatch(/has no files/);
    expect(await usageError(createTorrent({ path: tree({ 'a/empty': '', b: '' }) }))).toMatch(/total size is 0/);
    expect(await usageError(createTorrent({ path: join(dir, 'nope') }))).toMatch(/no such file or folder/);
  });

  it('refuses every symlink, naming it and saying what to do (seeding never follows links)', async () => {
    const advice = /copy the file it points to into its place, or make the torrent from the folder that really holds the files/;
    const inside = tree({ 'real.bin': pseudoRandom(1000, 3), 'sub/other': 'x' });
    symlinkSync('real.bin', join(inside, 'link.bin'));
    const msg = await usageError(createTorrent({ path: inside }));
    expect(msg).toContain(`"${join(inside, 'link.bin')}" is a symlink, and seeding never follows symlinks`);
    expect(msg).toMatch(advice);

    const outside = tree({ f: 'x' });
    symlinkSync('/etc/passwd', join(outside, 'passwd'));
    expect(await usageError(createTorrent({ path: outside }))).toMatch(/passwd" is a symlink/);

    const toDir = tree({ 'sub/f': 'x' });
    symlinkSync('sub', join(toDir, 'dirlink'));
    expect(await usageError(createTorrent({ path: toDir }))).toMatch(/dirlink" is a symlink/);

    const broken = tree({ f: 'x' });
    symlinkSync('missing', join(broken, 'sub-dangling'));
    expect(await usageError(createTorrent({ path: broken }))).toMatch(/sub-dangling" is a symlink/);

    // The path given itself: the torrent's name would be the link's, which is not where the data is.
    const real = tree({ 'data.bin': 'y' });
    const top = join(dir, `toplink${counter++}`);
    symlinkSync(real, top);
    expect(await usageError(createTorrent({ path: top }))).toBe(
      `"${top}" is a symlink to "${real}": seeding opens files where the torrent says they are and never follows symlinks; pass the real file or folder instead`,
    );
    expect(parseTorrent(await createTorrent({ path: real })).name).toBe(real.split('/').at(-1));
  });

  it('refuses special files (FIFO, socket)', async () => {
    const fifo = tree({ f: 'x' });
    execFileSync('mkfifo', [join(fifo, 'pipe')]);
    expect(await usageError(createTorrent({ path: fifo }))).toMatch(/"[^"]*pipe" is a special file/);

    const sock = tree({ f: 'x' });
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(sock, 's.sock'), resolve));
    try {
      expect(await usageError(createTorrent({ path: sock }))).toMatch(/s\.sock" is a special file/);
    } finally {
      server.close();
    }
  });

  it('refuses file names a torrent could not carry safely', async () => {
    const root = tree({ 'back\\slash': 'x' });
    expect(await usageError(createTorrent({ path: root }))).toMatch(/cannot put .* in a torrent \(separator in component "back\\\\slash"\)/);
    const ctl = tree({ 'new\nline': 'x' });
    expect(await usageError(createTorrent({ path: ctl }))).toMatch(/control character/);
    const latin1 = tree({});
    writeFileSync(Buffer.from(`${latin1}/caf\xe9`, 'latin1'), 'x');
    expect(await usageError(createTorrent({ path: latin1 }))).toMatch(/is not valid UTF-8/);
  });
});
