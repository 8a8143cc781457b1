/**
 * Which blocks to request next: pieces already started first (to finish them), then the rarest
 * pieces the peer has, with random tie-breaking (or the first ones, when sequential); in endgame the last blocks may be requested
 * from several peers at once. Received blocks go into their piece (piece-assembly.ts).
 *
 * Nothing done per block or per piece scans every piece of the torrent (a torrent of 32,768
 * pieces from 8 peers did that millions of times): rarest-first walks an order of the pieces by
 * availability, rebuilt in linear time at most once a second while availability changes, from
 * a cursor past the pieces that can never be picked again; whether a peer is interesting is a
 * count per peer of the pieces it has that we want; endgame starts when no piece is left unstarted.
 */
import type { Bitfield } from '../util/bitfield.js';
import { BLOCK_SIZE, type BlockRef } from '../wire/messages.js';
import { PieceBuffers } from '../storage/piece-buffers.js';
import { PieceInProgress } from './piece-assembly.js';

/**
 * Memory for pieces being downloaded, hashed or written that the picker stays within: 48 MiB is
 * 160 ms at 300 MB/s, and keeps a leecher of 4 GiB in 128 KiB or 16 MiB pieces from 8 peers
 * under 200 MiB of RSS (bench/big; at 64 MiB it peaked at 191-205).
 */
export const PIECE_MEMORY = 48 * 1024 * 1024;

export interface PeerPieces {
  /** Whether the peer has piece i. */
  has(i: number): boolean;
}

export type ReceiveResult = 'new' | 'duplicate' | 'unwanted';

/** Endgame allows this many requests of one block at once. */
const ENDGAME_DUPLICATES = 3;
/** A web seed joins a block's endgame only while one other source fetches it (its runs are long: duplicates cost more). */
const WEB_SEED_DUPLICATES = 2;
/** The rarest-first order follows availability changes at most this often. */
const REORDER_MS = 1000;

export class PiecePicker {
  readonly availability: Uint32Array;
  /** Pieces to download (a file selection; see `selected`); undefined: all of them. */
  private selection?: PeerPieces;
  /** Pieces whose hashes are known (a v2 piece waits for its file's piece layer); undefined: all of them. */
  private checkable?: PeerPieces;
  /** Where a piece's trailing padding starts (undefined: it has none). */
  dataEnd?: (i: number) => number;
  /** Start new pieces in index order instead of rarest first (previewing media while it downloads). */
  sequential = false;
  readonly inProgress = new Map<number, PieceInProgress>();
  /** Pieces complete in memory and being checked and written. */
  private readonly verifying = new Map<number, PieceInProgress>();
  private readonly buffers: PieceBuffers;
  /** Bytes of pieces started and not yet verified and written: their buffers are all alive. */
  private bufferedBytes = 0;
  /** Per registered peer: how many pieces it has that we want (interest without a scan). */
  private readonly wantedFrom = new Map<PeerPieces, number>();
  /** Every piece, rarest first; ties in a random order fixed at the start (`shuffled`). */
  private readonly order: Uint32Array;
  private readonly shuffled: Uint32Array;
  /** order[0 .. orderStart) can never be picked again (have, verifying or started) until a piece fails. */
  private orderStart = 0;
  private orderStale = true;
  private orderedAt = -Infinity;
  /** The same for index order (sequential): every piece before it cannot be started. */
  private seqStart = 0;

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
    this.order = new Uint32Array(pieceCount);
    this.shuffled = new Uint32Array(pieceCount);
    for (let i = 0; i < pieceCount; i++) this.shuffled[i] = i;
    for (let i = pieceCount - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      const t = this.shuffled[i]!;
      this.shuffled[i] = this.shuffled[j]!;
      this.shuffled[j] = t;
    }
  }

  wanted(i: number): boolean {
    return !this.have.has(i) && !this.verifying.has(i) && (this.selection?.has(i) ?? true) && (this.checkable?.has(i) ?? true);
  }

  /** Which pieces can be checked yet (see `unlocked` for those that become so). */
  set hashesKnown(pieces: PeerPieces | undefined) {
    this.checkable = pieces;
    this.selected = this.selection;
  }

  /** Pieces [first, last] can be checked now: they count towards interest, and the cursors start over. */
  unlocked(first: number, last: number): void {
    for (let i = first; i <= last; i++) if (this.wanted(i) && !this.inProgress.has(i)) this.countWanted(i, +1);
    this.orderStart = 0;
    this.seqStart = 0;
  }

  get selected(): PeerPieces | undefined {
    return this.selection;
  }

  /** A file selection changes what is wanted: the cursors start over and every peer's interest is counted again. */
  set selected(pieces: PeerPieces | undefined) {
    this.selection = pieces;
    this.orderStart = 0;
    this.seqStart = 0;
    for (const peer of this.wantedFrom.keys()) {
      let n = 0;
      for (let i = 0; i < this.pieceCount; i++) if (peer.has(i) && this.wanted(i)) n++;
      this.wantedFrom.set(peer, n);
    }
  }

  /** Whether a peer with these pieces has anything we want (counted for peers added here, else looked for). */
  interesting(peer: PeerPieces): boolean {
    const n = this.wantedFrom.get(peer);
    if (n !== undefined) return n > 0;
    for (let i = 0; i < this.pieceCount; i++) if (this.wanted(i) && peer.has(i)) return true;
    return false;
  }

  /** A peer's pieces count towards availability (and its interest is counted) until removePeer. */
  addPeer(peer: PeerPieces): void {
    let wanted = 0;
    for (let i = 0; i < this.pieceCount; i++) {
      if (!peer.has(i)) continue;
      this.availability[i]!++;
      if (this.wanted(i)) wanted++;
    }
    this.wantedFrom.set(peer, wanted);
    this.orderStale = true;
  }

  removePeer(peer: PeerPieces): void {
    for (let i = 0; i < this.pieceCount; i++) if (peer.has(i) && this.availability[i]! > 0) this.availability[i]!--;
    this.wantedFrom.delete(peer);
    this.orderStale = true;
  }

  /** An added peer now has piece `index` too (a have message; its bit is set already). */
  peerHas(peer: PeerPieces, index: number): void {
    this.availability[index]!++;
    this.orderStale = true;
    const n = this.wantedFrom.get(peer);
    if (n !== undefined && this.wanted(index)) this.wantedFrom.set(peer, n + 1);
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
      const p = new PieceInProgress(next, size, this.buffers.take(size), this.dataEnd?.(next));
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

  /**
   * Blocks for a web seed, which asks for byte ranges: one run of blocks that are contiguous in
   * the torrent, at most `maxBytes` of them, of pieces the seed has. First the free blocks of a
   * started piece (requests given back by a peer that left or choked), else new pieces (rarest
   * first, or in order when sequential) whole, followed by the next ones while they can be
   * started too; in endgame, blocks not received yet that at most one other source is fetching
   * and this seed is not (`mine`). Every block returned counts as requested until released or
   * received, so no peer asks for it outside endgame. `resume`: the piece after the seed's last
   * run, started instead of the rarest when it is as rare (a seed streams on where it was, so
   * that its runs stay long instead of filling ever smaller gaps).
   */
  pickRun(seed: PeerPieces, maxBytes: number, mine: (r: BlockRef) => boolean, resume?: number): BlockRef[] {
    const out: BlockRef[] = [];
    let bytes = 0;
    const take = (p: PieceInProgress, b: number): boolean => {
      const r = p.block(b);
      if (out.length > 0 && bytes + r.length > maxBytes) return false;
      p.requested[b]!++;
      out.push(r);
      bytes += r.length;
      return true;
    };
    for (const p of this.inProgress.values()) {
      if (!seed.has(p.index)) continue;
      let b = p.firstFree;
      while (b < p.blockCount && (p.received[b] || p.requested[b])) b++;
      if (b === p.blockCount) {
        p.firstFree = b;
        continue;
      }
      for (; b < p.blockCount && !p.received[b] && !p.requested[b]; b++) if (!take(p, b)) break;
      p.firstFree = b; // everything before b was received, requested, or is taken now
      return out;
    }
    // A new run only once all of it fits in the memory bound (verified pieces free it, and the
    // transfer asks again): taking one piece at a time while it is full costs a request each.
    const fits = this.bufferedBytes === 0 || this.bufferedBytes + Math.min(maxBytes, this.maxBufferedBytes / 2) <= this.maxBufferedBytes;
    let first = fits ? this.rarestNewPiece(seed) : undefined;
    if (first !== undefined && resume !== undefined && !this.sequential && resume < this.pieceCount && seed.has(resume) && this.startable(resume) && this.availability[resume]! <= this.availability[first]!) first = resume;
    for (let next = first; next !== undefined; ) {
      const size = this.pieceSize(next);
      const p = new PieceInProgress(next, size, this.buffers.take(size));
      this.inProgress.set(next, p);
      this.bufferedBytes += p.size;
      let b = 0;
      while (b < p.blockCount && take(p, b)) b++;
      p.firstFree = b;
      // Whole pieces only after the first (one source per piece keeps blame simple).
      const after = next + 1;
      const more = b === p.blockCount && after < this.pieceCount && bytes + this.pieceSize(after) <= maxBytes && seed.has(after) && this.startable(after) && this.bufferedBytes < this.maxBufferedBytes;
      next = more ? after : undefined;
    }
    if (out.length > 0 || !this.inEndgame()) return out;
    for (const p of this.inProgress.values()) {
      if (!seed.has(p.index)) continue;
      const open = (b: number) => !p.received[b] && p.requested[b]! < WEB_SEED_DUPLICATES && !mine(p.block(b));
      let b = 0;
      while (b < p.blockCount && !open(b)) b++;
      for (; b < p.blockCount && open(b); b++) if (!take(p, b)) break;
      if (out.length > 0) return out;
    }
    return out;
  }

  /** True when every block we still need is already requested from someone. */
  inEndgame(): boolean {
    // A piece left to start is one the order's cursor stops at (the cursor only moves forward).
    if (this.orderedAt === -Infinity) this.reorder(Date.now());
    this.skipUnstartable();
    if (this.orderStart < this.pieceCount) return false;
    for (const p of this.inProgress.values()) for (let b = 0; b < p.blockCount; b++) if (!p.received[b] && !p.requested[b]) return false;
    return true;
  }

  /** Whether a block is still to be received (its piece started and the block not in). */
  stillNeeded(r: { index: number; begin: number }): boolean {
    const p = this.inProgress.get(r.index);
    const b = r.begin / BLOCK_SIZE;
    return !!p && Number.isInteger(b) && b < p.blockCount && !p.received[b];
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
    if (!Number.isInteger(b) || b >= p.blockCount || data.length !== p.blockLength(b)) return 'unwanted';
    if (p.received[b]) return 'duplicate';
    p.store(b, data, from);
    return 'new';
  }

  /** If piece `index` has every block, hand it over for verification and return it. */
  takeComplete(index: number): PieceInProgress | undefined {
    const p = this.inProgress.get(index);
    if (!p || !p.complete) return undefined;
    this.inProgress.delete(index);
    this.verifying.set(index, p);
    this.countWanted(index, -1);
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
    if (!this.have.has(index)) {
      // It failed: wanted again, and pickable again from the start of the order.
      this.countWanted(index, +1);
      this.orderStart = 0;
      this.seqStart = 0;
    }
  }

  /** Piece `index` stopped (-1) or started again (+1) being wanted: adjust the peers that have it. */
  private countWanted(index: number, delta: number): void {
    for (const [peer, n] of this.wantedFrom) if (peer.has(index)) this.wantedFrom.set(peer, n + delta);
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

  /** The rarest wanted piece the peer has that is not started yet (ties in the random order). */
  private rarestNewPiece(peer: PeerPieces): number | undefined {
    if (this.bufferedBytes >= this.maxBufferedBytes && this.bufferedBytes > 0) return undefined;
    if (this.sequential) {
      // Index order: from a cursor past the pieces that cannot be started (kept as for the rarest order).
      while (this.seqStart < this.pieceCount && !this.startable(this.seqStart)) this.seqStart++;
      for (let i = this.seqStart; i < this.pieceCount; i++) if (peer.has(i) && this.startable(i)) return i;
      return undefined;
    }
    const now = Date.now();
    if (this.orderStale && now - this.orderedAt >= REORDER_MS) this.reorder(now);
    const n = this.pieceCount, order = this.order;
    this.skipUnstartable();
    for (let k = this.orderStart; k < n; k++) {
      const i = order[k]!;
      if (peer.has(i) && this.startable(i)) return i;
    }
    return undefined;
  }

  /** Moves the order's cursor past the pieces that cannot be started. */
  private skipUnstartable(): void {
    while (this.orderStart < this.pieceCount && !this.startable(this.order[this.orderStart]!)) this.orderStart++;
  }

  private startable(i: number): boolean {
    return this.wanted(i) && !this.inProgress.has(i);
  }

  /** Counting sort of the shuffled pieces by availability: rarest first, ties random, O(pieces). */
  private reorder(now: number): void {
    this.orderStale = false;
    this.orderedAt = now;
    this.orderStart = 0;
    let max = 0;
    for (let i = 0; i < this.pieceCount; i++) max = Math.max(max, this.availability[i]!);
    const at = new Uint32Array(max + 2);
    for (let i = 0; i < this.pieceCount; i++) at[this.availability[i]! + 1]!++;
    for (let a = 1; a <= max + 1; a++) at[a]! += at[a - 1]!;
    for (let k = 0; k < this.pieceCount; k++) {
      const i = this.shuffled[k]!;
      this.order[at[this.availability[i]!]!++] = i;
    }
  }
}
