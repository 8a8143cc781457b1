/** What the transfer knows about one connected peer: its pieces, choking both ways, requests both ways, rates. */
import { Bitfield } from '../util/bitfield.js';
import { BLOCK_SIZE, type BlockRef } from '../wire/messages.js';
import type { Peer } from './peer.js';
import { RateMeter } from './rate.js';

export function blockKey(r: { index: number; begin: number }): number {
  // Unique per block: a piece has at most 2^16 blocks of 16 KiB (pieces up to 1 GiB).
  return r.index * 65536 + r.begin / BLOCK_SIZE;
}

export class TransferPeer {
  readonly bits: Bitfield;
  amChoking = true;
  amInterested = false;
  peerChoking: boolean;
  peerInterested: boolean;
  /** Requests we sent and are waiting for. */
  readonly requests = new Map<number, BlockRef & { at: number }>();
  /** Blocks we cancelled or gave up on, which may still arrive (bounded, oldest forgotten first). */
  private readonly cancelled = new Set<number>();
  /** Requests the peer sent us, in order. */
  readonly uploadQueue: BlockRef[] = [];
  uploadReads = 0;
  /** Requests received since we last unchoked it (all answered with nothing or a reject). */
  requestsWhileChoked = 0;
  /** Blocks it sent that we never asked for. */
  unsolicited = 0;
  readonly down = new RateMeter();
  readonly up = new RateMeter();
  lastPieceAt = Date.now();
  lastUnchokedAt = 0;
  /** Bytes the rate limits granted it and it has not used yet, per direction. */
  downCredit = 0;
  upCredit = 0;
  /** Its request waiting on a rate limit, per direction (withdraws it). */
  downAsk?: () => void;
  upAsk?: () => void;

  constructor(
    readonly peer: Peer,
    pieceCount: number,
  ) {
    this.bits = new Bitfield(pieceCount);
    this.peerChoking = peer.early.peerChoking;
    this.peerInterested = peer.early.peerInterested;
  }

  get wire() {
    return this.peer.wire;
  }

  get fast(): boolean {
    return this.peer.fast;
  }

  get ip(): string {
    return this.peer.ip;
  }

  get connectedAt(): number {
    return this.peer.connectedAt;
  }

  get isSeed(): boolean {
    return this.bits.complete;
  }

  rememberCancelled(key: number): void {
    this.cancelled.add(key);
    if (this.cancelled.size > 4096) this.cancelled.delete(this.cancelled.values().next().value!);
  }

  /** True (and forgotten) if this block was one we cancelled: its late arrival is no offence. */
  forgetCancelled(key: number): boolean {
    return this.cancelled.delete(key);
  }

  /**
   * How many requests to keep in flight: about 3 s of its current rate (as libtorrent does), so a
   * peer that answers in batches (Transmission: every 500 ms) never runs dry.
   */
  pipelineDepth(): number {
    const limit = Math.min(this.peer.ext?.reqq ?? 250, 2000);
    const byRate = Math.ceil((this.down.rate() * 3) / BLOCK_SIZE) + 16;
    return Math.max(16, Math.min(limit, byRate));
  }
}
