/**
 * Positional reads and writes of piece data across a torrent's files. Handles are opened lazily
 * and kept in a small LRU so a torrent with thousands of files never exhausts descriptors.
 */
import { constants, write } from 'node:fs';
import { mkdir, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import type { TorrentFile } from '../metainfo/types.js';
import type { PieceLayout } from './layout.js';
import { partFile } from './part-files.js';
import { filePath } from './paths.js';
import type { FileStat } from './resume.js';
import type { FileSelection } from './selection.js';

export interface FileStoreOptions {
  /** Open files for writing (downloading) or only for reading (seeding). */
  writable: boolean;
  maxOpenFiles?: number;
  /** Files to download; the bytes of skipped files in wanted pieces go to part files in `partsFolder`. */
  selection?: FileSelection;
  partsFolder?: string;
}

/** Where a run of a piece's bytes lives: a span of a torrent file or of a piece's part file, or padding (zeros). */
export type Location =
  | { pad: true; length: number; rangeOffset: number }
  | { pad: false; path: string; position: number; length: number; rangeOffset: number; file: number; part?: number };

/** Bytes per write when storing a piece (see writePiece). */
const WRITE_CHUNK = 32 * 1024;

/**
 * pwrite until all of `data` is at `position` (a short write continues). The callback API, not
 * FileHandle.write: its promise requests cost the leecher's main thread measurably more per write.
 */
async function writeFully(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length; ) {
    done += await new Promise<number>((resolve, reject) =>
      write(fh.fd, data, done, data.length - done, position + done, (e, n) => (e ? reject(e) : resolve(n))),
    );
  }
}

async function statOf(path: string): Promise<FileStat | undefined> {
  const s = await stat(path, { bigint: true }).catch(() => undefined);
  return s?.isFile() ? { size: Number(s.size), mtimeNs: s.mtimeNs.toString() } : undefined;
}

export class FileStore {
  private readonly handles = new Map<string, { fh: Promise<FileHandle>; users: number }>();
  private readonly maxOpen: number;
  private readonly safeDirs = new Set<string>();

  constructor(
    readonly root: string,
    private readonly layout: PieceLayout,
    private readonly opts: FileStoreOptions,
  ) {
    this.maxOpen = opts.maxOpenFiles ?? 64;
  }

  get files(): readonly TorrentFile[] {
    return this.layout.files;
  }

  path(fileIndex: number): string {
    return filePath(this.root, this.layout.files[fileIndex]!);
  }

  /** Read `length` bytes at `offset` of piece `index`. Missing data is an error: we only serve verified pieces. */
  async read(index: number, offset: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length);
    await this.readInto(index, offset, out);
    return out;
  }

  /** Where the `length` bytes at `offset` of piece `index` live, in order. */
  locate(index: number, offset = 0, length = this.layout.pieceSize(index) - offset): Location[] {
    const sel = this.opts.selection;
    return this.layout.segments(index, offset, length).map((seg): Location => {
      const at = { length: seg.length, rangeOffset: seg.rangeOffset };
      if (this.layout.files[seg.fileIndex]!.pad) return { pad: true, ...at };
      if (sel?.parted(index, seg.fileIndex)) {
        return { pad: false, path: partFile(this.opts.partsFolder!, index), position: offset + seg.rangeOffset, file: seg.fileIndex, part: index, ...at };
      }
      return { pad: false, path: this.path(seg.fileIndex), position: seg.fileOffset, file: seg.fileIndex, ...at };
    });
  }

  /** Fill `out` with the bytes at `offset` of piece `index`. */
  async readInto(index: number, offset: number, out: Buffer): Promise<void> {
    for (const loc of this.locate(index, offset, out.length)) {
      if (loc.pad) {
        out.fill(0, loc.rangeOffset, loc.rangeOffset + loc.length);
        continue;
      }
      await this.withHandle(loc.path, async (fh) => {
        for (let done = 0; done < loc.length; ) {
          const { bytesRead } = await fh.read(out, loc.rangeOffset + done, loc.length - done, loc.position + done);
          if (bytesRead === 0) throw new Error(`${loc.path} is shorter than the torrent says`);
          done += bytesRead;
        }
      });
    }
  }

  /**
   * Write a whole verified piece in writes of at most WRITE_CHUNK bytes issued together: the
   * kernel sizes page-cache folios after each write, and large folios are expensive to fill where
   * the hypervisor hands memory back lazily, so one write per piece cost several times the system
   * time (the measurements are in bench/README.md). Settles only once every write has: the
   * caller reuses `data` afterwards.
   */
  async writePiece(index: number, data: Buffer): Promise<void> {
    for (const loc of this.locate(index, 0, data.length)) {
      if (loc.pad) continue;
      await this.withHandle(loc.path, async (fh) => {
        const writes: Promise<void>[] = [];
        for (let at = 0; at < loc.length; at += WRITE_CHUNK) {
          const length = Math.min(WRITE_CHUNK, loc.length - at);
          writes.push(writeFully(fh, data.subarray(loc.rangeOffset + at, loc.rangeOffset + at + length), loc.position + at));
        }
        const failed = (await Promise.allSettled(writes)).find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      });
    }
  }

  /** Create the empty files and folders of the torrent that are selected (a finished download has every one). */
  async createEmptyFiles(): Promise<void> {
    for (let i = 0; i < this.layout.files.length; i++) {
      const file = this.layout.files[i]!;
      const selected = this.opts.selection?.files[i] ?? true;
      if (file.length === 0 && !file.pad && selected) await this.withHandle(this.path(i), async () => {});
    }
  }

  /** Size and modification time (ns) of each file, or undefined where it is missing. */
  async fileStats(): Promise<(FileStat | undefined)[]> {
    return Promise.all(this.layout.files.map((f, i) => (f.pad ? undefined : statOf(this.path(i)))));
  }

  /** The same for the part files of these pieces, by piece. */
  async partStats(pieces: number[]): Promise<Map<number, FileStat>> {
    const out = new Map<number, FileStat>();
    const folder = this.opts.partsFolder;
    if (!folder) return out;
    await Promise.all(pieces.map(async (p) => {
      const s = await statOf(partFile(folder, p));
      if (s) out.set(p, s);
    }));
    return out;
  }

  async sync(): Promise<void> {
    await Promise.all([...this.handles.values()].map(async (e) => (await e.fh.catch(() => undefined))?.sync().catch(() => {})));
  }

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map(async (e) => (await e.fh.catch(() => undefined))?.close().catch(() => {})));
  }

  /** Run `fn` with the file's handle; handles in use are never evicted from the LRU. */
  private async withHandle<T>(path: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.handles.get(path);
    if (entry) {
      this.handles.delete(path); // re-insert: most recently used last
    } else {
      this.evictIdle();
      entry = { fh: this.openFile(path), users: 0 };
    }
    this.handles.set(path, entry);
    entry.users++;
    try {
      return await fn(await entry.fh);
    } catch (e) {
      // Drop (and close) a handle that failed, so the next use reopens it; never leak the descriptor.
      if (this.handles.get(path) === entry && entry.users === 1) {
        this.handles.delete(path);
        void entry.fh.then((fh) => fh.close()).catch(() => {});
      }
      throw e;
    } finally {
      entry.users--;
    }
  }

  private evictIdle(): void {
    for (const [path, e] of this.handles) {
      if (this.handles.size < this.maxOpen) return;
      if (e.users > 0) continue;
      this.handles.delete(path);
      // fsync before closing: resume state may record these pieces, and the data must really be there.
      void e.fh.then(async (fh) => {
        if (this.opts.writable) await fh.sync().catch(() => {});
        await fh.close();
      }).catch(() => {});
    }
  }

  private async openFile(full: string): Promise<FileHandle> {
    // O_NOFOLLOW: a symlink planted at a file's place must not redirect our writes elsewhere.
    if (this.opts.writable) await mkdir(dirname(full), { recursive: true });
    await this.checkInsideRoot(dirname(full));
    if (!this.opts.writable) return open(full, constants.O_RDONLY | constants.O_NOFOLLOW);
    return open(full, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  }

  /**
   * O_NOFOLLOW guards the file name only: a folder on the way that is a symlink (planted, or left
   * from something else) could still lead outside the download folder. Resolve it once per folder.
   */
  private async checkInsideRoot(dir: string): Promise<void> {
    if (this.safeDirs.has(dir)) return;
    const [realRoot, realDir] = await Promise.all([realpath(this.root), realpath(dir)]);
    if (realDir !== realRoot && !realDir.startsWith(realRoot + sep)) {
      throw new Error(`refusing ${dir}: it leads outside the download folder (${realDir}); remove the symlink`);
    }
    this.safeDirs.add(dir);
  }
}
