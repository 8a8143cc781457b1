/**
 * The process-wide bound on open data files: one LRU shared by every torrent's FileStore, so a
 * session of a thousand torrents holds at most `limit` descriptors for its data, not one per file
 * per torrent. A handle in use is never closed (the bound is then exceeded by the handles in use,
 * briefly); an idle one is closed, least recently used first, when another file needs the room,
 * and a writable one is fsynced before it is closed.
 */
import type { FileHandle } from 'node:fs/promises';

/** One open (or opening) file of some store. */
export interface OpenFile {
  readonly fh: Promise<FileHandle>;
  readonly writable: boolean;
  /** Operations running on it now: it is not closed while any is. */
  users: number;
  /** Called when the LRU closes it: the owner forgets it and waits for `closed` before claiming durability. */
  evicted(closed: Promise<void>): void;
}

/** Data files open at once, all torrents together (a process may have 1024 descriptors in all). */
export const DEFAULT_OPEN_FILES = 256;

/** fsync (when writable), then close; never throws. */
export function closeOpenFile(f: OpenFile): Promise<void> {
  return f.fh
    .then(async (fh) => {
      if (f.writable) await fh.sync().catch(() => {});
      await fh.close();
    })
    .catch(() => {});
}

export class OpenFiles {
  /** Least recently used first. */
  private readonly lru = new Set<OpenFile>();

  constructor(readonly limit = DEFAULT_OPEN_FILES) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`open file limit must be a positive integer, not ${limit}`);
  }

  /** Files open (or opening) now, in use or not. */
  get size(): number {
    return this.lru.size;
  }

  /** A file was just opened and is in use: room is made for it first. */
  add(f: OpenFile): void {
    this.evictIdle(this.limit - 1);
    f.users++;
    this.lru.add(f);
  }

  /** A file is used again: it becomes the most recently used. */
  use(f: OpenFile): void {
    f.users++;
    this.lru.delete(f);
    this.lru.add(f);
  }

  /** One use of it ended: past the bound (files were busy when others opened), idle ones close now. */
  release(f: OpenFile): void {
    f.users--;
    if (this.lru.size > this.limit) this.evictIdle(this.limit);
  }

  /** The owner closes it itself (closing the store, or after a failure). */
  remove(f: OpenFile): void {
    this.lru.delete(f);
  }

  /** Close idle files, least recently used first, until at most `keep` are open. */
  private evictIdle(keep: number): void {
    for (const f of this.lru) {
      if (this.lru.size <= keep) return;
      if (f.users > 0) continue;
      this.lru.delete(f);
      f.evicted(closeOpenFile(f));
    }
  }
}

/** The one LRU of the process: every FileStore uses it unless given another. */
export const sharedOpenFiles = new OpenFiles();
