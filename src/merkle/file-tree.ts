/**
 * One file's merkle tree as a BEP 52 peer knows it: the root from the metainfo, the piece layer
 * once known (from the torrent file, or fetched from peers in chunks proven against the root),
 * the hash each piece must have, and the answers to peers' hash requests (piece-layer hashes,
 * or leaf hashes of one piece computed from its data, each with the uncle hashes up to the root).
 */
import { HASH_BYTES, LEAF_BYTES, foldProof, layerRoot, layersAbove, leafHashes, log2, nextPow2, padHash } from './merkle.js';

/** Piece-layer hashes asked for at once (BEP 52: length SHOULD NOT exceed 512; libtorrent asks 512). */
export const LAYER_CHUNK = 512;
/** Largest `length` of a hash request we answer (libtorrent's bound: 128 MiB pieces of leaves). */
export const MAX_HASH_COUNT = 8192;

/** A BEP 52 hash request (or hashes / hash reject), without its pieces root. */
export interface HashRange {
  /** Levels above the leaves of the first requested layer. */
  base: number;
  /** First hash of that layer. */
  index: number;
  /** Hashes of that layer (a power of two; `index` a multiple of it). */
  count: number;
  /** Ancestor layers whose uncle hashes are included. */
  proofLayers: number;
}

/** Uncle hashes in an answer to `r`: the first log2(count) - 1 proof layers are computable from the hashes themselves. */
export function uncleCount(r: HashRange): number {
  return Math.max(0, r.proofLayers - log2(r.count) + 1);
}

export class FileTree {
  /** Leaves over real data. */
  readonly blocks: number;
  /** Levels from the leaves to the root. */
  readonly height: number;
  /** The level of the piece layer: log2(piece length / 16 KiB). */
  readonly pieceLevel: number;
  readonly pieces: number;
  private layer?: Buffer;
  /** While a layer is fetched: its hashes so far, and which chunks of LAYER_CHUNK are proven. */
  private partial?: Buffer;
  private provenChunks?: Uint8Array;
  /** Layers from the padded piece layer up to the root, built for the first request that needs them. */
  private upper?: Buffer[];

  constructor(
    readonly length: number,
    readonly pieceLength: number,
    readonly root: Buffer,
  ) {
    this.blocks = Math.ceil(length / LEAF_BYTES);
    this.height = log2(nextPow2(this.blocks));
    this.pieceLevel = log2(pieceLength / LEAF_BYTES);
    this.pieces = Math.ceil(length / pieceLength);
  }

  /** More than one piece: its pieces' hashes form a piece layer below the root. */
  get layered(): boolean {
    return this.pieces > 1;
  }

  /** Every piece's hash is known. */
  get complete(): boolean {
    return !this.layered || this.layer !== undefined;
  }

  /** The piece layer, once known (files of one piece have none: the root is their piece's hash). */
  get pieceLayer(): Buffer | undefined {
    return this.layer;
  }

  /** Leaves a piece's hash is folded from: a whole piece's worth, or for a file of one piece the tree's own width. */
  get pieceWidth(): number {
    return this.layered ? 2 ** this.pieceLevel : nextPow2(this.blocks);
  }

  /** The hash piece `i` of this file must have, if known. */
  pieceHash(i: number): Buffer | undefined {
    if (!this.layered) return this.root;
    const from = this.layer ?? (this.provenChunks?.[Math.floor(i / LAYER_CHUNK)] ? this.partial : undefined);
    return from?.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  /** A whole piece layer (from a torrent file, or rebuilt from data on disk): kept if it proves the root. */
  setLayer(layer: Buffer): boolean {
    if (!this.layered || this.layer) return !this.layered || this.layer!.equals(layer);
    if (layer.length !== this.pieces * HASH_BYTES) return false;
    if (!layerRoot(layer, this.pieceLevel, nextPow2(this.pieces)).equals(this.root)) return false;
    this.layer = Buffer.from(layer);
    this.partial = undefined;
    this.provenChunks = undefined;
    return true;
  }

  /** The chunks of the piece layer still to fetch, as the requests that ask for them (proofs up to the root). */
  missingChunks(): HashRange[] {
    if (this.complete) return [];
    const out: HashRange[] = [];
    for (let c = 0; c * LAYER_CHUNK < this.pieces; c++) {
      if (this.provenChunks?.[c]) continue;
      out.push(this.chunkRange(c));
    }
    return out;
  }

  private chunkRange(c: number): HashRange {
    const index = c * LAYER_CHUNK;
    const count = Math.min(LAYER_CHUNK, nextPow2(this.pieces - index));
    return { base: this.pieceLevel, index, count, proofLayers: this.height - this.pieceLevel - 1 };
  }

  /**
   * Hashes a peer sent for a chunk of the piece layer (`hashes`: the requested ones, then the
   * uncles): kept if they prove the root. True when they did.
   */
  addChunk(r: HashRange, hashes: Buffer): boolean {
    if (this.complete || r.base !== this.pieceLevel || r.index % LAYER_CHUNK !== 0 || r.index >= this.pieces) return false;
    const expect = this.chunkRange(r.index / LAYER_CHUNK);
    if (r.count !== expect.count || r.proofLayers !== expect.proofLayers) return false;
    if (hashes.length !== (r.count + uncleCount(r)) * HASH_BYTES) return false;
    const base = hashes.subarray(0, r.count * HASH_BYTES);
    const uncles: Buffer[] = [];
    for (let k = r.count; k < hashes.length / HASH_BYTES; k++) uncles.push(hashes.subarray(k * HASH_BYTES, (k + 1) * HASH_BYTES));
    const chunkRoot = layerRoot(base, this.pieceLevel, r.count);
    if (!foldProof(chunkRoot, r.index / r.count, uncles).equals(this.root)) return false;
    this.partial ??= Buffer.alloc(this.pieces * HASH_BYTES);
    this.provenChunks ??= new Uint8Array(Math.ceil(this.pieces / LAYER_CHUNK));
    const real = Math.min(r.count, this.pieces - r.index);
    base.copy(this.partial, r.index * HASH_BYTES, 0, real * HASH_BYTES);
    this.provenChunks[r.index / LAYER_CHUNK] = 1;
    if (this.provenChunks.every((x) => x === 1)) {
      this.layer = this.partial;
      this.partial = undefined;
      this.provenChunks = undefined;
    }
    return true;
  }

  /**
   * Whether a peer's request (or the hashes it sent) is one this tree has room for: a power of
   * two no larger than MAX_HASH_COUNT, aligned, inside its layer, with proofs below the root.
   */
  fits(r: HashRange): boolean {
    if (!Number.isSafeInteger(r.base) || r.base < 0 || r.base >= this.height) return false;
    if (r.count < 1 || r.count > MAX_HASH_COUNT || nextPow2(r.count) !== r.count || r.index % r.count !== 0) return false;
    if (r.index + r.count > 2 ** (this.height - r.base)) return false;
    return r.proofLayers >= 0 && r.proofLayers < this.height - r.base;
  }

  /**
   * Whether the answer to `r` is computed from a piece's data (leaf hashes): a request at level 0,
   * unless that level is the piece layer (pieces of 16 KiB, whose leaves are their hashes).
   */
  needsData(r: HashRange): boolean {
    return r.base === 0 && !(this.layered && this.pieceLevel === 0);
  }

  /**
   * Leaves a request at level 0 needs: the piece (of this file) whose data they hash, or
   * undefined when the request is for the piece layer or cannot be answered anyway.
   */
  leafPiece(r: HashRange): number | undefined {
    if (r.base !== 0 || r.count > this.pieceWidth) return undefined;
    const piece = Math.floor(r.index / this.pieceWidth);
    return piece < this.pieces ? piece : undefined;
  }

  /**
   * Our answer to a hash request: the requested hashes, then the uncles, lowest first; undefined
   * when we will not answer (a layer we do not serve, hashes we do not know). A request at level
   * 0 needs `pieceData`, the file's bytes of the piece `leafPiece` named.
   */
  answer(r: HashRange, pieceData?: Uint8Array): Buffer | undefined {
    if (!this.fits(r)) return undefined;
    let leaves: Buffer[] | undefined;
    if (this.needsData(r)) {
      const piece = this.leafPiece(r);
      if (piece === undefined || !pieceData) return undefined;
      leaves = layersAbove(leafHashes(pieceData), 0, this.pieceWidth);
    } else if (r.base !== this.pieceLevel || !this.layered) return undefined;
    const upper = this.layered ? this.upperLayers() : undefined;
    if (this.layered && !upper) return undefined;
    const leafTop = log2(this.pieceWidth);
    const pieceOfLeaves = r.base === 0 ? Math.floor(r.index / this.pieceWidth) : 0;
    // The hash of one node: below the piece level from the piece's own leaves, above from the upper layers.
    const node = (level: number, pos: number): Buffer => {
      if (leaves && level < leafTop) {
        const local = pos - pieceOfLeaves * 2 ** (leafTop - level);
        const layer = leaves[level]!;
        return local * HASH_BYTES < layer.length ? layer.subarray(local * HASH_BYTES, (local + 1) * HASH_BYTES) : padHash(level);
      }
      if (!upper) return leaves![leafTop]!.subarray(0, HASH_BYTES); // a file of one piece: its root
      const layer = upper[level - this.pieceLevel]!;
      return pos * HASH_BYTES < layer.length ? layer.subarray(pos * HASH_BYTES, (pos + 1) * HASH_BYTES) : padHash(level);
    };
    const out: Buffer[] = [];
    for (let k = 0; k < r.count; k++) out.push(node(r.base, r.index + k));
    const computable = log2(r.count) - 1;
    let pos = r.index;
    for (let i = 0; i < r.proofLayers; i++) {
      pos = Math.floor(pos / 2);
      if (i >= computable) out.push(node(r.base + i + 1, pos ^ 1));
    }
    return Buffer.concat(out);
  }

  private upperLayers(): Buffer[] | undefined {
    if (!this.layer) return undefined;
    this.upper ??= layersAbove(this.layer, this.pieceLevel, nextPow2(this.pieces));
    return this.upper;
  }

  /**
   * Whether `hashes` (as a peer sent them for a request at level 0 over one piece, uncles after
   * them) are the true leaves of piece `i`: they must fold to its known hash. Returns the leaves.
   */
  checkLeaves(r: HashRange, hashes: Buffer): Buffer | undefined {
    const piece = this.leafPiece(r);
    if (piece === undefined || r.count !== this.pieceWidth || hashes.length !== (r.count + uncleCount(r)) * HASH_BYTES) return undefined;
    const expected = this.pieceHash(piece);
    if (!expected) return undefined;
    const leaves = hashes.subarray(0, r.count * HASH_BYTES);
    return layerRoot(leaves, 0, r.count).equals(expected) ? Buffer.from(leaves) : undefined;
  }
}
