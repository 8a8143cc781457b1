/**
 * Positional reads and writes of piece data across a torrent's files. Handles are opened lazily
 * and kept in the process-wide LRU of open files (open-files.ts), so neither a torrent of thousands
 * of files nor a session of thousands of torrents exhausts descriptors.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { TorrentFile } from '../metainfo/types.js';
import { writeChunked } from './chunked-write.js';
import { checkFolder, hardLinked, kindOf, symlinkFound, wrongKind } from './folder-check.js';
import type { PieceLayout } from './layout.js';
import { closeOpenFile, sharedOpenFiles, type OpenFile, type OpenFiles } from './open-files.js';
import { partFile } from './part-files.js';
import { filePath } from './paths.js';
import type { FileStat } from './resume.js';
import type { FileSelection } from './selection.js';

export interface FileStoreOptions {
  /** Open files for writing (downloading) or only for reading (seeding). */
  writable: boolean;
  /** The LRU that bounds open descriptors (default: the process-wide one). */
  openFiles?: OpenFiles;
  /** Files to download; the bytes of skipped files in wanted pieces go to part files in `partsFolder`. */
  selection?: FileSelection;
  partsFolder?: string;
}

/** Where a run of a piece's bytes lives: a span of a torrent file or of a piece's part file, or padding (zeros). */
export type Location =
  | { pad: true; length: number; rangeOffset: number }
  | { pad: false; path: string; position: number; length: number; rangeOffset: number; file: number; part?: number };

/** Bytes per write when storing a piece (chunked-write.ts says why). */
const WRITE_CHUNK = 32 * 1024;
/**
 * Written bytes of one file after which it is flushed to disk in the background (flush-behind):
 * the disk works while the download goes on, so the sync that makes a finished download durable
 * has only the last few MiB left to write instead of all of it.
 */
const FLUSH_BEHIND = 32 * 1024 * 1024;

async function statOf(path: string): Promise<FileStat | undefined> {
  const s = await stat(path, { bigint: true }).catch(() => undefined);
  return s?.isFile() ? { size: Number(s.size), mtimeNs: s.mtimeNs.toString() } : undefined;
}

export class FileStore {
  /** This store's files open now, by path; the LRU decides which stay open. */
  private readonly handles = new Map<string, OpenFile>();
  private readonly openFiles: OpenFiles;
  /** Closes under way of handles the LRU took (fsync first): sync() waits for them too. */
  private readonly closing = new Set<Promise<void>>();
  /** Folders checked (or created) one component at a time from the download folder down. */
  private readonly safeDirs = new Set<string>();
  private readonly paths: (string | undefined)[] = [];
  /** Bytes written per file since its last flush. */
  private readonly unflushed = new Map<string, number>();
  /** Background flushes under way, by file. */
  private readonly flushing = new Map<string, Promise<void>>();
  /**
   * The last write queued per file. A buffered write holds the file's inode lock from start to
   * end, so parallel writes to one file only wait on each other, and the kernel spins while they
   * wait (measured: about 3% of a leecher's CPU samples in rwsem spinning). One write per file at a time.
   */
  private readonly writing = new Map<string, Promise<void>>();

  constructor(
    readonly root: string,
    private readonly layout: PieceLayout,
    private readonly opts: FileStoreOptions,
  ) {
    this.openFiles = opts.openFiles ?? sharedOpenFiles;
  }

  get files(): readonly TorrentFile[] {
    return this.layout.files;
  }

  path(fileIndex: number): string {
    return (this.paths[fileIndex] ??= filePath(this.root, this.layout.files[fileIndex]!));
  }

  /**
   * Refuse a download folder holding something the torrent cannot use: a symlink or a file where
   * it needs a folder, a symlink, folder or special file where it needs a file, and (when
   * writing) a file with other names. Run before anything is read, created or written.
   */
  async checkFolder(): Promise<void> {
    await checkFolder(this.root, this.layout.files, this.opts.writable);
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

  /** Write a whole verified piece (see chunked-write.ts for the write sizes); settles once every byte is written. */
  async writePiece(index: number, data: Buffer): Promise<void> {
    for (const loc of this.locate(index, 0, data.length)) {
      if (loc.pad) continue;
      await this.afterWrites(loc.path, () => this.withHandle(loc.path, (fh) => writeChunked(fh.fd, data.subarray(loc.rangeOffset, loc.rangeOffset + loc.length), loc.position, WRITE_CHUNK)));
      this.flushBehind(loc.path, loc.length);
    }
  }

  /** Run `write` once the writes queued before it to `path` have settled (each caller gets its own outcome). */
  private afterWrites(path: string, write: () => Promise<void>): Promise<void> {
    const before = this.writing.get(path);
    const run = before ? before.then(write) : write();
    const tail = run.catch(() => {});
    this.writing.set(path, tail);
    void tail.then(() => {
      if (this.writing.get(path) === tail) this.writing.delete(path);
    });
    return run;
  }

  /** Count written bytes; past FLUSH_BEHIND, flush the file in the background (one flush per file at a time). */
  private flushBehind(path: string, bytes: number): void {
    const n = (this.unflushed.get(path) ?? 0) + bytes;
    this.unflushed.set(path, n);
    if (n < FLUSH_BEHIND || this.flushing.has(path)) return;
    this.unflushed.set(path, 0);
    // A failed flush is not fatal here: the sync before the next resume save reports it.
    const f = this.withHandle(path, (fh) => fh.datasync()).catch(() => {});
    this.flushing.set(path, f);
    void f.finally(() => this.flushing.delete(path));
  }

  /** Create the empty files and folders of the torrent that are selected (a finished download has every one). */
  async createEmptyFiles(): Promise<void> {
    for (let i = 0; i < this.layout.files.length; i++) {
      const file = this.layout.files[i]!;
      const selected = this.opts.selection?.files[i] ?? true;
      if (file.length === 0 && !file.pad && selected) await this.withHandle(this.path(i), async () => {});
    }
  }

  /**
   * Size and modification time (ns) of each file, or undefined where it is missing. Each folder is
   * listed once and only the files in it are stat'ed: a stat that fails costs an exception, and a
   * fresh download of 125,000 files paid 6 s of them at every resume save.
   */
  async fileStats(): Promise<(FileStat | undefined)[]> {
    const listings = new Map<string, Promise<Set<string> | undefined>>();
    const listed = (dir: string): Promise<Set<string> | undefined> => {
      let names = listings.get(dir);
      if (!names) {
        names = readdir(dir).then((n) => new Set(n), () => undefined);
        listings.set(dir, names);
      }
      return names;
    };
    return Promise.all(
      this.layout.files.map(async (f, i) => {
        if (f.pad) return undefined;
        const full = this.path(i);
        if (!(await listed(dirname(full)))?.has(basename(full))) return undefined;
        return statOf(full);
      }),
    );
  }

  /** The same for the part files of these pieces, by piece. */
  async partStats(pieces: number[]): Promise<Map<number, FileStat>> {
    const out = new Map<number, FileStat>();
    const folder = this.opts.partsFolder;
    if (!folder || pieces.length === 0) return out;
    await Promise.all(pieces.map(async (p) => {
      const s = await statOf(partFile(folder, p));
      if (s) out.set(p, s);
    }));
    return out;
  }

  /** Make every write so far durable (before resume state may claim it). Only a writable store has anything to flush. */
  async sync(): Promise<void> {
    if (!this.opts.writable) return;
    await Promise.all(this.flushing.values());
    this.unflushed.clear();
    await Promise.all([...this.closing, ...[...this.handles.values()].map(async (e) => (await e.fh.catch(() => undefined))?.sync().catch(() => {}))]);
  }

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    for (const e of all) this.openFiles.remove(e);
    await Promise.all([...this.closing, ...all.map(async (e) => (await e.fh.catch(() => undefined))?.close().catch(() => {}))]);
  }

  /** Run `fn` with the file's handle; handles in use are never evicted from the LRU. */
  private async withHandle<T>(path: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.handles.get(path);
    if (entry) this.openFiles.use(entry);
    else {
      const e: OpenFile = {
        fh: this.openFile(path),
        writable: this.opts.writable,
        users: 0,
        // fsync before closing (closeOpenFile): resume state may record these pieces, and sync() waits for it.
        evicted: (closed) => {
          if (this.handles.get(path) === e) this.handles.delete(path);
          this.closing.add(closed);
          void closed.finally(() => this.closing.delete(closed));
        },
      };
      entry = e;
      this.handles.set(path, e);
      this.openFiles.add(e);
    }
    try {
      return await fn(await entry.fh);
    } catch (e) {
      // Drop (and close) a handle that failed, so the next use reopens it; never leak the descriptor.
      if (this.handles.get(path) === entry && entry.users === 1) {
        this.handles.delete(path);
        this.openFiles.remove(entry);
        void closeOpenFile(entry);
      }
      throw e;
    } finally {
      this.openFiles.release(entry);
    }
  }

  /**
   * Open a file of the torrent. O_NOFOLLOW: a symlink planted at its place must not redirect reads
   * or writes; O_NONBLOCK: a FIFO there must not hang the open. What was opened is then checked:
   * a regular file, and when writing one with no other name (a hard link to a file outside the
   * folder would be written through). Refused files are closed before anything touched them.
   */
  private async openFile(full: string): Promise<FileHandle> {
    const { writable } = this.opts;
    await this.checkFolders(full);
    const flags = (writable ? constants.O_RDWR | constants.O_CREAT : constants.O_RDONLY) | constants.O_NOFOLLOW | constants.O_NONBLOCK;
    const fh = await open(full, flags, 0o644).catch(async (e: NodeJS.ErrnoException) => {
      throw e.code === 'ELOOP' ? await symlinkFound(full, 'file', writable) : e;
    });
    const st = await fh.stat().catch(async (e: unknown) => {
      await fh.close();
      throw e;
    });
    if (st.isFile() && (!writable || st.nlink === 1)) return fh;
    await fh.close();
    throw st.isFile() ? hardLinked(full, st.nlink) : wrongKind(full, kindOf(st), 'file', writable);
  }

  /**
   * The folders on the way to `full` (a torrent file or a part file), checked one component at a time from the download
   * folder down and, when downloading, created the same way: never `mkdir -p`, which creates
   * folders through a symlink planted on the way before anything could refuse it.
   */
  private async checkFolders(full: string): Promise<void> {
    if (this.safeDirs.has(dirname(full))) return;
    const { writable } = this.opts;
    let dir = resolve(this.root);
    if (writable) await mkdir(dir, { recursive: true }); // the folder the user chose
    this.safeDirs.add(dir);
    const folders = relative(dir, dirname(full)).split(sep).filter((c) => c !== '');
    for (const name of folders) {
      dir = join(dir, name);
      if (this.safeDirs.has(dir)) continue;
      let st = await lstat(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
      if (!st) {
        if (!writable) return; // seeding a file that is not there: its open says so
        await mkdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? undefined : Promise.reject(e)));
        st = await lstat(dir);
      }
      if (st.isSymbolicLink()) throw await symlinkFound(dir, 'folder', writable);
      if (!st.isDirectory()) throw wrongKind(dir, kindOf(st), 'folder', writable);
      this.safeDirs.add(dir);
    }
  }
}
