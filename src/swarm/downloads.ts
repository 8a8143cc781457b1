/**
 * The download side of a transfer: interest, the request pipeline (topped up in batches, deep
 * enough for about 3 s of each peer's rate, paced by the download limit), blocks as they arrive
 * (endgame duplicates cancelled, unrequested data bounded), and snubbed peers' requests handed to
 * others. A complete piece goes to the verifier.
 */
import { ProtocolError } from '../wire/frame-decoder.js';
import { BLOCK_SIZE } from '../wire/messages.js';
import type { PieceInProgress } from './piece-assembly.js';
import type { PiecePicker } from './piece-picker.js';
import { RateMeter } from './rate.js';
import type { RateLimit } from './rate-limit.js';
import { blockKey, type TransferPeer } from './transfer-peer.js';

/** What both sides of a transfer read of it. */
export interface TransferState {
  transferPeers(): Iterable<TransferPeer>;
  readonly stopped: boolean;
  readonly complete: boolean;
}

const MAX_UNSOLICITED = 64;

export class Downloads {
  readonly meter = new RateMeter();
  /** Bytes received that we had already (endgame duplicates, pieces done meanwhile). */
  wasted = 0;

  constructor(
    private readonly picker: PiecePicker,
    private readonly state: TransferState,
    /** The torrent's download limit (under the client's), if any. */
    private readonly limit: RateLimit | undefined,
    private readonly requestTimeoutMs: number,
    /** A piece has every block: verify it. */
    private readonly pieceDone: (piece: PieceInProgress) => void,
  ) {}

  setInterested(tp: TransferPeer, on: boolean): void {
    if (tp.amInterested === on) return;
    tp.amInterested = on;
    if (on) tp.wire.send.interested();
    else tp.wire.send.notInterested();
  }

  choked(tp: TransferPeer): void {
    tp.peerChoking = true;
    // Without the fast extension a choke silently drops every request we had out.
    if (!tp.fast) this.releaseRequests(tp, false);
  }

  unchoked(tp: TransferPeer): void {
    tp.peerChoking = false;
    this.fillRequests(tp);
  }

  rejected(tp: TransferPeer, r: { index: number; begin: number }): void {
    const key = blockKey(r);
    const req = tp.requests.get(key);
    if (!req) return;
    tp.requests.delete(key);
    this.picker.release(req);
    this.fillAll();
  }

  received(tp: TransferPeer, index: number, begin: number, block: Buffer): void {
    const key = blockKey({ index, begin });
    const req = tp.requests.get(key);
    if (req && req.length === block.length) {
      tp.requests.delete(key);
    } else if (!tp.forgetCancelled(key)) {
      // Unrequested data: accept it if it is useful, but a peer that keeps pushing it is broken.
      if (++tp.unsolicited > MAX_UNSOLICITED) throw new ProtocolError('too many blocks we never requested');
    }
    tp.lastPieceAt = Date.now();
    tp.down.add(block.length);
    if (!this.accept(tp.ip, index, begin, block, tp) && req) this.picker.release(req);
    this.fillRequests(tp);
  }

  /**
   * A block arrived from `from` (a peer's IP, or a web seed's key: the evidence if its piece
   * fails), `by` that peer if it is one: stored if it is still needed, with the same block's
   * endgame requests to other peers cancelled, and a piece it completes handed to the verifier.
   * False when it was not needed (counted as wasted).
   */
  accept(from: string, index: number, begin: number, block: Buffer, by?: TransferPeer): boolean {
    this.meter.add(block.length);
    const duplicated = this.picker.requestCount(index, begin) > 1; // endgame: others were asked too
    if (this.picker.receive(index, begin, block, from) !== 'new') {
      this.wasted += block.length;
      return false;
    }
    // Endgame: the same block may be on its way from others; cancel those requests.
    if (duplicated) {
      const key = blockKey({ index, begin });
      for (const other of this.state.transferPeers()) {
        const dup = other === by ? undefined : other.requests.get(key);
        if (!dup) continue;
        other.requests.delete(key);
        other.rememberCancelled(key);
        other.wire.send.cancel(dup);
      }
    }
    const done = this.picker.takeComplete(index);
    if (done) this.pieceDone(done);
    return true;
  }

  /** A peer left: its requests go back to the picker. */
  removed(tp: TransferPeer): void {
    tp.downAsk?.();
    for (const r of tp.requests.values()) this.picker.release(r);
    tp.requests.clear();
  }

  fillAll(): void {
    for (const p of this.state.transferPeers()) this.fillRequests(p);
  }

  fillRequests(tp: TransferPeer): void {
    if (tp.peerChoking || !tp.amInterested || tp.wire.closed || this.state.stopped) return;
    const depth = tp.pipelineDepth();
    let want = depth - tp.requests.size;
    const limited = this.limit !== undefined && !this.limit.unlimited;
    if (limited) {
      // A request goes out only with a block's worth of the download limit: what arrives can
      // never outrun the limit, however deep the pipeline. One block is asked for at a time.
      want = Math.min(want, Math.floor(tp.downCredit / BLOCK_SIZE));
      if (want <= 0) return this.askDown(tp, depth);
    } else if (want <= 0 || (tp.requests.size > 0 && want < Math.max(16, depth / 8))) {
      // Top up in batches (an eighth of the pipeline): one write per batch instead of one per block.
      return;
    }
    const picks = this.picker.pick(tp.bits, want, (r) => tp.requests.has(blockKey(r)));
    if (limited) {
      tp.downCredit -= picks.length * BLOCK_SIZE;
      // Only a peer that had more to give asks again: credit is never hoarded for nothing.
      if (picks.length === want) this.askDown(tp, depth);
    }
    if (picks.length === 0) return;
    const now = Date.now();
    if (tp.requests.size === 0) tp.lastPieceAt = now; // the timeout counts from the first request
    // Spelled out, not `{ ...r, at }`: the spread takes V8's slow path once per block.
    for (const r of picks) tp.requests.set(blockKey(r), { index: r.index, begin: r.begin, length: r.length, at: now });
    tp.wire.send.requests(picks);
  }

  /** Snubbed (no block within the request timeout): its blocks go to others, asked again later. */
  tick(tp: TransferPeer, now: number): void {
    if (tp.requests.size === 0 || now - tp.lastPieceAt <= this.requestTimeoutMs) return;
    this.releaseRequests(tp, true);
    tp.lastPieceAt = now;
  }

  /** Wait for one more block of the download limit for this peer, unless it waits already or its pipeline is full. */
  private askDown(tp: TransferPeer, depth: number): void {
    if (tp.downAsk || tp.requests.size >= depth) return;
    tp.downAsk = this.limit!.request(BLOCK_SIZE, () => {
      tp.downAsk = undefined;
      tp.downCredit += BLOCK_SIZE;
      this.fillRequests(tp);
    });
  }

  /** Give back every outstanding request of a peer (choked, snubbed); optionally tell it. */
  private releaseRequests(tp: TransferPeer, cancel: boolean): void {
    for (const [key, r] of tp.requests) {
      this.picker.release(r);
      if (cancel) tp.wire.send.cancel(r);
      tp.rememberCancelled(key); // it may already be on the wire
    }
    tp.requests.clear();
    this.fillAll();
  }
}

