/**
 * The transfer half of a swarm, attached once the metadata is known: what each peer has, and
 * the dispatch of its messages to the download side (downloads.ts), the upload side
 * (uploads.ts), BEP 52's hash messages (hash-exchange.ts) and, for a complete piece, the
 * verifier (piece-verifier.ts). Peers come and go through the connection half (connections.ts);
 * the torrent's web seeds (web-seeds.ts) feed the download side beside them; verified pieces go
 * to the store. A v2 piece is asked for once its hash is known.
 */
import type { PieceStore } from '../storage/piece-store.js';
import { Bitfield } from '../util/bitfield.js';
import { ProtocolError } from '../wire/frame-decoder.js';
import type { Message } from '../wire/messages.js';
import type { Connections, PeerHandler } from './connections.js';
import { Downloads, type TransferState } from './downloads.js';
import type { SwarmEvent } from './events.js';
import { HashExchange, type HashStats } from './hash-exchange.js';
import type { Peer } from './peer.js';
import { PiecePicker } from './piece-picker.js';
import { PieceVerifier, type Verdict } from './piece-verifier.js';
import type { RateLimits } from './rate-limit.js';
import { TransferPeer } from './transfer-peer.js';
import { Uploads } from './uploads.js';
import type { WebSeedInfo } from './web-seed.js';
import { WebSeeds, type WebSeedOptions } from './web-seeds.js';

export interface TransferOptions {
  uploadSlots: number;
  /** Requests a peer may queue with us before it is disconnected for flooding. */
  maxQueuedRequests: number;
  requestTimeoutMs: number;
  /** Rate limits of this torrent (under the client's); requests and uploads wait on them. */
  limits?: RateLimits;
  /** Download pieces in order (see PiecePicker.sequential). */
  sequential?: boolean;
  /** Fetch from the torrent's web seeds over this network; undefined: never. */
  webSeeds?: WebSeedOptions;
}

export class Transfer implements PeerHandler, TransferState {
  readonly bitfieldBytes: number;
  private readonly picker: PiecePicker;
  private readonly downloads: Downloads;
  private readonly uploads: Uploads;
  private readonly verifier: PieceVerifier;
  private readonly hashes: HashExchange;
  private readonly webSeeds?: WebSeeds;
  private readonly peers = new Map<Peer, TransferPeer>();
  private readonly pieceCount: number;
  private halted = false;
  private completeEmitted = false;

  constructor(
    private readonly store: PieceStore,
    private readonly connections: Connections,
    opts: TransferOptions,
    private readonly emit: (e: SwarmEvent) => void,
  ) {
    this.pieceCount = store.meta.pieceCount;
    this.bitfieldBytes = Math.ceil(this.pieceCount / 8);
    this.picker = new PiecePicker(this.pieceCount, (i) => store.layout.pieceSize(i), store.have);
    if (!store.selection.all) this.picker.selected = store.selection.pieces;
    this.picker.sequential = !!opts.sequential;
    this.picker.dataEnd = (i) => store.layout.dataEnd(i);
    this.hashes = new HashExchange(store, this);
    if (!store.hashes.complete) {
      this.picker.hashesKnown = { has: (i) => store.hashes.known(i) };
      store.hashes.onLayer((first, last) => this.onHashesKnown(first, last));
    }
    this.verifier = new PieceVerifier(store, connections.bans, (v) => this.onVerdict(v), this.hashes);
    this.downloads = new Downloads(this.picker, this, opts.limits?.down, opts.requestTimeoutMs, (piece) => this.verifier.verify(piece));
    this.uploads = new Uploads(store, this, { slots: opts.uploadSlots, maxQueuedRequests: opts.maxQueuedRequests }, opts.limits?.up, emit);
    const { meta, layout } = store;
    if (opts.webSeeds && meta.urlList.length + meta.httpSeeds.length > 0) {
      const downloads = this.downloads;
      const transfer = this;
      this.webSeeds = new WebSeeds(
        meta,
        {
          picker: this.picker,
          accept: (from, index, begin, block) => downloads.accept(from, index, begin, block),
          segments: (index, begin, length) => layout.segments(index, begin, length),
          piecesOfFile: (f) => layout.piecesOfFile(f),
          limit: opts.limits?.down,
          get active() {
            return !transfer.stopped && !transfer.complete;
          },
          emit,
        },
        opts.webSeeds,
      );
    }
  }

  /** The torrent's web seeds as status shows them (none when they are off). */
  webSeedInfo(): WebSeedInfo[] {
    return this.webSeeds?.info() ?? [];
  }

  /** Stopped: nothing more is requested, sent or written. */
  get stopped(): boolean {
    return this.halted;
  }

  /** The transfer state of every connected peer. */
  transferPeers(): Iterable<TransferPeer> {
    return this.peers.values();
  }

  /** Every selected piece is verified (every piece, without a file selection). */
  get complete(): boolean {
    return this.store.done;
  }

  /** Payload rates and totals, down and up. */
  get down() {
    return this.downloads.meter;
  }

  get up() {
    return this.uploads.meter;
  }

  /** BEP 52's hash messages, for a v2 torrent: hashes taken from peers, answers and rejects sent. */
  get hashStats(): HashStats | undefined {
    return this.store.meta.v2 ? { ...this.hashes.stats } : undefined;
  }

  /** Bytes received that we had already. */
  get wasted(): number {
    return this.downloads.wasted;
  }

  /** How many connected peers have piece `index`. */
  availability(index: number): number {
    return this.picker.availability[index] ?? 0;
  }

  /** The transfer state of a connected peer (for status). */
  of(peer: Peer): TransferPeer | undefined {
    return this.peers.get(peer);
  }

  start(): void {
    if (this.complete) this.markComplete();
    else this.webSeeds?.fill();
  }

  async stop(): Promise<void> {
    this.halted = true;
    this.webSeeds?.stop();
    for (const tp of this.peers.values()) {
      tp.downAsk?.();
      tp.upAsk?.();
    }
    await this.verifier.drain();
  }

  // ---- peers joining and leaving --------------------------------------------------------------

  added(peer: Peer, late: boolean): void {
    const tp = new TransferPeer(peer, this.pieceCount);
    this.peers.set(peer, tp);
    const have = this.store.have;
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
    this.uploads.added(tp);
    this.hashes.added(tp);
    if (!tp.peerChoking) this.downloads.fillRequests(tp);
  }

  removed(peer: Peer): void {
    const tp = this.peers.get(peer);
    if (!tp) return;
    this.peers.delete(peer);
    this.downloads.removed(tp);
    this.uploads.removed(tp);
    this.hashes.removed(tp);
    this.picker.removePeer(tp.bits);
    if (!this.stopped) this.downloads.fillAll();
  }

  useless(peer: Peer): boolean {
    return this.complete && !!this.peers.get(peer)?.isSeed;
  }

  drained(peer: Peer): void {
    const tp = this.peers.get(peer);
    if (tp) this.uploads.serve(tp);
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
        return this.downloads.choked(tp);
      case 'unchoke':
        return this.downloads.unchoked(tp);
      case 'interested':
        return this.uploads.interested(tp);
      case 'not-interested':
        return this.uploads.notInterested(tp);
      case 'have':
        return this.onHave(tp, m.index);
      case 'bitfield':
      case 'have-all':
      case 'have-none':
        return this.onPeerPieces(tp, m);
      case 'request':
        return this.uploads.requested(tp, m);
      case 'cancel':
        return this.uploads.cancelled(tp, m);
      case 'reject':
        return this.downloads.rejected(tp, m);
      case 'piece':
        return this.downloads.received(tp, m.index, m.begin, m.block);
      case 'hash-request':
      case 'hashes':
      case 'hash-reject':
        return this.hashes.message(tp, m);
      default:
        return; // keep-alive, port and extended are the connections' business
    }
  }

  private onHave(tp: TransferPeer, index: number): void {
    if (index >= this.pieceCount) throw new ProtocolError(`have for piece ${index} of ${this.pieceCount}`);
    if (tp.bits.has(index)) return;
    tp.bits.set(index);
    this.picker.peerHas(tp.bits, index);
    if (!tp.amInterested && this.picker.wanted(index)) this.downloads.setInterested(tp, true);
    this.hashes.peerPiecesChanged(tp);
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
    this.downloads.setInterested(tp, this.picker.interesting(tp.bits));
    this.hashes.peerPiecesChanged(tp);
    this.closeIfBothSeeds(tp);
  }

  /** A file's piece layer arrived: its pieces can be checked, so asked for. */
  private onHashesKnown(first: number, last: number): void {
    this.picker.unlocked(first, last);
    for (const p of this.peers.values()) if (!p.amInterested) this.downloads.setInterested(p, this.picker.interesting(p.bits));
    this.downloads.fillAll();
  }

  private closeIfBothSeeds(tp: TransferPeer): void {
    if (this.complete && tp.isSeed) tp.wire.close('both sides are seeds');
  }

  // ---- verified pieces ----------------------------------------------------------------------

  private onVerdict(v: Verdict): void {
    if ('blamed' in v) {
      if (v.blamed.length > 0) this.emit({ event: 'piece-blamed', index: v.index, peers: v.blamed, blocks: v.blocks });
      const blamed = this.webSeeds ? this.webSeeds.ban(v.banned, v.index) : v.banned;
      this.connections.ban(blamed, 'banned: sent blocks that failed their merkle hashes');
      return;
    }
    this.picker.verified(v.index);
    if ('error' in v) {
      this.emit({ event: 'error', message: `cannot write piece ${v.index}: ${v.error.message}. Free some space or fix the folder's permissions and run again: verified data is kept` });
      return;
    }
    if (this.stopped) return;
    if (v.ok) this.onVerified(v.index);
    else if (v.inconsistent) {
      // Once: from now on its pieces are checked by their SHA-1 alone.
      this.store.hashes.dropV2();
      this.emit({ event: 'warning', message: `piece ${v.index} matches the torrent's v1 hash but not its v2 hash: its two halves disagree, so only the v1 hashes are checked from now on; ask whoever made it for a consistent one` });
    }
    else this.emit({ event: 'piece-failed', index: v.index, peers: v.senders });
    const peers = this.webSeeds ? this.webSeeds.ban(v.banned, v.index) : v.banned;
    this.connections.ban(peers, 'banned: sent data that failed the hash check');
    if (!v.ok) {
      this.downloads.fillAll();
      this.webSeeds?.fill();
    }
  }

  private onVerified(index: number): void {
    this.emit({ event: 'piece-verified', index });
    for (const p of this.peers.values()) {
      if (!p.bits.has(index)) p.wire.send.have(index);
      // Only a peer that has this piece can have just lost the last piece we wanted from it.
      if (p.amInterested && p.bits.has(index) && !this.picker.interesting(p.bits)) this.downloads.setInterested(p, false);
    }
    if (this.complete) this.markComplete();
    else {
      this.downloads.fillAll();
      this.webSeeds?.fill();
    }
  }

  private markComplete(): void {
    if (this.completeEmitted) return;
    this.completeEmitted = true;
    this.webSeeds?.stop();
    void this.store.createEmptyFiles().catch((e: Error) => this.emit({ event: 'error', message: `cannot create empty files: ${e.message}` }));
    for (const p of [...this.peers.values()]) {
      this.downloads.setInterested(p, false);
      this.closeIfBothSeeds(p);
    }
    this.emit({ event: 'complete' });
  }

  // ---- housekeeping -------------------------------------------------------------------------

  tick(now: number): void {
    for (const p of [...this.peers.values()]) {
      if (p.wire.closed) continue;
      this.downloads.tick(p, now);
      this.uploads.serve(p);
    }
    this.uploads.tick(now);
    this.hashes.tick(now);
    this.downloads.fillAll();
    if (!this.complete) this.webSeeds?.tick();
  }
}
