/**
 * What a download folder may already hold. A symlink planted at the torrent's folder or at one of
 * its files, a file where a folder belongs, a FIFO, a hard link to a file outside: each stops the
 * download at once (exit 2) with a message naming the path and what to do, and nothing outside
 * the folder is created or written. A raw-TCP harness seeds the torrent, so a download that went
 * ahead would really write.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Metainfo } from '../../src/metainfo/types.js';
import { FileStore } from '../../src/storage/file-store.js';
import { PieceLayout } from '../../src/storage/layout.js';
import { ensureBuilt } from '../support/build.js';
import { RawPeerServer } from '../support/raw-peer.js';
import { removeDir, runCli, seedPayload, tempDir, treeDigest } from '../support/sixswarm.js';

const PIECE = 16 * 1024;
const TREE = { 'a.txt': 70_000, 'sub/b.bin': 150_000 };

let dir: string;
let torrent: string;
let meta: Metainfo;
let payload: Buffer;
let harness: RawPeerServer;
let runs = 0;

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir();
  ({ torrent, meta, payload } = await seedPayload(dir, TREE, PIECE));
  harness = await RawPeerServer.listen('127.0.0.1');
  harness.seed(meta.infoHash, payload, PIECE);
});
afterEach(() => {
  for (const p of harness.peers) p.close();
});
afterAll(async () => {
  await harness?.close();
  await removeDir(dir);
});

/** A fresh download folder and a folder "outside" it that must stay as it is. */
function folders(): { out: string; outside: string; top: string } {
  const n = ++runs;
  const out = join(dir, `out-${n}`);
  const outside = join(dir, `outside-${n}`);
  mkdirSync(out);
  mkdirSync(outside);
  return { out, outside, top: join(out, 'payload') };
}

function download(out: string) {
  return runCli(['download', torrent, '-o', out, '--peer', `127.0.0.1:${harness.port}`, '--port', '0', '--no-trackers', '--exit-on-complete'], {
    env: { SIXSWARM_STATE_DIR: join(dir, `state-${runs}`) },
    timeoutMs: 30_000,
  });
}

/** Exit 2 with one line on stderr that contains every part of `message`. */
function refused(r: { code: number | null; stderr: string }, ...message: string[]): void {
  expect(r.code, r.stderr).toBe(2);
  for (const part of message) expect(r.stderr).toContain(part);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
}

describe('a download folder that holds what the torrent cannot use', () => {
  it('a symlink at the torrent folder: refused before any folder is created through it', async () => {
    const { out, outside, top } = folders();
    symlinkSync(outside, top);
    refused(await download(out), `"${top}" is a symlink to "${outside}", where the torrent needs a folder`, 'download into another folder (-o DIR)');
    expect(readdirSync(outside)).toEqual([]);
  });

  it('a symlink at a file: refused, the file it points to untouched', async () => {
    const { out, outside, top } = folders();
    mkdirSync(top);
    writeFileSync(join(outside, 'target.txt'), 'keep me');
    symlinkSync(join(outside, 'target.txt'), join(top, 'a.txt'));
    refused(await download(out), `"${join(top, 'a.txt')}" is a symlink to "${join(outside, 'target.txt')}", where the torrent needs a file`, 'remove or rename it');
    expect(readFileSync(join(outside, 'target.txt'), 'utf8')).toBe('keep me');
  });

  it('a plain file where the torrent needs a folder: says so', async () => {
    const { out, top } = folders();
    mkdirSync(top);
    writeFileSync(join(top, 'sub'), 'not a folder');
    refused(await download(out), `"${join(top, 'sub')}" is a file, where the torrent needs a folder: remove or rename it, or download into another folder (-o DIR)`);
  });

  it('a FIFO where the torrent needs a file: refused at once, not hung on', async () => {
    const { out, top } = folders();
    mkdirSync(join(top, 'sub'), { recursive: true });
    execFileSync('mkfifo', [join(top, 'sub', 'b.bin')]);
    refused(await download(out), `"${join(top, 'sub', 'b.bin')}" is a FIFO (named pipe), where the torrent needs a file`);
  });

  it('a hard link to a file outside: refused, the outside file unchanged', async () => {
    const { out, outside, top } = folders();
    mkdirSync(top);
    writeFileSync(join(outside, 'victim.txt'), 'keep me');
    linkSync(join(outside, 'victim.txt'), join(top, 'a.txt'));
    refused(await download(out), `"${join(top, 'a.txt')}" has 2 hard links`, 'use `sixswarm seed`, which only reads');
    expect(readFileSync(join(outside, 'victim.txt'), 'utf8')).toBe('keep me');
  });

  it('a folder of its own, partly there already: downloads (the checks refuse only what they must)', async () => {
    const { out, top } = folders();
    mkdirSync(join(top, 'sub'), { recursive: true });
    writeFileSync(join(top, 'a.txt'), payload.subarray(0, 1000));
    const r = await download(out);
    expect(r.code, r.stderr).toBe(0);
    expect(await treeDigest(top)).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
  });
});

describe('FileStore opening files later (after the start-up check)', () => {
  const layout = (): PieceLayout => new PieceLayout(meta.files, meta.pieceLength, meta.totalLength);
  const piecesOf = (file: number): number[] => {
    const [a, b] = layout().piecesOfFile(file)!;
    return Array.from({ length: b - a + 1 }, (_, k) => a + k);
  };
  const piece = (i: number): Buffer => payload.subarray(i * PIECE, Math.min((i + 1) * PIECE, payload.length));

  it('a symlink planted at the torrent folder later: the write is refused and nothing is created through it', async () => {
    const { out, outside, top } = folders();
    const store = new FileStore(out, layout(), { writable: true });
    await store.checkFolder();
    symlinkSync(outside, top);
    const sub = meta.files.findIndex((f) => f.path.join('/') === 'payload/sub/b.bin');
    await expect(store.writePiece(piecesOf(sub).at(-1)!, piece(piecesOf(sub).at(-1)!))).rejects.toThrow(`"${top}" is a symlink to "${outside}", where the torrent needs a folder`);
    expect(readdirSync(outside)).toEqual([]);
    await store.close();
  });

  it('a hard link planted at a file later: refused when opened for writing, read as it is when seeding', async () => {
    const { out, outside, top } = folders();
    mkdirSync(top);
    writeFileSync(join(outside, 'victim.txt'), payload.subarray(0, 70_000));
    const a = meta.files.findIndex((f) => f.path.join('/') === 'payload/a.txt');
    const writer = new FileStore(out, layout(), { writable: true });
    await writer.checkFolder();
    linkSync(join(outside, 'victim.txt'), join(top, 'a.txt'));
    await expect(writer.writePiece(0, piece(0))).rejects.toThrow(`"${join(top, 'a.txt')}" has 2 hard links`);
    await writer.close();
    expect(lstatSync(join(outside, 'victim.txt')).nlink).toBe(2);

    // Seeding only reads: a finished download linked into a library elsewhere is still seeded.
    const reader = new FileStore(out, layout(), { writable: false });
    await reader.checkFolder();
    expect(await reader.read(piecesOf(a)[0]!, 0, PIECE)).toEqual(piece(piecesOf(a)[0]!));
    await reader.close();
    expect(existsSync(join(top, 'sub'))).toBe(false);
  });
});
