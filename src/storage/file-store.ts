/**
 * Positional reads and writes of piece data across a torrent's files. Handles are opened lazily
 * and kept in a small LRU so a torrent with thousands of files never exhausts descriptors.
 */
import { constants, write } from 'node:fs';
import { mkdir, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import type { TorrentFile } from '../metainfo/types.js';
import type { PieceLayout } from './layout.js';
import { filePath } from './paths.js';

export interface FileStoreOptions {
  /** Open files for writing (downloading) or only for reading (seeding). */
  writable: boolean;
  maxOpenFiles?: number;
}

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

export class FileStore {
  private readonly handles = new Map<number, { fh: Promise<FileHandle>; users: number }>();
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

  /** Fill `out` with the bytes at `offset` of piece `index`. */
  async readInto(index: number, offset: number, out: Buffer): Promise<void> {
    for (const seg of this.layout.segments(index, offset, out.length)) {
      const file = this.layout.files[seg.fileIndex]!;
      if (file.pad) {
        out.fill(0, seg.rangeOffset, seg.rangeOffset + seg.length);
        continue;
      }
      await this.withHandle(seg.fileIndex, async (fh) => {
        for (let done = 0; done < seg.length; ) {
          const { bytesRead } = await fh.read(out, seg.rangeOffset + done, seg.length - done, seg.fileOffset + done);
          if (bytesRead === 0) throw new Error(`${this.path(seg.fileIndex)} is shorter than the torrent says`);
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
    for (const seg of this.layout.segments(index, 0, data.length)) {
      if (this.layout.files[seg.fileIndex]!.pad) continue;
      await this.withHandle(seg.fileIndex, async (fh) => {
        const writes: Promise<void>[] = [];
        for (let at = 0; at < seg.length; at += WRITE_CHUNK) {
          const length = Math.min(WRITE_CHUNK, seg.length - at);
          writes.push(writeFully(fh, data.subarray(seg.rangeOffset + at, seg.rangeOffset + at + length), seg.fileOffset + at));
        }
        const failed = (await Promise.allSettled(writes)).find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      });
    }
  }

  /** Create the empty files and folders of the torrent (a finished download has every file). */
  async createEmptyFiles(): Promise<void> {
    for (let i = 0; i < this.layout.files.length; i++) {
      const file = this.layout.files[i]!;
      if (file.length === 0 && !file.pad) await this.withHandle(i, async () => {});
    }
  }

  /** Size and modification time (ns) of each file, or undefined where it is missing. */
  async fileStats(): Promise<({ size: number; mtimeNs: string } | undefined)[]> {
    return Promise.all(
      this.layout.files.map(async (f, i) => {
        if (f.pad) return undefined;
        const s = await stat(this.path(i), { bigint: true }).catch(() => undefined);
        return s?.isFile() ? { size: Number(s.size), mtimeNs: s.mtimeNs.toString() } : undefined;
      }),
    );
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
  private async withHandle<T>(fileIndex: number, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.handles.get(fileIndex);
    if (entry) {
      this.handles.delete(fileIndex); // re-insert: most recently used last
    } else {
      this.evictIdle();
      entry = { fh: this.openFile(fileIndex), users: 0 };
    }
    this.handles.set(fileIndex, entry);
    entry.users++;
    try {
      return await fn(await entry.fh);
    } catch (e) {
      // Drop (and close) a handle that failed, so the next use reopens it; never leak the descriptor.
      if (this.handles.get(fileIndex) === entry && entry.users === 1) {
        this.handles.delete(fileIndex);
        void entry.fh.then((fh) => fh.close()).catch(() => {});
      }
      throw e;
    } finally {
      entry.users--;
    }
  }

  private evictIdle(): void {
    for (const [index, e] of this.handles) {
      if (this.handles.size < this.maxOpen) return;
      if (e.users > 0) continue;
      this.handles.delete(index);
      // fsync before closing: resume state may record these pieces, and the data must really be there.
      void e.fh.then(async (fh) => {
        if (this.opts.writable) await fh.sync().catch(() => {});
        await fh.close();
      }).catch(() => {});
    }
  }

  private async openFile(fileIndex: number): Promise<FileHandle> {
    const full = this.path(fileIndex);
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
