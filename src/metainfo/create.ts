/**
 * Torrent creation: walk a file or folder, hash it, and bencode the result. A v1 torrent hashes
 * the files as one stream of pieces (SHA-1); a v2 one (BEP 52) hashes each file on its own into a
 * merkle tree (SHA-256 over 16 KiB blocks: the root in the file tree, the piece layer beside the
 * info dictionary); a hybrid does both, its v1 files padded (BEP 47) to start at pieces as v2
 * lays them out. Reads are positional and double-buffered (the next chunk is read while this one
 * is hashed), so memory stays at two chunks whatever the size; one core outruns the disk here.
 */
import { createHash } from 'node:crypto';
import { lstat, open, readdir, realpath, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { encode, type Encodable } from '../bencode/index.js';
import { dataRoot, layerRoot, LEAF_BYTES, log2, nextPow2 } from '../merkle/merkle.js';
import { InputError } from '../util/errors.js';
import { componentProblem, pathProblem, showPath } from './paths.js';
import { MAX_PIECE_LENGTH, MAX_TOTAL_LENGTH } from './torrent.js';
import { trackerUrlProblem } from './urls.js';

const CREATED_BY = 'sixswarm/0.1.0';
const MIN_PIECE_LENGTH = 16 * 1024;
const MAX_AUTO_PIECE_LENGTH = 16 * 1024 * 1024;
const TARGET_MAX_PIECES = 2000;
const CHUNK_BYTES = 4 * 1024 * 1024;

/** v1 (BEP 3), v2 only (BEP 52), or a hybrid of both that either kind of client can use. */
export type TorrentFormat = 'v1' | 'v2' | 'hybrid';

export interface CreateOptions {
  path: string;
  /** Default v1. */
  format?: TorrentFormat;
  trackers?: string[][];
  pieceLength?: number;
  private?: boolean;
  comment?: string;
  onProgress?: (hashedBytes: number, totalBytes: number) => void;
}

interface SourceFile {
  abs: string;
  /** Path inside the torrent, without the torrent's name. */
  path: string[];
  length: number;
}

/** Smallest power of two from 16 KiB to 16 MiB that keeps the piece count at 2000 or less (so ~1000–2000). */
export function autoPieceLength(totalLength: number): number {
  let p = MIN_PIECE_LENGTH;
  while (p < MAX_AUTO_PIECE_LENGTH && Math.ceil(totalLength / p) > TARGET_MAX_PIECES) p *= 2;
  return p;
}

export async function createTorrent(opts: CreateOptions): Promise<Buffer> {
  const trackers = checkTrackers(opts.trackers ?? []);
  if (opts.pieceLength !== undefined) checkPieceLength(opts.pieceLength);
  const { name, files, multiFile } = await collect(opts.path);
  const total = files.reduce((sum, f) => sum + f.length, 0);
  if (total === 0) throw new InputError(`nothing to share: ${showPath([opts.path])} holds no data (total size is 0)`);
  if (total > MAX_TOTAL_LENGTH) throw new InputError(`${showPath([opts.path])} is larger than ${MAX_TOTAL_LENGTH} bytes`);
  const pieceLength = opts.pieceLength ?? autoPieceLength(total);
  const format = opts.format ?? 'v1';
  if (format === 'v2' && multiFile && files.length === 1 && files[0]!.path.length === 1) {
    // BEP 52 reads a file tree of one file at its top as a single-file torrent: the folder would be lost.
    throw new InputError(
      `${showPath([opts.path])} holds a single file: a v2-only torrent of it would be read as that file alone, without its folder; share the file itself, or make a --hybrid torrent`,
    );
  }
  const info: Record<string, Encodable | undefined> = { name, 'piece length': pieceLength, private: opts.private ? 1 : undefined };
  let layers: Map<string, Encodable> | undefined;
  if (format === 'v1') {
    info.pieces = await hashPieces(files, total, pieceLength, opts.onProgress);
    if (multiFile) info.files = files.map((f) => ({ length: f.length, path: f.path }));
    else info.length = total;
  } else {
    const hybrid = format === 'hybrid';
    const hashed = await hashFiles(files, total, pieceLength, { v1: hybrid, single: !multiFile }, opts.onProgress);
    info['meta version'] = 2;
    info['file tree'] = fileTree(files, hashed.roots, multiFile ? undefined : name);
    layers = hashed.layers;
    if (hybrid) {
      info.pieces = hashed.pieces;
      if (multiFile) info.files = paddedFiles(files, pieceLength);
      else info.length = total;
    }
  }
  return encode({
    announce: trackers[0]?.[0],
    'announce-list': trackers.flat().length > 1 ? trackers : undefined,
    comment: opts.comment,
    'created by': CREATED_BY,
    'creation date': Math.floor(Date.now() / 1000),
    info,
    'piece layers': layers,
  });
}

/**
 * BEP 52's file tree: nested dictionaries by path component, a file's own entry under the empty
 * key. A torrent of one file names it at the top (`single`). Objects without a prototype, so a
 * file named "__proto__" is a key like any other.
 */
function fileTree(files: SourceFile[], roots: (Buffer | undefined)[], single: string | undefined): Encodable {
  const top: Record<string, Encodable> = Object.create(null) as Record<string, Encodable>;
  files.forEach((f, i) => {
    const path = single !== undefined ? [single] : f.path;
    let dir = top;
    for (const c of path.slice(0, -1)) dir = (dir[c] ??= Object.create(null) as Record<string, Encodable>) as Record<string, Encodable>;
    dir[path[path.length - 1]!] = { '': { length: f.length, 'pieces root': roots[i] } };
  });
  return top;
}

/** A hybrid's v1 file list: every file with data followed by a padding file up to the next piece (the last one too, as libtorrent 2.0.8 on makes them). */
function paddedFiles(files: SourceFile[], pieceLength: number): Encodable[] {
  const out: Encodable[] = [];
  for (const f of files) {
    out.push({ length: f.length, path: f.path });
    const gap = (pieceLength - (f.length % pieceLength)) % pieceLength;
    if (gap > 0) out.push({ attr: 'p', length: gap, path: ['.pad', String(gap)] });
  }
  return out;
}

function checkTrackers(tiers: string[][]): string[][] {
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const tier of tiers) {
    const urls: string[] = [];
    for (const url of tier) {
      const problem = trackerUrlProblem(url);
      if (problem) throw new InputError(`bad tracker URL "${url}": ${problem}`);
      if (!seen.has(url)) urls.push(url);
      seen.add(url);
    }
    if (urls.length > 0) out.push(urls);
  }
  return out;
}

function checkPieceLength(n: number): void {
  const powerOfTwo = Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
  if (!powerOfTwo || n < MIN_PIECE_LENGTH || n > MAX_PIECE_LENGTH) {
    throw new InputError(`bad piece length ${n}: it must be a power of two from ${MIN_PIECE_LENGTH} (16K) to ${MAX_PIECE_LENGTH} (256M)`);
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

async function collect(target: string): Promise<{ name: string; files: SourceFile[]; multiFile: boolean }> {
  const abs = resolve(target);
  const top = await lstat(abs).catch((e: NodeJS.ErrnoException) => {
    throw new InputError(e.code === 'ENOENT' ? `no such file or folder: ${showPath([target])}` : `cannot read ${showPath([target])}: ${e.message}`);
  });
  if (top.isSymbolicLink()) {
    const real = await realpath(abs).catch(() => undefined);
    throw new InputError(`${showPath([target])} is a symlink${real ? ` to ${showPath([real])}` : ' (broken)'}: seeding opens files where the torrent says they are and never follows symlinks; pass the real file or folder instead`);
  }
  const name = basename(abs);
  const problem = componentProblem(name);
  if (problem) throw new InputError(`cannot use ${showPath([name])} as the torrent's name (${problem})`);
  if (top.isFile()) return { name, files: [{ abs, path: [], length: top.size }], multiFile: false };
  if (!top.isDirectory()) throw new InputError(`${showPath([target])} is neither a regular file nor a folder`);
  const files: SourceFile[] = [];
  await walk(abs, [], name, files);
  if (files.length === 0) throw new InputError(`nothing to share: the folder ${showPath([target])} has no files`);
  return { name, files, multiFile: true };
}

/** Depth-first, entries sorted by their name bytes at each level: a stable order every run gives. */
async function walk(dir: string, rel: string[], name: string, out: SourceFile[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  entries.sort((a, b) => Buffer.compare(a.name, b.name));
  for (const entry of entries) {
    let component: string;
    try {
      component = strictUtf8.decode(entry.name);
    } catch {
      throw new InputError(`file name in ${showPath([dir])} is not valid UTF-8: ${JSON.stringify(entry.name.toString('latin1'))}`);
    }
    const path = [...rel, component];
    const abs = join(dir, component);
    const problem = pathProblem([name, ...path]);
    if (problem) throw new InputError(`cannot put ${showPath([abs])} in a torrent (${problem})`);
    if (entry.isDirectory()) {
      await walk(abs, path, name, out);
    } else if (entry.isFile()) {
      out.push({ abs, path, length: (await lstat(abs)).size });
    } else if (entry.isSymbolicLink()) {
      // Seeding opens every file with O_NOFOLLOW (a planted link must never redirect reads or
      // writes), so a torrent listing a link could not be seeded from this very folder.
      throw new InputError(
        `${showPath([abs])} is a symlink, and seeding never follows symlinks: copy the file it points to into its place, or make the torrent from the folder that really holds the files`,
      );
    } else {
      throw new InputError(`${showPath([abs])} is a special file (device, FIFO or socket); only regular files can be shared`);
    }
  }
}

/**
 * Each file's merkle root (files with data) and piece layer (files of more than one piece), and
 * for a hybrid (`v1`) the SHA-1 of every piece of the padded stream: a file's last piece is
 * hashed with the zeros of its padding, except in a torrent of a single file, which has none.
 */
async function hashFiles(
  files: SourceFile[],
  total: number,
  pieceLength: number,
  opts: { v1: boolean; single: boolean },
  onProgress: CreateOptions['onProgress'],
): Promise<{ roots: (Buffer | undefined)[]; layers: Map<string, Encodable>; pieces: Buffer }> {
  const pieceLevel = log2(pieceLength / LEAF_BYTES);
  const pieceCount = files.reduce((n, f) => n + Math.ceil(f.length / pieceLength), 0);
  const sha1 = Buffer.alloc(opts.v1 ? pieceCount * 20 : 0);
  const zeros = Buffer.alloc(opts.v1 ? pieceLength : 0);
  const roots: (Buffer | undefined)[] = [];
  const layers = new Map<string, Encodable>();
  let piece = 0;
  let done = 0;
  for (const f of files) {
    if (f.length === 0) {
      roots.push(undefined);
      continue;
    }
    const pieces = Math.ceil(f.length / pieceLength);
    // One piece's leaves are padded to a whole piece's worth, unless the file is that one piece.
    const width = pieces > 1 ? pieceLength / LEAF_BYTES : nextPow2(Math.ceil(f.length / LEAF_BYTES));
    const layer = Buffer.alloc(pieces * 32);
    let p = 0;
    await readFileChunks(f, pieceLength, (chunk) => {
      for (let off = 0; off < chunk.length; off += pieceLength, p++, piece++) {
        const data = chunk.subarray(off, Math.min(off + pieceLength, chunk.length));
        dataRoot(data, width).copy(layer, p * 32);
        if (opts.v1) {
          const h = createHash('sha1').update(data);
          if (data.length < pieceLength && !opts.single) h.update(zeros.subarray(0, pieceLength - data.length));
          h.digest().copy(sha1, piece * 20);
        }
      }
      done += chunk.length;
      onProgress?.(done, total);
    });
    const root = pieces > 1 ? layerRoot(layer, pieceLevel, nextPow2(pieces)) : layer;
    roots.push(root);
    if (pieces > 1) layers.set(root.toString('latin1'), layer);
  }
  return { roots, layers, pieces: sha1 };
}

/** One file in chunks of whole pieces, the next chunk read while `use` hashes this one. */
async function readFileChunks(file: SourceFile, pieceLength: number, use: (chunk: Buffer) => void): Promise<void> {
  const chunk = pieceLength * Math.max(1, Math.floor(CHUNK_BYTES / pieceLength));
  const size = Math.min(chunk, file.length);
  let filling = Buffer.allocUnsafe(size);
  let spare = Buffer.allocUnsafe(size);
  const fh = await open(file.abs, 'r');
  const read = async (into: Buffer, at: number): Promise<Buffer> => {
    const want = Math.min(chunk, file.length - at);
    for (let got = 0; got < want; ) {
      const { bytesRead } = await fh.read(into, got, want - got, at + got);
      if (bytesRead === 0) throw new InputError(`${showPath([file.abs])} became shorter while it was being hashed`);
      got += bytesRead;
    }
    return into.subarray(0, want);
  };
  let pending: Promise<Buffer> | undefined;
  try {
    pending = read(filling, 0);
    for (let at = 0; at < file.length; ) {
      const current = await pending!;
      pending = undefined;
      at += current.length;
      [filling, spare] = [spare, filling];
      if (at < file.length) pending = read(filling, at);
      use(current);
    }
    if ((await fh.stat()).size !== file.length) throw new InputError(`${showPath([file.abs])} changed size while it was being hashed`);
  } finally {
    // Never close a file under a read still in flight.
    await pending?.catch(() => undefined);
    await fh.close();
  }
}

/** Reads the files one after another as if they were one stream. */
class ConcatReader {
  private index = 0;
  private offset = 0;
  private fh: FileHandle | undefined;

  constructor(private readonly files: SourceFile[]) {}

  async read(target: Buffer, length: number): Promise<void> {
    let filled = 0;
    while (filled < length) {
      const file = this.files[this.index];
      if (!file) throw new Error('internal: read past the last file');
      if (this.offset === file.length) {
        await this.closeCurrent(file);
        this.index++;
        this.offset = 0;
        continue;
      }
      this.fh ??= await open(file.abs, 'r');
      const want = Math.min(length - filled, file.length - this.offset);
      const { bytesRead } = await this.fh.read(target, filled, want, this.offset);
      if (bytesRead === 0) throw new InputError(`${showPath([file.abs])} became shorter while it was being hashed`);
      filled += bytesRead;
      this.offset += bytesRead;
    }
  }

  private async closeCurrent(file: SourceFile): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    this.fh = undefined;
    try {
      if ((await fh.stat()).size !== file.length) throw new InputError(`${showPath([file.abs])} changed size while it was being hashed`);
    } finally {
      await fh.close();
    }
  }

  async close(): Promise<void> {
    const file = this.files[this.index];
    if (file && this.offset === file.length) await this.closeCurrent(file);
    else await this.fh?.close();
    this.fh = undefined;
  }
}

async function hashPieces(
  files: SourceFile[],
  total: number,
  pieceLength: number,
  onProgress: CreateOptions['onProgress'],
): Promise<Buffer> {
  const hashes = Buffer.alloc(Math.ceil(total / pieceLength) * 20);
  // A whole number of pieces per chunk, so pieces never straddle two chunks.
  const chunk = pieceLength * Math.max(1, Math.floor(CHUNK_BYTES / pieceLength));
  // Two buffers: the next chunk is read into one while the other is hashed.
  let filling = Buffer.allocUnsafe(Math.min(chunk, total));
  let spare = Buffer.allocUnsafe(Math.min(chunk, total));
  const reader = new ConcatReader(files);
  let pending: Promise<void> | undefined;
  try {
    let done = 0;
    let piece = 0;
    pending = reader.read(filling, Math.min(chunk, total));
    while (done < total) {
      const n = Math.min(chunk, total - done);
      await pending;
      pending = undefined;
      const current = filling;
      filling = spare;
      spare = current;
      done += n;
      if (done < total) pending = reader.read(filling, Math.min(chunk, total - done));
      for (let off = 0; off < n; off += pieceLength) {
        createHash('sha1')
          .update(current.subarray(off, Math.min(off + pieceLength, n)))
          .digest()
          .copy(hashes, 20 * piece++);
      }
      onProgress?.(done, total);
    }
    await reader.close();
  } finally {
    // Never close a file under a read still in flight.
    await pending?.catch(() => undefined);
    await reader.close().catch(() => undefined);
  }
  return hashes;
}
