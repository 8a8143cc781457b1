/**
 * The transfer half of a swarm, attached once the metadata is known: interest, choking, the
 * request pipeline, verifying and storing pieces, serving uploads, and blame. Peers come and go
 * through the connection half (connections.ts); verified pieces go out to TorrentStorage.
 */
import type { Metainfo } from '../metainfo/types.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import { Bitfield } from '../util/bitfield.js';
import { ProtocolError } from '../wire/frame-decoder.js';
import { BLOCK_SIZE, type BlockRef, type Message } from '../wire/messages.js';
import { decideUnchokes, RECHOKE_INTERVAL_MS } from './choker.js';
import type { Connections, PeerHandler } from './connections.js';
import type { SwarmEvent } from './events.js';
import type { Peer } from './peer.js';
import type { PieceInProgress } from './piece-assembly.js';
import { PiecePicker } from './piece-picker.js';
import { RateMeter } from './rate.js';
import type { RateLimits } from './rate-limit.js';
import { blockKey, TransferPeer } from './transfer-peer.js';

export interface TransferOptions {
  uploadSlots: number;
  /** Requests a peer may queue with us before it is disconnected for flooding. */
  maxQueuedRequests: number;
  requestTimeoutMs: number;
  /** Rate limits of this torrent (under the client's); requests and uploads wait on them. */
  limits?: RateLimits;
  /** Download pieces in order (see PiecePicker.sequential). */
  sequential?: boolean;
}

const MAX_UNSOLICITED = 64;

export class Transfer implements PeerHandler {
  readonly picker: PiecePicker;
  readonly bitfieldBytes: number;
  readonly down = new RateMeter();
  readonly up = new RateMeter();
  wasted = 0;
  private readonly peers = new Map<Peer, TransferPeer>();
  private readonly pieceCount: number;
  private optimistic?: TransferPeer;
  private lastRechoke = 0;
  private stopped = false;
  private completeEmitted = false;
  /** Pieces being hashed and written: stop() waits for them so nothing is written after it. */
  private readonly verifications = new Set<Promise<void>>();

  constructor(
    readonly meta: Metainfo,
    readonly storage: TorrentStorage,
    private readonly connections: Connections,
    private readonly opts: TransferOptions,
    private readonly emit: (e: SwarmEvent) => void,
  ) {
    this.pieceCount = meta.pieceCount;
    this.bitfieldBytes = Math.ceil(meta.pieceCount / 8);
    this.picker = new PiecePicker(meta.pieceCount, (i) => storage.layout.pieceSize(i), storage.have);
    if (!storage.selection.all) this.picker.selected = storage.selection.pieces;
    this.picker.sequential = !!opts.sequential;
  }

  /** Every selected piece is verified (every piece, without a file selection). */
  get complete(): boolean {
    return this.storage.done;
  }

  /** Bytes still missing (for trackers' `left`). */
  left(): number {
    let missing = 0;
    for (let i = 0; i < this.pieceCount; i++) if (!this.storage.have.has(i)) missing += this.storage.layout.pieceSize(i);
    return missing;
  }

  /** The transfer state of a connected peer (for status). */
  of(peer: Peer): TransferPeer | undefined {
    return this.peers.get(peer);
  }

  start(): void {
    if (this.complete) this.markComplete();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const tp of this.peers.values()) {
      tp.downAsk?.();
      tp.upAsk?.();
    }
    await Promise.allSettled([...this.verifications]);
  }

  // ---- peers joining and leaving --------------------------------------------------------------

  added(peer: Peer, late: boolean): void {
    const tp = new TransferPeer(peer, this.pieceCount);
    this.peers.set(peer, tp);
    const have = this.storage.have;
    if (late) {
      // It heard from us already (have-none, extension messages): what we have goes as haves.
      for (let i = 0; i < this.pieceCount; i++) if (have.has(i)) peer.wire.send.have(i);
    } else if (peer.fast && have.complete) peer.wire.send.haveAll();
    else if (peer.fast && have.empty) peer.wire.send.haveNone();
    else if (!have.empty) peer.wire.send.bitfield(have.bytes);
    const e = peer.early;
    if (e.pieces) this.onPeerPieces(tp, e.pieces);
    for (const i of e.haves) this.onHave(tp, i);
    e.haves = [];
    if (tp.peerInterested) this.unchokeIfRoom(tp);
    if (!tp.peerChoking) this.fillRequests(tp);
  }

  removed(peer: Peer): void {
    const tp = this.peers.get(peer);
    if (!tp) return;
    this.peers.delete(peer);
    tp.downAsk?.();
    tp.upAsk?.();
    for (const r of tp.requests.values()) this.picker.release(r);
    tp.requests.clear();
    this.picker.removePeer(tp.bits);
    if (this.optimistic === tp) this.optimistic = undefined;
    if (!this.stopped) this.fillAll();
  }

  useless(peer: Peer): boolean {
    return this.complete && !!this.peers.get(peer)?.isSeed;
  }

  drained(peer: Peer): void {
    const tp = this.peers.get(peer);
    if (tp) this.serveUploads(tp);
  }

  // ---- messages -----------------------------------------------------------------------------

  message(peer: Peer, m: Message): void {
    const tp = this.peers.get(peer);
    if (!tp) return;
    switch (m.type) {
      case 'suggest':
      case 'allowed-fast':
        return;
      case 'choke':
        tp.peerChoking = true;
        // Without the fast extension a choke silently drops every request we had out.
        if (!tp.fast) this.releaseRequests(tp, false);
        return;
      case 'unchoke':
        tp.peerChoking = false;
        this.fillRequests(tp);
        return;
      case 'interested':
        tp.peerInterested = true;
        this.unchokeIfRoom(tp);
        return;
      case 'not-interested':
        tp.peerInterested = false;
        if (!tp.amChoking) this.choke(tp);
        return;
      case 'have':
        this.onHave(tp, m.index);
        return;
      case 'bitfield':
      case 'have-all':
      case 'have-none':
        this.onPeerPieces(tp, m);
        return;
      case 'request':
        this.onRequest(tp, m);
        return;
      case 'cancel': {
        const i = tp.uploadQueue.findIndex((r) => r.index === m.index && r.begin === m.begin && r.length === m.length);
        if (i >= 0) tp.uploadQueue.splice(i, 1);
        return;
      }
      case 'reject': {
        const key = blockKey(m);
        const r = tp.requests.get(key);
        if (r) {
          tp.requests.delete(key);
          this.picker.release(r);
          this.fillAll();
        }
        return;
      }
      case 'piece':
        this.onPiece(tp, m.index, m.begin, m.block);
        return;
      default:
        return; // keep-alive, port and extended are the connections' business
    }
  }

  private onHave(tp: TransferPeer, index: number): void {
    if (index >= this.pieceCount) throw new ProtocolError(`have for piece ${index} of ${this.pieceCount}`);
    if (tp.bits.has(index)) return;
    tp.bits.set(index);
    this.picker.peerHas(tp.bits, index);
    if (!tp.amInterested && this.picker.wanted(index)) this.setInterested(tp, true);
    this.closeIfBothSeeds(tp);
  }

  private onPeerPieces(tp: TransferPeer, m: { type: 'bitfield'; bits: Buffer } | { type: 'have-all' } | { type: 'have-none' }): void {
    if (m.type !== 'bitfield' && !tp.fast) throw new ProtocolError(`${m.type} without the fast extension`);
    if (m.type === 'bitfield' && !Bitfield.isValidWire(m.bits, this.pieceCount)) {
      throw new ProtocolError(m.bits.length === this.bitfieldBytes ? 'bitfield with spare bits set' : `bitfield of ${m.bits.length} bytes (expected ${this.bitfieldBytes})`);
    }
    // A repeated bitfield (aria2 sends one mid-stream) replaces the earlier one.
    this.picker.removePeer(tp.bits);
    const fresh = new Bitfield(this.pieceCount, m.type === 'bitfield' ? m.bits : undefined);
    if (m.type === 'have-all') fresh.setAll();
    tp.bits.assign(fresh);
    this.picker.addPeer(tp.bits);
    this.setInterested(tp, this.picker.interesting(tp.bits));
    this.closeIfBothSeeds(tp);
  }

  private closeIfBothSeeds(tp: TransferPeer): void {
    if (this.complete && tp.isSeed) tp.wire.close('both sides are seeds');
  }

  private onRequest(tp: TransferPeer, r: BlockRef): void {
    if (r.index >= this.pieceCount) throw new ProtocolError(`request for piece ${r.index} of ${this.pieceCount}`);
    if (r.begin + r.length > this.storage.layout.pieceSize(r.index)) throw new ProtocolError(`request past the end of piece ${r.index}`);
    if (!this.storage.have.has(r.index)) throw new ProtocolError(`request for piece ${r.index}, which we never announced`);
    if (tp.amChoking) {
      // Each one costs us a reject: a peer that keeps asking while choked is flooding.
      if (++tp.requestsWhileChoked > this.opts.maxQueuedRequests) throw new ProtocolError('too many requests while choked (request flood)');
      if (tp.fast) tp.wire.send.reject(r);
      return;
    }
    if (tp.uploadQueue.length >= this.opts.maxQueuedRequests) throw new ProtocolError(`more than ${this.opts.maxQueuedRequests} requests queued (request flood)`);
    tp.uploadQueue.push({ index: r.index, begin: r.begin, length: r.length });
    this.serveUploads(tp);
  }

  private onPiece(tp: TransferPeer, index: number, begin: number, block: Buffer): void {
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
    this.down.add(block.length);
    const duplicated = this.picker.requestCount(index, begin) > 1; // endgame: others were asked too
    const result = this.picker.receive(index, begin, block, tp.ip);
    if (result !== 'new') {
      this.wasted += block.length;
      if (req) this.picker.release(req);
      this.fillRequests(tp);
      return;
    }
    // Endgame: the same block may be on its way from others; cancel those requests.
    if (duplicated) {
      for (const other of this.peers.values()) {
        const dup = other === tp ? undefined : other.requests.get(key);
        if (!dup) continue;
        other.requests.delete(key);
        other.rememberCancelled(key);
        other.wire.send.cancel(dup);
      }
    }
    const done = this.picker.takeComplete(index);
    if (done) this.verify(done);
    this.fillRequests(tp);
  }

  // ---- verifying ----------------------------------------------------------------------------

  private verify(piece: PieceInProgress): void {
    const { index, senders } = piece;
    const bans = this.connections.bans;
    let banned: string[] = [];
    // The blocks themselves are the evidence of who sent what.
    const inspect = (ok: boolean) => {
      if (!ok) banned = bans.pieceFailed(index, piece.blocks(), senders);
      else if (bans.suspect(index)) banned = bans.piecePassed(index, piece.blocks());
    };
    const v = this.storage.verifyAndWrite(index, piece.data, piece.digest(), inspect).then(
      (ok) => {
        this.picker.verified(index);
        if (this.stopped) return;
        if (ok) this.onVerified(index);
        else this.emit({ event: 'piece-failed', index, peers: [...new Set(senders.filter((x) => x !== undefined))] });
        this.connections.ban(banned, 'banned: sent data that failed the hash check');
        if (!ok) this.fillAll();
      },
      (e: Error) => {
        this.picker.verified(index);
        this.emit({ event: 'error', message: `cannot write piece ${index}: ${e.message}. Free some space or fix the folder's permissions and run again: verified data is kept` });
      },
    );
    this.verifications.add(v);
    void v.finally(() => this.verifications.delete(v));
  }

  private onVerified(index: number): void {
    this.emit({ event: 'piece-verified', index });
    for (const p of this.peers.values()) {
      if (!p.bits.has(index)) p.wire.send.have(index);
      // Only a peer that has this piece can have just lost the last piece we wanted from it.
      if (p.amInterested && p.bits.has(index) && !this.picker.interesting(p.bits)) this.setInterested(p, false);
    }
    if (this.complete) this.markComplete();
    else this.fillAll();
  }

  private markComplete(): void {
    if (this.completeEmitted) return;
    this.completeEmitted = true;
    void this.storage.createEmptyFiles().catch((e: Error) => this.emit({ event: 'error', message: `cannot create empty files: ${e.message}` }));
    for (const p of [...this.peers.values()]) {
      if (p.amInterested) this.setInterested(p, false);
      this.closeIfBothSeeds(p);
    }
    this.emit({ event: 'complete' });
  }

  // ---- downloading --------------------------------------------------------------------------

  private setInterested(tp: TransferPeer, on: boolean): void {
    if (tp.amInterested === on) return;
    tp.amInterested = on;
    if (on) tp.wire.send.interested();
    else tp.wire.send.notInterested();
  }

  private fillAll(): void {
    for (const p of this.peers.values()) this.fillRequests(p);
  }

  private fillRequests(tp: TransferPeer): void {
    if (tp.peerChoking || !tp.amInterested || tp.wire.closed || this.stopped) return;
    const depth = tp.pipelineDepth();
    let want = depth - tp.requests.size;
    const limit = this.opts.limits?.down;
    const limited = limit !== undefined && !limit.unlimited;
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

  /** Wait for one more block of the download limit for this peer, unless it waits already or its pipeline is full. */
  private askDown(tp: TransferPeer, depth: number): void {
    if (tp.downAsk || tp.requests.size >= depth) return;
    tp.downAsk = this.opts.limits!.down.request(BLOCK_SIZE, () => {
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

  // ---- uploading ----------------------------------------------------------------------------

  private serveUploads(tp: TransferPeer): void {
    const limit = this.opts.limits?.up;
    const limited = limit !== undefined && !limit.unlimited;
    while (tp.uploadQueue.length > 0 && tp.uploadReads < 8 && tp.wire.queuedBytes < 4 * 1024 * 1024 && !tp.wire.closed && !this.stopped) {
      if (limited) {
        // Each block waits for its bytes of the upload limit; peers take turns block by block.
        const length = tp.uploadQueue[0]!.length;
        if (tp.upCredit < length) {
          const need = length - tp.upCredit;
          tp.upAsk ??= limit.request(need, () => {
            tp.upAsk = undefined;
            tp.upCredit += need;
            this.serveUploads(tp);
          });
          return;
        }
        tp.upCredit -= length;
      }
      const r = tp.uploadQueue.shift()!;
      tp.uploadReads++;
      this.storage.readBlock(r.index, r.begin, r.length).then(
        ({ block, release }) => {
          tp.uploadReads--;
          if (tp.amChoking || tp.wire.closed) return release();
          tp.wire.send.piece(r.index, r.begin, block, release);
          tp.up.add(block.length);
          this.up.add(block.length);
          this.serveUploads(tp);
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
    for (const p of this.peers.values()) if (!p.amChoking && p.peerInterested) unchoked++;
    if (unchoked < this.opts.uploadSlots + 1) this.unchoke(tp, Date.now());
  }

  private rechoke(now: number): void {
    this.lastRechoke = now;
    const d = decideUnchokes([...this.peers.values()], this.opts.uploadSlots, this.complete, now, this.optimistic);
    this.optimistic = d.optimistic;
    for (const p of this.peers.values()) {
      const want = d.unchoke.has(p);
      if (want && p.amChoking) this.unchoke(p, now);
      else if (!want && !p.amChoking) this.choke(p);
    }
  }

  // ---- housekeeping -------------------------------------------------------------------------

  tick(now: number): void {
    for (const p of [...this.peers.values()]) {
      if (p.wire.closed) continue;
      if (p.requests.size > 0 && now - p.lastPieceAt > this.opts.requestTimeoutMs) {
        // Snubbed: give its blocks to others, ask again later.
        this.releaseRequests(p, true);
        p.lastPieceAt = now;
      }
      this.serveUploads(p);
    }
    if (now - this.lastRechoke >= RECHOKE_INTERVAL_MS) this.rechoke(now);
    this.fillAll();
  }
}
