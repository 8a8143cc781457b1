/**
 * The upload side of a transfer: choking (the rechoke every 10 s, an interested newcomer let in
 * when a slot is free), the peers' requests (validated, bounded, rejected while choked), and the
 * blocks read from storage and sent, paced by the upload limit and the socket's queue.
 */
import type { PieceStore } from '../storage/piece-store.js';
import { ProtocolError } from '../wire/frame-decoder.js';
import type { BlockRef } from '../wire/messages.js';
import { decideUnchokes, RECHOKE_INTERVAL_MS } from './choker.js';
import type { TransferState } from './downloads.js';
import type { SwarmEvent } from './events.js';
import { RateMeter } from './rate.js';
import type { RateLimit } from './rate-limit.js';
import type { TransferPeer } from './transfer-peer.js';

export interface UploadOptions {
  /** Peers unchoked at once, plus one optimistic. */
  slots: number;
  /** Requests a peer may queue with us before it is disconnected for flooding. */
  maxQueuedRequests: number;
}

/** Block reads in flight per peer, and bytes queued on its socket, before we wait. */
const MAX_READS = 8;
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

export class Uploads {
  readonly meter = new RateMeter();
  private optimistic?: TransferPeer;
  private lastRechoke = 0;

  constructor(
    private readonly store: PieceStore,
    private readonly state: TransferState,
    private readonly opts: UploadOptions,
    /** The torrent's upload limit (under the client's), if any. */
    private readonly limit: RateLimit | undefined,
    private readonly emit: (e: SwarmEvent) => void,
  ) {}

  requested(tp: TransferPeer, r: BlockRef): void {
    const pieces = this.store.meta.pieceCount;
    if (r.index >= pieces) throw new ProtocolError(`request for piece ${r.index} of ${pieces}`);
    if (r.begin + r.length > this.store.layout.pieceSize(r.index)) throw new ProtocolError(`request past the end of piece ${r.index}`);
    if (!this.store.have.has(r.index)) throw new ProtocolError(`request for piece ${r.index}, which we never announced`);
    if (tp.amChoking) {
      // Each one costs us a reject: a peer that keeps asking while choked is flooding.
      if (++tp.requestsWhileChoked > this.opts.maxQueuedRequests) throw new ProtocolError('too many requests while choked (request flood)');
      if (tp.fast) tp.wire.send.reject(r);
      return;
    }
    if (tp.uploadQueue.length >= this.opts.maxQueuedRequests) throw new ProtocolError(`more than ${this.opts.maxQueuedRequests} requests queued (request flood)`);
    tp.uploadQueue.push({ index: r.index, begin: r.begin, length: r.length });
    this.serve(tp);
  }

  cancelled(tp: TransferPeer, r: BlockRef): void {
    const i = tp.uploadQueue.findIndex((q) => q.index === r.index && q.begin === r.begin && q.length === r.length);
    if (i >= 0) tp.uploadQueue.splice(i, 1);
  }

  interested(tp: TransferPeer): void {
    tp.peerInterested = true;
    this.unchokeIfRoom(tp);
  }

  notInterested(tp: TransferPeer): void {
    tp.peerInterested = false;
    if (!tp.amChoking) this.choke(tp);
  }

  /** A peer joined (it may have said it is interested before the transfer existed). */
  added(tp: TransferPeer): void {
    if (tp.peerInterested) this.unchokeIfRoom(tp);
  }

  removed(tp: TransferPeer): void {
    tp.upAsk?.();
    if (this.optimistic === tp) this.optimistic = undefined;
  }

  /** Send what a peer asked for, as far as its socket's queue, the reads in flight and the limit allow. */
  serve(tp: TransferPeer): void {
    const limited = this.limit !== undefined && !this.limit.unlimited;
    while (tp.uploadQueue.length > 0 && tp.uploadReads < MAX_READS && tp.wire.queuedBytes < MAX_QUEUED_BYTES && !tp.wire.closed && !this.state.stopped) {
      if (limited) {
        // Each block waits for its bytes of the upload limit; peers take turns block by block.
        const length = tp.uploadQueue[0]!.length;
        if (tp.upCredit < length) {
          const need = length - tp.upCredit;
          tp.upAsk ??= this.limit.request(need, () => {
            tp.upAsk = undefined;
            tp.upCredit += need;
            this.serve(tp);
          });
          return;
        }
        tp.upCredit -= length;
      }
      const r = tp.uploadQueue.shift()!;
      tp.uploadReads++;
      this.store.readBlock(r.index, r.begin, r.length).then(
        ({ block, release }) => {
          tp.uploadReads--;
          if (tp.amChoking || tp.wire.closed) return release();
          tp.wire.send.piece(r.index, r.begin, block, release);
          tp.peer.lastUsefulAt = Date.now();
          tp.up.add(block.length);
          this.meter.add(block.length);
          this.serve(tp);
        },
        (e: Error) => {
          tp.uploadReads--;
          // The data went missing under us (a file deleted or truncated): this peer goes, seeding the rest goes on.
          this.emit({ event: 'warning', message: `cannot read piece ${r.index} for upload: ${e.message}` });
          tp.wire.close('upload read failed');
        },
      );
    }
  }

  /** Rechoke when its interval has passed. */
  tick(now: number): void {
    if (now - this.lastRechoke >= RECHOKE_INTERVAL_MS) this.rechoke(now);
  }

  private choke(tp: TransferPeer): void {
    tp.amChoking = true;
    tp.wire.send.choke();
    if (tp.fast) for (const r of tp.uploadQueue) tp.wire.send.reject(r);
    tp.uploadQueue.length = 0;
  }

  private unchoke(tp: TransferPeer, now: number): void {
    tp.amChoking = false;
    tp.requestsWhileChoked = 0;
    tp.lastUnchokedAt = now;
    tp.wire.send.unchoke();
  }

  /** A newly interested peer does not wait for the next rechoke when a slot is free. */
  private unchokeIfRoom(tp: TransferPeer): void {
    if (!tp.amChoking) return;
    let unchoked = 0;
    for (const p of this.state.transferPeers()) if (!p.amChoking && p.peerInterested) unchoked++;
    if (unchoked < this.opts.slots + 1) this.unchoke(tp, Date.now());
  }

  private rechoke(now: number): void {
    this.lastRechoke = now;
    const peers = [...this.state.transferPeers()];
    const d = decideUnchokes(peers, this.opts.slots, this.state.complete, now, this.optimistic);
    this.optimistic = d.optimistic;
    for (const p of peers) {
      const want = d.unchoke.has(p);
      if (want && p.amChoking) this.unchoke(p, now);
      else if (!want && !p.amChoking) this.choke(p);
    }
  }
}
