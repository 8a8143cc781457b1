/**
 * One torrent's data on disk: checks what is already there (trusting resume state only for
 * files that did not change; v2 pieces by their merkle hashes, a file whose piece layer is
 * unknown by its root), writes verified pieces, serves them, and keeps the resume file current.
 */
import type { Metainfo } from '../metainfo/types.js';
import { Bitfield } from '../util/bitfield.js';
import { FileStore, type Location } from './file-store.js';
import type { HashPool, RangeFile } from './hash-pool.js';
import type { CheckProgress, CheckResult, StorageBytes, TorrentStore } from './piece-store.js';
import { PieceLayout } from './layout.js';
import { partFile, partsFolder } from './part-files.js';
import { PieceCache, type BlockLease } from './piece-cache.js';
import { PieceHashes } from './piece-hashes.js';
import { loadResume, resumePath, saveResume, type FileStat } from './resume.js';
import { FileSelection, type SelectionSpec } from './selection.js';

export class TorrentStorage implements TorrentStore {
  readonly layout: PieceLayout;
  readonly have: Bitfield;
  /** The files to download, and the pieces that makes wanted. */
  readonly selection: FileSelection;
  readonly hashes: PieceHashes;
  /** Wanted pieces not verified yet. */
  private missing: number;
  private readonly counted: StorageBytes;
  /** Wanted pieces that hold bytes of skipped files (kept in part files), in order. */
  private readonly parted: number[];
  private readonly partsDir: string;
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
    opts: { writable: boolean; stateDir: string; select?: SelectionSpec },
  ) {
    this.layout = new PieceLayout(meta.files, meta.pieceLength, meta.totalLength);
    this.have = new Bitfield(meta.pieceCount);
    this.hashes = new PieceHashes(meta);
    this.selection = FileSelection.of(meta, this.layout, opts.select);
    this.missing = this.selection.pieces.count;
    this.counted = { have: 0, left: meta.totalLength, wanted: 0, wantedHave: 0 };
    for (let p = 0; p < meta.pieceCount; p++) if (this.wanted(p)) this.counted.wanted += this.layout.pieceSize(p);
    this.partsDir = partsFolder(root, meta.infoHashHex);
    // Only the first and the last piece of a skipped file can hold bytes of another file.
    const parted = new Set<number>();
    meta.files.forEach((f, i) => {
      const range = f.pad || this.selection.files[i] ? undefined : this.layout.piecesOfFile(i);
      for (const p of range ? [range[0], range[1]] : []) if (this.selection.pieces.has(p)) parted.add(p);
    });
    this.parted = [...parted].sort((x, y) => x - y);
    this.store = new FileStore(root, this.layout, { writable: opts.writable, selection: this.selection, partsFolder: this.partsDir });
    this.resumeFile = resumePath(opts.stateDir, meta.infoHashHex, root);
    this.cache = new PieceCache(
      (i, into) => this.store.readInto(i, 0, into),
      (i, begin, length) => this.store.read(i, begin, length),
      (i) => this.layout.pieceSize(i),
      meta.pieceLength,
    );
  }

  /** Every selected file's pieces are verified (the whole torrent, without a selection). */
  get done(): boolean {
    return this.missing === 0;
  }

  /** Bytes by state, as of now. */
  bytes(): StorageBytes {
    return { ...this.counted };
  }

  /** Whether piece `index` is one to download. */
  wanted(index: number): boolean {
    return this.selection.pieces.has(index);
  }

  /**
   * Find the verified pieces on disk, once the folder holds nothing the torrent cannot use (see
   * FileStore.checkFolder). `force` ignores the resume state and hashes everything present.
   */
  async check(force: boolean, onProgress?: (p: CheckProgress) => void): Promise<CheckResult> {
    await this.store.checkFolder();
    const stats = await this.store.fileStats();
    const parts = await this.store.partStats(this.parted);
    const loaded = force ? {} : await loadResume(this.resumeFile, this.meta.infoHashHex, this.meta.pieceCount);
    const resume = loaded.state;
    const saved = resume ? new Bitfield(this.meta.pieceCount, Buffer.from(resume.have, 'base64')) : undefined;
    const same = (now: FileStat | undefined, then: FileStat | null | undefined) => !!now && !!then && now.size === then.size && now.mtimeNs === then.mtimeNs;
    const unchanged = this.meta.files.map((f, i) => f.pad || same(stats[i], resume?.files[i]));
    const sizeOf = (l: Location & { pad: false }) => (l.part !== undefined ? parts.get(l.part)?.size : stats[l.file]?.size) ?? -1;
    const toHash: number[] = [];
    let trusted = 0;
    for (let p = 0; p < this.meta.pieceCount; p++) {
      const locs = this.store.locate(p);
      const filesOk = locs.every((l) => l.pad || (l.part !== undefined ? same(parts.get(l.part), resume?.parts?.[l.part]) : unchanged[l.file]));
      if (saved && filesOk) {
        // Files unchanged since the save: what was verified is still there, what was missing still is.
        if (saved.has(p)) {
          this.have.set(p);
          trusted++;
        }
        continue;
      }
      // Only hash pieces whose bytes all exist: a missing or short file means the piece is missing.
      if (locs.every((l) => l.pad || sizeOf(l) >= l.position + l.length)) toHash.push(p);
    }
    const totalBytes = toHash.reduce((n, p) => n + this.layout.pieceSize(p), 0);
    let checkedBytes = 0;
    onProgress?.({ checkedBytes, totalBytes });
    let valid = 0;
    const files = this.rangeFiles();
    // v2 roots of pieces whose file's piece layer is unknown: a file whose every piece is here proves it.
    const unproven = new Map<number, Buffer>();
    // Contiguous runs of pieces go to the pool as ranges, which it spreads over the cores.
    await Promise.all(
      runs(toHash).map(async ([a, b]) => {
        const v2 = this.hashes.v2Plan(a, b);
        const { meta } = this;
        const kinds = { sha1: meta.v1, ...(v2 ? { v2 } : {}) };
        const { hashes, roots, present } = await this.pool.hashFiles(files, meta.pieceLength, meta.totalLength, a, b, (bytes) => {
          checkedBytes += bytes;
          onProgress?.({ checkedBytes, totalBytes });
        }, kinds);
        for (let p = a; p <= b; p++) {
          const k = p - a;
          if (!present[k]) continue;
          const v1 = !meta.v1 || hashes.subarray(k * 20, k * 20 + 20).equals(meta.pieceHashes.subarray(p * 20, p * 20 + 20));
          const root = v2 && v2.widths[k] ? roots.subarray(k * 32, k * 32 + 32) : undefined;
          const merkle = root ? this.hashes.matchesRoot(p, root) : true;
          if (merkle === undefined) unproven.set(p, Buffer.from(root!));
          // A hybrid's piece whose layer is unknown counts by its SHA-1, as when it is downloaded.
          if (v1 && (merkle ?? meta.v1)) {
            this.have.set(p);
            valid++;
          }
        }
      }),
    );
    valid += this.proveLayers(unproven);
    this.missing = 0;
    Object.assign(this.counted, { have: 0, left: this.meta.totalLength, wantedHave: 0 });
    for (let p = 0; p < this.meta.pieceCount; p++) {
      if (this.have.has(p)) this.count(p);
      else if (this.wanted(p)) this.missing++;
    }
    this.checked = true;
    this.dirty = !saved || toHash.length > 0;
    return { hashed: toHash.length, valid, trusted, ...(loaded.problem ? { resumeProblem: loaded.problem } : {}) };
  }

  /**
   * The torrent's bytes as the hashing workers read them: each file from its own path, except the
   * runs of skipped files inside wanted pieces, which come from those pieces' part files.
   */
  private rangeFiles(): RangeFile[] {
    const out: RangeFile[] = [];
    const { pieceLength } = this.meta;
    this.meta.files.forEach((f, i) => {
      if (f.pad) return out.push({ path: null, offset: f.offset, length: f.length });
      const path = this.store.path(i);
      let at = f.offset;
      const end = f.offset + f.length;
      for (const p of this.selection.files[i] ? [] : this.parted) {
        const from = Math.max(at, p * pieceLength), to = Math.min(end, (p + 1) * pieceLength);
        if (to <= from) continue;
        // The rest of a skipped file is read from the file itself, where an earlier download may have left it.
        if (from > at) out.push({ path, offset: at, length: from - at, position: at - f.offset });
        out.push({ path: partFile(this.partsDir, p), offset: from, length: to - from, position: from - p * pieceLength });
        at = to;
      }
      if (end > at || f.length === 0) out.push({ path, offset: at, length: end - at, position: at - f.offset });
      return undefined;
    });
    return out;
  }

  /**
   * Files whose piece layer is unknown and whose every piece was hashed: their pieces' roots are
   * the layer if it proves the file's root, and then every piece is good. Returns the pieces
   * found good that were not counted yet.
   */
  private proveLayers(unproven: Map<number, Buffer>): number {
    let valid = 0;
    this.hashes.trees.forEach((tree, f) => {
      if (!tree || tree.complete) return;
      const first = this.hashes.firstPieceOf(f);
      const layer: Buffer[] = [];
      for (let p = first; p < first + tree.pieces; p++) {
        const root = unproven.get(p);
        if (!root) return;
        layer.push(root);
      }
      // A hybrid's pieces were counted by their SHA-1 already; the layer is worth having all the same.
      if (!this.hashes.setLayer(f, Buffer.concat(layer)) || this.meta.v1) return;
      for (let p = first; p < first + tree.pieces; p++) {
        if (this.have.has(p)) continue;
        this.have.set(p);
        valid++;
      }
    });
    return valid;
  }

  /** Write a piece whose hash matched; it counts once written (resolves when nothing reads `data` any more). */
  async writeVerified(index: number, data: Buffer): Promise<void> {
    // Writes run in parallel on libuv's threads: measured faster than one at a time here.
    const w = this.store.writePiece(index, data);
    this.writes.add(w);
    try {
      await w;
    } finally {
      this.writes.delete(w);
    }
    if (!this.have.has(index)) {
      if (this.wanted(index)) this.missing--;
      this.count(index);
    }
    this.have.set(index);
    this.dirty = true;
  }

  /** Piece `index` joins the verified bytes. */
  private count(index: number): void {
    const size = this.layout.pieceSize(index);
    this.counted.have += size;
    this.counted.left -= size;
    if (this.wanted(index)) this.counted.wantedHave += size;
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
    const parts = await this.store.partStats(this.parted);
    await saveResume(this.resumeFile, {
      version: 1,
      infoHash: this.meta.infoHashHex,
      dir: this.root,
      pieceCount: this.meta.pieceCount,
      have,
      files: stats.map((s): FileStat | null => s ?? null),
      ...(parts.size > 0 ? { parts: Object.fromEntries(parts) } : {}),
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
