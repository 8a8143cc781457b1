/**
 * What each piece of a torrent must hash to, and the check itself: a v1 piece its SHA-1 from
 * "pieces"; a v2 piece (BEP 52) the merkle root over its file's 16 KiB blocks in it, from the
 * file's piece layer (or the file's root, for a file of one piece); a hybrid's piece both. The
 * piece layers a torrent file left out (every one, from a magnet) come later from peers (or from
 * the data on disk, once it proves a file's root): until then a v2-only torrent's pieces of that
 * file cannot be checked, and a hybrid's are checked by their SHA-1 alone. A hybrid whose two
 * halves turn out to disagree is checked by its v1 half alone from then on (BEP 52's fallback).
 */
import { createHash } from 'node:crypto';
import { FileTree, type HashRange } from '../merkle/file-tree.js';
import { layerRoot, leafHashes } from '../merkle/merkle.js';
import type { Metainfo } from '../metainfo/types.js';

/** A piece checked: `leaves` (v2) are its blocks' hashes, what tells a bad block from a good one. */
export interface PieceCheck {
  ok: boolean;
  leaves?: Buffer;
  /** It matched its SHA-1 and failed its merkle hash: the torrent's two halves disagree. */
  inconsistent?: boolean;
}

/** Where a v2 piece lies: its file, its place in the file, and the file's bytes in it. */
export interface V2Piece {
  file: number;
  /** Index of the piece within its file. */
  local: number;
  /** Bytes of the file in the piece (the rest, if any, is padding). */
  bytes: number;
  tree: FileTree;
}

export class PieceHashes {
  /** Merkle trees by file index (v2 and hybrid torrents, files with data). */
  readonly trees: (FileTree | undefined)[];
  /** File index of each piece (v2), and of each file its first piece. */
  private readonly fileOfPiece?: Uint32Array;
  private readonly firstPiece: number[] = [];
  /** Files by merkle root: files with the same content share one root (and one set of hash requests). */
  private readonly byRoot = new Map<string, number[]>();
  /** Files whose piece layer is not known yet. */
  private readonly incomplete = new Set<number>();
  /** Piece layers learned since the torrent started (from peers or the disk): worth saving. */
  private learnedLayers = 0;
  private readonly listeners: ((first: number, last: number) => void)[] = [];
  /** A hybrid's v2 half disagreed with its v1 half: only the SHA-1s count. */
  private v2Dropped = false;

  constructor(readonly meta: Metainfo) {
    this.trees = meta.files.map((f) => (meta.v2 && f.piecesRoot && !f.pad ? new FileTree(f.length, meta.pieceLength, f.piecesRoot) : undefined));
    if (!meta.v2) return;
    this.fileOfPiece = new Uint32Array(meta.pieceCount);
    meta.files.forEach((f, i) => {
      const tree = this.trees[i];
      if (!tree) return;
      const first = f.offset / meta.pieceLength;
      this.firstPiece[i] = first;
      this.fileOfPiece!.fill(i, first, first + tree.pieces);
      const key = f.piecesRoot!.toString('latin1');
      const same = this.byRoot.get(key);
      if (same) same.push(i);
      else this.byRoot.set(key, [i]);
      const layer = meta.pieceLayers.get(i);
      if (layer) tree.setLayer(layer);
      if (!tree.complete) this.incomplete.add(i);
    });
  }

  /** Once a file's piece layer is known: the pieces [first, last] that can be checked now. */
  onLayer(listener: (first: number, last: number) => void): void {
    this.listeners.push(listener);
  }

  /** How many piece layers were learned (from peers or the disk) since the start. */
  get learned(): number {
    return this.learnedLayers;
  }

  /**
   * Whether piece `index` can be checked now. A v2 piece counts only once its file's whole layer
   * is known (not each 512-hash chunk as it is proven): `onLayer` then tells of it, the one place
   * pieces become checkable.
   */
  known(index: number): boolean {
    if (this.meta.v1) return true;
    const p = this.v2Piece(index);
    return !p || p.tree.complete;
  }

  /** Every piece can be checked by every hash the torrent has. */
  get complete(): boolean {
    return this.incomplete.size === 0;
  }

  /** The files whose piece layer is still unknown. */
  incompleteFiles(): Iterable<number> {
    return this.incomplete;
  }

  /** The files whose merkle root this is (for hash messages): several when files have the same content. */
  filesOfRoot(root: Buffer): readonly number[] {
    return this.byRoot.get(root.toString('latin1')) ?? [];
  }

  /** Where a v2 piece lies (undefined in a v1 torrent, and for a piece of padding alone). */
  v2Piece(index: number): V2Piece | undefined {
    const file = this.fileOfPiece?.[index];
    if (file === undefined) return undefined;
    const tree = this.trees[file];
    if (!tree) return undefined;
    const local = index - this.firstPiece[file]!;
    if (local < 0 || local >= tree.pieces) return undefined;
    return { file, local, bytes: Math.min(this.meta.pieceLength, tree.length - local * this.meta.pieceLength), tree };
  }

  /** The first piece of file `file` (v2). */
  firstPieceOf(file: number): number {
    return this.firstPiece[file]!;
  }

  /** Check a whole piece's data against every hash of it we know. */
  verify(index: number, data: Buffer): PieceCheck {
    const v1 = this.meta.v1 ? createHash('sha1').update(data).digest().equals(this.meta.pieceHashes.subarray(index * 20, index * 20 + 20)) : undefined;
    const p = this.v2Dropped ? undefined : this.v2Piece(index);
    const expected = p?.tree.pieceHash(p.local);
    if (!p || !expected) return { ok: v1 ?? false };
    const leaves = leafHashes(data.subarray(0, p.bytes));
    const v2 = layerRoot(leaves, 0, p.tree.pieceWidth).equals(expected);
    return { ok: (v1 ?? true) && v2, leaves, ...(v1 === true && !v2 ? { inconsistent: true } : {}) };
  }

  /**
   * A hybrid's halves disagree (a piece matched its SHA-1, not its merkle hash): BEP 52 lets a
   * client go on with one of them as if the other were not there; the v1 half it is.
   */
  dropV2(): void {
    if (this.meta.v1) this.v2Dropped = true;
  }

  /** The hash a piece's v2 data folds to, checked here (hash workers compute it from the disk): true when it matches. */
  matchesRoot(index: number, root: Uint8Array): boolean | undefined {
    const p = this.v2Piece(index);
    const expected = p?.tree.pieceHash(p.local);
    return expected ? expected.equals(root) : undefined;
  }

  /** A file's whole piece layer (rebuilt from the disk): kept if it proves the root. */
  setLayer(file: number, layer: Buffer): boolean {
    const tree = this.trees[file];
    if (!tree || tree.complete) return false;
    if (!tree.setLayer(layer)) return false;
    this.layerKnown(file);
    return true;
  }

  /**
   * Hashes a peer sent for a chunk of the piece layer under merkle root `root`: kept, for every
   * file with that root still missing it, if they prove the root. True when they did.
   */
  addChunk(root: Buffer, r: HashRange, hashes: Buffer): boolean {
    let proven = false;
    for (const file of this.filesOfRoot(root)) {
      const tree = this.trees[file]!;
      if (tree.complete || !tree.addChunk(r, hashes)) continue;
      proven = true;
      if (tree.complete) this.layerKnown(file);
    }
    return proven;
  }

  private layerKnown(file: number): void {
    this.incomplete.delete(file);
    this.learnedLayers++;
    const first = this.firstPiece[file]!;
    const last = first + this.trees[file]!.pieces - 1;
    for (const l of this.listeners) l(first, last);
  }

  /** Piece layers known, by root (for saving beside the info dictionary). */
  knownLayers(): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    this.trees.forEach((t, i) => {
      if (t?.layered && t.pieceLayer) out.set(this.meta.files[i]!.piecesRoot!.toString('latin1'), t.pieceLayer);
    });
    return out;
  }

  /** For the hash workers: per piece of [first, last], the file's bytes in it and the width its leaves fold over (0 0: not v2). */
  v2Plan(first: number, last: number): { bytes: Uint32Array; widths: Uint32Array } | undefined {
    if (!this.meta.v2) return undefined;
    const bytes = new Uint32Array(last - first + 1);
    const widths = new Uint32Array(last - first + 1);
    for (let i = first; i <= last; i++) {
      const p = this.v2Piece(i);
      if (!p) continue;
      bytes[i - first] = p.bytes;
      widths[i - first] = p.tree.pieceWidth;
    }
    return { bytes, widths };
  }
}
