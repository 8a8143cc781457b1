/**
 * BEP 52's half of a torrent file: the `file tree` of the info dictionary (files aligned to
 * pieces, each with the root of its merkle tree), the `piece layers` beside it, and the check
 * that a hybrid torrent's v1 file list describes the same files at the same offsets. A hostile
 * tree, layer or mismatch becomes an InputError naming it.
 */
import { BDict, type BValue } from '../bencode/index.js';
import { FileTree } from '../merkle/file-tree.js';
import { HASH_BYTES } from '../merkle/merkle.js';
import { InputError } from '../util/errors.js';
import { pathProblem, quote, showPath } from './paths.js';
import type { TorrentFile } from './types.js';

/** A key of a decoded dictionary (latin1 of its bytes) as the UTF-8 text it holds. */
const keyText = (key: string): string => Buffer.from(key, 'latin1').toString('utf8');

/** One file of a file tree, in tree order. */
export interface TreeFile {
  path: string[];
  length: number;
  root?: Buffer;
}

/**
 * The files of a `file tree`, depth first in key order (the order BEP 52 maps them into pieces).
 * `name` roots them, except in a torrent of a single file at the top of the tree with no v1
 * file list (`single`), whose path is that file's own key, as libtorrent reads it.
 */
export function treeFiles(tree: BValue | undefined, name: string, v1FileList: boolean): { files: TreeFile[]; single: boolean } {
  if (!(tree instanceof BDict)) throw new InputError('bad torrent: "info.file tree" should be a dictionary');
  if (tree.has('')) throw new InputError('bad torrent: the root of "info.file tree" is a file entry');
  const out: TreeFile[] = [];
  const top = [...tree];
  const single = !v1FileList && top.length === 1 && isFileEntry(top[0]![1]);
  walk(tree, single ? [] : [name], out);
  if (out.length === 0) throw new InputError('bad torrent: "info.file tree" holds no files');
  return { files: out, single };
}

function isFileEntry(v: BValue): boolean {
  return v instanceof BDict && v.size === 1 && v.get('') instanceof BDict;
}

function walk(dir: BDict, at: string[], out: TreeFile[]): void {
  for (const [key, value] of dir) {
    if (key === '') throw new InputError(`bad torrent: ${showPath(at)} in "info.file tree" is both a file and a folder`);
    const path = [...at, keyText(key)];
    const problem = pathProblem(path);
    if (problem) throw new InputError(`unsafe path in torrent: ${showPath(path)} (${problem})`);
    if (!(value instanceof BDict)) throw new InputError(`bad torrent: ${showPath(path)} in "info.file tree" is not a dictionary`);
    if (!value.has('')) {
      walk(value, path, out);
      continue;
    }
    if (value.size !== 1) throw new InputError(`bad torrent: the file ${showPath(path)} in "info.file tree" has entries beside its own`);
    out.push(fileEntry(value.get('')!, path));
  }
}

function fileEntry(v: BValue, path: string[]): TreeFile {
  if (!(v instanceof BDict)) throw new InputError(`bad torrent: the entry of ${showPath(path)} in "info.file tree" is not a dictionary`);
  const length = v.get('length');
  if (typeof length !== 'number' || length < 0) throw new InputError(`bad torrent: the file ${showPath(path)} has no valid "length"`);
  const attr = v.get('attr');
  if (Buffer.isBuffer(attr) && attr.includes('p')) throw new InputError(`bad torrent: ${showPath(path)} is a padding file inside "info.file tree"`);
  if (length === 0) return { path, length };
  const root = v.get('pieces root');
  if (!Buffer.isBuffer(root) || root.length !== HASH_BYTES || root.every((b) => b === 0)) {
    throw new InputError(`bad torrent: the file ${showPath(path)} has no valid "pieces root" (32 bytes, not all zero)`);
  }
  return { path, length, root: Buffer.from(root) };
}

/**
 * The v2 layout: each file from the start of a piece, the gap after it (up to the next piece,
 * after the last file too, as libtorrent lays v2 torrents out) a padding file that reads as zeros.
 */
export function alignedFiles(files: TreeFile[], name: string, pieceLength: number): { files: TorrentFile[]; total: number } {
  const out: TorrentFile[] = [];
  let total = 0;
  for (const f of files) {
    out.push({ path: f.path, length: f.length, offset: total, pad: false, ...(f.root ? { piecesRoot: f.root } : {}) });
    total += f.length;
    const gap = (pieceLength - (total % pieceLength)) % pieceLength;
    if (gap > 0) {
      out.push({ path: [name, '.pad', String(gap)], length: gap, offset: total, pad: true });
      total += gap;
    }
  }
  return { files: out, total };
}

/**
 * A hybrid torrent's v1 files must be its v2 files, at the same offsets (BEP 52's upgrade path):
 * the same files with data in the same order, names and sizes; padding and empty files aside.
 * The v1 list (which lays out the pieces the v1 hashes cover) gets each file's root.
 */
export function mergeHybrid(v1: TorrentFile[], v2: TorrentFile[]): TorrentFile[] {
  const data = (files: TorrentFile[]) => files.filter((f) => !f.pad && f.length > 0);
  const a = data(v1), b = data(v2);
  const mismatch = (why: string): never => {
    throw new InputError(`bad torrent: its v1 and v2 halves describe different files (${why}); ask whoever made it for a consistent one`);
  };
  if (a.length !== b.length) mismatch(`${a.length} files with data against ${b.length}`);
  const roots = new Map<TorrentFile, Buffer>();
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (x.path.join('/') !== y.path.join('/')) mismatch(`file ${i + 1} is ${showPath(x.path)} in one and ${showPath(y.path)} in the other`);
    if (x.length !== y.length || x.offset !== y.offset) mismatch(`${showPath(x.path)} differs in size or position`);
    roots.set(x, y.piecesRoot!);
  }
  return v1.map((f) => (roots.has(f) ? { ...f, piecesRoot: roots.get(f)! } : f));
}

/**
 * The `piece layers` of a torrent file, checked against the files' roots: by file index, for the
 * files of more than one piece that it covers (a file it leaves out is fetched from peers).
 * Every entry must belong to such a file and prove its root; anything else is an InputError.
 */
export function pieceLayers(v: BValue | undefined, files: TorrentFile[], pieceLength: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  if (v === undefined) return out;
  if (!(v instanceof BDict)) throw new InputError('bad torrent: "piece layers" should be a dictionary');
  const byRoot = new Map<string, number[]>();
  files.forEach((f, i) => {
    if (f.piecesRoot && f.length > pieceLength) {
      const key = f.piecesRoot.toString('latin1');
      const owners = byRoot.get(key);
      if (owners) owners.push(i);
      else byRoot.set(key, [i]);
    }
  });
  for (const [key, layer] of v) {
    const owners = byRoot.get(key);
    const hex = Buffer.from(key, 'latin1').toString('hex');
    if (!owners) throw new InputError(`bad torrent: "piece layers" has an entry (${quote(hex.slice(0, 16))}…) for no file of more than one piece`);
    if (!Buffer.isBuffer(layer)) throw new InputError(`bad torrent: the piece layer of ${showPath(files[owners[0]!]!.path)} is not a string`);
    const file = files[owners[0]!]!;
    const tree = new FileTree(file.length, pieceLength, file.piecesRoot!);
    if (!tree.setLayer(layer)) {
      throw new InputError(
        `bad torrent: the piece layer of ${showPath(file.path)} does not match its "pieces root" (${layer.length} bytes, ${tree.pieces * HASH_BYTES} expected)`,
      );
    }
    for (const i of owners) out.set(i, tree.pieceLayer!);
  }
  return out;
}
