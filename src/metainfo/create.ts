/**
 * Torrent creation: walk a file or folder, hash it as one stream of pieces, and bencode the result.
 * Reads are positional and double-buffered (the next chunk is read while this one is hashed), so
 * memory stays at two chunks whatever the size; SHA-1 on one core outruns the disk here.
 */
import { createHash } from 'node:crypto';
import { lstat, open, readdir, realpath, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { encode, type Encodable } from '../bencode/index.js';
import { InputError } from '../util/errors.js';
import { componentProblem, pathProblem, showPath } from './paths.js';
import { MAX_PIECE_LENGTH, MAX_TOTAL_LENGTH } from './torrent.js';
import { trackerUrlProblem } from './urls.js';

const CREATED_BY = 'sixswarm/0.1.0';
const MIN_PIECE_LENGTH = 16 * 1024;
const MAX_AUTO_PIECE_LENGTH = 16 * 1024 * 1024;
const TARGET_MAX_PIECES = 2000;
const CHUNK_BYTES = 4 * 1024 * 1024;

export interface CreateOptions {
  path: string;
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
  const pieces = await hashPieces(files, total, pieceLength, opts.onProgress);

  const info: Record<string, Encodable | undefined> = {
    name,
    'piece length': pieceLength,
    pieces,
    private: opts.private ? 1 : undefined,
  };
  if (multiFile) info.files = files.map((f) => ({ length: f.length, path: f.path }));
  else info.length = total;
  return encode({
    announce: trackers[0]?.[0],
    'announce-list': trackers.flat().length > 1 ? trackers : undefined,
    comment: opts.comment,
    'created by': CREATED_BY,
    'creation date': Math.floor(Date.now() / 1000),
    info,
  });
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
