/**
 * One torrent's data on disk: checks what is already there (trusting resume state only for
 * files that did not change), verifies every downloaded piece before it is written, serves
 * verified pieces, and keeps the resume file current.
 */
import type { Metainfo } from '../metainfo/types.js';
import { Bitfield } from '../util/bitfield.js';
import { FileStore } from './file-store.js';
import type { HashPool, RangeFile } from './hash-pool.js';
import { PieceLayout } from './layout.js';
import { PieceCache, type BlockLease } from './piece-cache.js';
import { loadResume, resumePath, saveResume, type FileStat } from './resume.js';

export interface CheckProgress {
  checkedBytes: number;
  totalBytes: number;
}

export interface CheckResult {
  /** Pieces that were hashed (not trusted from resume state). */
  hashed: number;
  /** Of those, pieces that matched. */
  valid: number;
  trusted: number;
}

export class TorrentStorage {
  readonly layout: PieceLayout;
  readonly have: Bitfield;
  private readonly store: FileStore;
  private readonly resumeFile: string;
  private writes = new Set<Promise<void>>();
  private readonly cache: PieceCache;
  private saving: Promise<void> = Promise.resolve();
  /** Resume state is only written once `have` reflects the disk: an interrupted check knows nothing yet. */
  private checked = false;
  /**
   * Whether the resume file on disk may say less than `have`: a piece written, or a check that had
   * to hash. A seed whose check trusted it all never rewrites it (a session of a thousand seeds
   * would otherwise fsync a thousand files every save interval).
   */
  private dirty = true;

  constructor(
    readonly meta: Metainfo,
    readonly root: string,
    private readonly pool: HashPool,
    opts: { writable: boolean; stateDir: string },
  ) {
    this.layout = new PieceLayout(meta.files, meta.pieceLength, meta.totalLength);
    this.have = new Bitfield(meta.pieceCount);
    this.store = new FileStore(root, this.layout, { writable: opts.writable });
    this.resumeFile = resumePath(opts.stateDir, meta.infoHashHex, root);
    this.cache = new PieceCache(
      (i, into) => this.store.readInto(i, 0, into),
      (i, begin, length) => this.store.read(i, begin, length),
      (i) => this.layout.pieceSize(i),
      meta.pieceLength,
    );
  }

  /**
   * Find the verified pieces on disk, once the folder holds nothing the torrent cannot use (see
   * FileStore.checkFolder). `force` ignores the resume state and hashes everything present.
   */
  async check(force: boolean, onProgress?: (p: CheckProgress) => void): Promise<CheckResult> {
    await this.store.checkFolder();
    const stats = await this.store.fileStats();
    const resume = force ? undefined : await loadResume(this.resumeFile, this.meta.infoHashHex, this.meta.pieceCount);
    const saved = resume ? new Bitfield(this.meta.pieceCount, Buffer.from(resume.have, 'base64')) : undefined;
    const unchanged = this.meta.files.map((f, i) => {
      if (f.pad) return true;
      const now = stats[i], then = resume?.files[i];
      return !!now && !!then && now.size === then.size && now.mtimeNs === then.mtimeNs;
    });
    const toHash: number[] = [];
    let trusted = 0;
    for (let p = 0; p < this.meta.pieceCount; p++) {
      const segs = this.layout.segments(p);
      const filesOk = segs.every((s) => unchanged[s.fileIndex]);
      if (saved && filesOk) {
        // Files unchanged since the save: what was verified is still there, what was missing still is.
        if (saved.has(p)) {
          this.have.set(p);
          trusted++;
        }
        continue;
      }
      // Only hash pieces whose bytes all exist: a missing or short file means the piece is missing.
      const present = segs.every((s) => this.meta.files[s.fileIndex]!.pad || (stats[s.fileIndex]?.size ?? -1) >= s.fileOffset + s.length);
      if (present) toHash.push(p);
    }
    const totalBytes = toHash.reduce((n, p) => n + this.layout.pieceSize(p), 0);
    let checkedBytes = 0;
    onProgress?.({ checkedBytes, totalBytes });
    let valid = 0;
    const files: RangeFile[] = this.meta.files.map((f, i) => ({ path: f.pad ? null : this.store.path(i), offset: f.offset, length: f.length }));
    // Contiguous runs of pieces go to the pool as ranges, which it spreads over the cores.
    await Promise.all(
      runs(toHash).map(async ([a, b]) => {
        const { hashes, present } = await this.pool.hashFiles(files, this.meta.pieceLength, this.meta.totalLength, a, b, (bytes) => {
          checkedBytes += bytes;
          onProgress?.({ checkedBytes, totalBytes });
        });
        for (let p = a; p <= b; p++) {
          const k = p - a;
          if (present[k] && hashes.subarray(k * 20, k * 20 + 20).equals(this.expected(p))) {
            this.have.set(p);
            valid++;
          }
        }
      }),
    );
    this.checked = true;
    this.dirty = !saved || toHash.length > 0;
    return { hashed: toHash.length, valid, trusted };
  }

  expected(index: number): Buffer {
    return this.meta.pieceHashes.subarray(index * 20, index * 20 + 20);
  }

  /**
   * Check a downloaded piece against its expected hash and write it only if it matches. `data`
   * is the piece, `digest` its SHA-1. `inspect` learns the verdict first (the evidence for
   * blame). Resolves to whether the piece was good, once nothing reads `data` any more.
   */
  async verifyAndWrite(index: number, data: Buffer, digest: Buffer, inspect?: (ok: boolean) => void): Promise<boolean> {
    const ok = digest.equals(this.expected(index));
    inspect?.(ok);
    if (!ok) return false;
    // Writes run in parallel on libuv's threads: measured faster than one at a time here.
    const w = this.store.writePiece(index, data);
    this.writes.add(w);
    try {
      await w;
    } finally {
      this.writes.delete(w);
    }
    this.have.set(index);
    this.dirty = true;
    return true;
  }

  /** A block of a verified piece, for uploading; release it once the socket has taken it. */
  readBlock(index: number, begin: number, length: number): Promise<BlockLease> {
    return this.cache.block(index, begin, length);
  }

  async createEmptyFiles(): Promise<void> {
    await this.store.createEmptyFiles();
  }

  /** Record the verified pieces with the files' current stats; waits for writes in flight first. */
  saveResume(): Promise<void> {
    // One save at a time, in order: a later save always reflects at least as much as an earlier one.
    const next = this.saving.then(() => this.writeResume());
    this.saving = next.catch(() => {});
    return next;
  }

  private async writeResume(): Promise<void> {
    if (!this.checked || !this.dirty) return;
    // `have` first: a piece written after this point is simply not recorded yet (and makes it dirty again).
    this.dirty = false;
    const have = Buffer.from(this.have.bytes).toString('base64');
    try {
      await this.writeState(have);
    } catch (e) {
      this.dirty = true;
      throw e;
    }
  }

  private async writeState(have: string): Promise<void> {
    await Promise.allSettled([...this.writes]);
    await this.store.sync();
    const stats = await this.store.fileStats();
    await saveResume(this.resumeFile, {
      version: 1,
      infoHash: this.meta.infoHashHex,
      dir: this.root,
      pieceCount: this.meta.pieceCount,
      have,
      files: stats.map((s): FileStat | null => s ?? null),
      savedAt: new Date().toISOString(),
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.writes]);
    await this.store.close();
  }
}

/** [first, last] runs of consecutive numbers in a sorted list. */
function runs(sorted: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const n of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === n - 1) last[1] = n;
    else out.push([n, n]);
  }
  return out;
}
