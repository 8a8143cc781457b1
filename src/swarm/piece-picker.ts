/**
 * Which blocks to request next: pieces already started first (to finish them), then the rarest
 * pieces the peer has, with random tie-breaking (or the first ones, when sequential); in endgame the last blocks may be requested
 * from several peers at once. Received blocks go into their piece (piece-assembly.ts).
 */
import type { Bitfield } from '../util/bitfield.js';
import { BLOCK_SIZE, type BlockRef } from '../wire/messages.js';
import { PieceBuffers } from '../storage/piece-buffers.js';
import { PieceInProgress } from './piece-assembly.js';

/** Memory for pieces being downloaded, hashed or written that the picker stays within. */
export const PIECE_MEMORY = 64 * 1024 * 1024;

export interface PeerPieces {
  /** Whether the peer has piece i. */
  has(i: number): boolean;
}

export type ReceiveResult = 'new' | 'duplicate' | 'unwanted';

/** Endgame allows this many requests of one block at once. */
const ENDGAME_DUPLICATES = 3;

export class PiecePicker {
  readonly availability: Uint32Array;
  /** Pieces to download (a file selection); undefined: all of them. */
  selected?: PeerPieces;
  /** Start new pieces in index order instead of rarest first (previewing media while it downloads). */
  sequential = false;
  readonly inProgress = new Map<number, PieceInProgress>();
  /** Pieces complete in memory and being checked and written. */
  private readonly verifying = new Map<number, PieceInProgress>();
  private readonly buffers: PieceBuffers;
  /** Bytes of pieces started and not yet verified and written: their buffers are all alive. */
  private bufferedBytes = 0;

  constructor(
    readonly pieceCount: number,
    private readonly pieceSize: (i: number) => number,
    private readonly have: Bitfield,
    /**
     * Memory bound for pieces being downloaded, hashed or written; at least one piece is always
     * allowed. When verification falls behind, new pieces wait: that is the backpressure.
     */
    private readonly maxBufferedBytes = PIECE_MEMORY,
  ) {
    this.availability = new Uint32Array(pieceCount);
    this.buffers = new PieceBuffers(pieceCount > 0 ? pieceSize(0) : 0, maxBufferedBytes);
  }

  wanted(i: number): boolean {
    return !this.have.has(i) && !this.verifying.has(i) && (this.selected?.has(i) ?? true);
  }

  /** Whether a peer with these pieces has anything we want. */
  interesting(peer: PeerPieces): boolean {
    for (let i = 0; i < this.pieceCount; i++) if (this.wanted(i) && peer.has(i)) return true;
    return false;
  }

  addPeer(peer: PeerPieces): void {
    for (let i = 0; i < this.pieceCount; i++) if (peer.has(i)) this.availability[i]!++;
  }

  removePeer(peer: PeerPieces): void {
    for (let i = 0; i < this.pieceCount; i++) if (peer.has(i) && this.availability[i]! > 0) this.availability[i]!--;
  }

  /**
   * Up to `max` blocks to request from a peer. `alreadyAsked` tells whether this peer already has
   * a request out for a block (only matters in endgame).
   */
  pick(peer: PeerPieces, max: number, alreadyAsked: (r: BlockRef) => boolean): BlockRef[] {
    const out: BlockRef[] = [];
    for (const p of this.inProgress.values()) {
      if (out.length >= max) return out;
      if (peer.has(p.index)) this.takeFree(p, max, out);
    }
    while (out.length < max) {
      const next = this.rarestNewPiece(peer);
      if (next === undefined) break;
      const size = this.pieceSize(next);
      const p = new PieceInProgress(next, size, this.buffers.take(size));
      this.inProgress.set(next, p);
      this.bufferedBytes += p.size;
      this.takeFree(p, max, out);
    }
    if (out.length === 0 && this.inEndgame()) {
      for (const p of this.inProgress.values()) {
        if (out.length >= max) break;
        if (!peer.has(p.index)) continue;
        for (let b = 0; b < p.blockCount && out.length < max; b++) {
          if (p.received[b] || p.requested[b]! >= ENDGAME_DUPLICATES) continue;
          const r = p.block(b);
          if (alreadyAsked(r)) continue;
          p.requested[b]!++;
          out.push(r);
        }
      }
    }
    return out;
  }

  /** True when every block we still need is already requested from someone. */
  inEndgame(): boolean {
    for (let i = 0; i < this.pieceCount; i++) if (this.wanted(i) && !this.inProgress.has(i)) return false;
    for (const p of this.inProgress.values()) for (let b = 0; b < p.blockCount; b++) if (!p.received[b] && !p.requested[b]) return false;
    return true;
  }

  /** How many requests for this block are out (more than one only in endgame). */
  requestCount(index: number, begin: number): number {
    const p = this.inProgress.get(index);
    const b = begin / BLOCK_SIZE;
    return p && Number.isInteger(b) && b < p.blockCount ? p.requested[b]! : 0;
  }

  /** A request we made is gone (rejected, choked, timed out, peer left): the block is free again. */
  release(r: BlockRef): void {
    const p = this.inProgress.get(r.index);
    const b = r.begin / BLOCK_SIZE;
    if (p && Number.isInteger(b) && b < p.blockCount && p.requested[b]! > 0) {
      p.requested[b]!--;
      if (!p.requested[b] && !p.received[b]) p.firstFree = Math.min(p.firstFree, b);
    }
  }

  /**
   * Store a received block. Returns 'new' if it was needed, 'duplicate' when another peer's copy
   * came first, 'unwanted' when it fits no piece in progress (a late or unsolicited block).
   */
  receive(index: number, begin: number, data: Buffer, from: string): ReceiveResult {
    const p = this.inProgress.get(index);
    if (!p) return this.have.has(index) || this.verifying.has(index) ? 'duplicate' : 'unwanted';
    const b = begin / BLOCK_SIZE;
    if (!Number.isInteger(b) || b >= p.blockCount || data.length !== p.block(b).length) return 'unwanted';
    if (p.received[b]) return 'duplicate';
    p.store(b, data, from);
    return 'new';
  }

  /** If piece `index` has every block, hand it over for verification and return it. */
  takeComplete(index: number): PieceInProgress | undefined {
    const p = this.inProgress.get(index);
    if (!p || p.receivedCount !== p.blockCount) return undefined;
    this.inProgress.delete(index);
    this.verifying.set(index, p);
    return p;
  }

  /**
   * Verification finished and nothing reads the piece's data any more: a good piece is now in
   * `have` (the caller sets it); a bad one is wanted again.
   */
  verified(index: number): void {
    const p = this.verifying.get(index);
    if (!p) return;
    this.verifying.delete(index);
    this.bufferedBytes -= p.size;
    this.buffers.give(p.data);
  }

  private takeFree(p: PieceInProgress, max: number, out: BlockRef[]): void {
    let b = p.firstFree;
    for (; b < p.blockCount && out.length < max; b++) {
      if (p.received[b] || p.requested[b]) continue;
      p.requested[b] = 1;
      out.push(p.block(b));
    }
    p.firstFree = b; // every block before b was examined and is taken now
  }

  /** The rarest wanted piece the peer has that is not started yet; ties broken from a random start. */
  private rarestNewPiece(peer: PeerPieces): number | undefined {
    if (this.bufferedBytes >= this.maxBufferedBytes && this.bufferedBytes > 0) return undefined;
    const n = this.pieceCount;
    if (this.sequential) {
      for (let i = 0; i < n; i++) if (this.wanted(i) && !this.inProgress.has(i) && peer.has(i)) return i;
      return undefined;
    }
    const start = Math.floor(Math.random() * n);
    let best: number | undefined;
    let bestAvail = Infinity;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (!this.wanted(i) || this.inProgress.has(i) || !peer.has(i)) continue;
      const a = this.availability[i]!;
      if (a < bestAvail) {
        best = i;
        bestAvail = a;
        if (a <= 1) break; // nothing is rarer than a single source
      }
    }
    return best;
  }
}
