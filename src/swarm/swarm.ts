/**
 * One torrent's peers: handshakes, interest, choking, the request pipeline, assembling and
 * verifying pieces, serving uploads, blame and bans, and finding more peers to connect to.
 * Socket bytes come in through PeerWire; verified pieces go out to TorrentStorage.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Family } from '../net/address.js';
import { hostNetwork, isDialable } from '../net/address.js';
import type { PeerAddress } from '../net/compact.js';
import { dial, type DialTarget } from '../net/dial.js';
import type { Metainfo } from '../metainfo/types.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import { Bitfield } from '../util/bitfield.js';
import { encodeExtensionHandshake, parseExtensionHandshake } from '../wire/extension-handshake.js';
import type { Handshake } from '../wire/handshake.js';
import type { BlockRef, Message } from '../wire/messages.js';
import { PeerWire } from '../wire/peer-wire.js';
import { BanList, banKey } from './bans.js';
import { decideUnchokes, RECHOKE_INTERVAL_MS } from './choker.js';
import { Peer, blockKey } from './peer.js';
import { PeerPool, type Candidate, type PeerSource } from './peer-pool.js';
import { PiecePicker, type PieceInProgress } from './piece-picker.js';
import { RateMeter } from './rate.js';

export interface SwarmOptions {
  peerId: Buffer;
  clientName: string;
  /** Our listening port (announced in BEP 10 `p`). */
  port(): number;
  /** Our own addresses per family, for BEP 10 `ipv4`/`ipv6` (only global ones are sent). */
  ownAddresses(): Partial<Record<Family, string>>;
  families: { 4: boolean; 6: boolean };
  localAddress?: Partial<Record<Family, string>>;
  maxPeers?: number;
  uploadSlots?: number;
  /** Max concurrent outgoing connection attempts. */
  maxConnecting?: number;
  /** Largest block a peer may request from us. */
  maxRequestBytes?: number;
  /** Requests a peer may queue with us before it is disconnected for flooding. */
  maxQueuedRequests?: number;
  /** Convictions (certain hash-failure blame) before an IP is banned; see BanList. */
  banThreshold?: number;
  requestTimeoutMs?: number;
}

export type SwarmEvent =
  | { event: 'peer-connected'; address: string; family: Family; client: string; direction: 'in' | 'out' }
  | { event: 'peer-disconnected'; address: string; family: Family; reason: string }
  | { event: 'piece-verified'; index: number }
  | { event: 'piece-failed'; index: number; peers: string[] }
  | { event: 'peer-banned'; ip: string }
  | { event: 'complete' }
  | { event: 'warning'; message: string }
  | { event: 'error'; message: string };

export interface SwarmStats {
  peers: number;
  peers4: number;
  peers6: number;
  seeds: number;
  candidates: number;
  downloaded: number;
  uploaded: number;
  wasted: number;
  downRate: number;
  upRate: number;
  banned: number;
}

const OUR_REQQ = 2000;
const MAX_PER_HOST = 8;
const MAX_UNSOLICITED = 64;

export class Swarm extends EventEmitter<{ event: [SwarmEvent] }> {
  readonly picker: PiecePicker;
  readonly pool = new PeerPool();
  readonly peers = new Set<Peer>();
  private readonly byId = new Map<string, Peer>();
  private readonly candidateOf = new Map<Peer, Candidate>();
  private readonly bans: BanList;
  private readonly opts: Required<Omit<SwarmOptions, 'localAddress'>> & Pick<SwarmOptions, 'localAddress'>;
  private readonly pieceCount: number;
  private readonly down = new RateMeter();
  private readonly up = new RateMeter();
  private wasted = 0;
  private unsolicited = new Map<Peer, number>();
  private optimistic?: Peer;
  private lastRechoke = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private completeEmitted = false;
  /** Outgoing attempts in flight (sockets not yet handed to a PeerWire). */
  private readonly dialing = new Set<Candidate>();
  private readonly pendingWires = new Set<PeerWire>();
  /** Pieces being hashed and written: stop() waits for them so nothing is written after it. */
  private readonly verifications = new Set<Promise<void>>();

  constructor(
    readonly meta: Metainfo,
    readonly storage: TorrentStorage,
    opts: SwarmOptions,
  ) {
    super();
    // Explicit per-field defaults: an option passed as undefined must not erase its default.
    this.opts = {
      ...opts,
      maxPeers: opts.maxPeers ?? 60,
      uploadSlots: opts.uploadSlots ?? 4,
      maxConnecting: opts.maxConnecting ?? 12,
      maxRequestBytes: opts.maxRequestBytes ?? 128 * 1024,
      maxQueuedRequests: opts.maxQueuedRequests ?? 2 * OUR_REQQ,
      banThreshold: opts.banThreshold ?? 2,
      requestTimeoutMs: opts.requestTimeoutMs ?? 20_000,
    };
    this.pieceCount = meta.pieceCount;
    this.bans = new BanList(this.opts.banThreshold);
    this.picker = new PiecePicker(meta.pieceCount, (i) => storage.layout.pieceSize(i), storage.have);
  }

  get complete(): boolean {
    return this.storage.have.complete;
  }

  /** Bytes still missing (for trackers' `left`). */
  left(): number {
    let missing = 0;
    for (let i = 0; i < this.pieceCount; i++) if (!this.storage.have.has(i)) missing += this.storage.layout.pieceSize(i);
    return missing;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
    if (this.complete) this.markComplete();
    this.connectMore();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const w of this.pendingWires) w.close('shutting down');
    for (const p of [...this.peers]) p.wire.close('shutting down');
    await Promise.allSettled([...this.verifications]);
  }

  addPeers(addrs: (PeerAddress | DialTarget)[], source: PeerSource): number {
    let added = 0;
    for (const a of addrs) {
      if (!isDialable(a.host) || a.port === 0 || this.bans.isBanned(a.host)) continue;
      if (this.pool.add([{ host: a.host, port: a.port }], source)) added++;
    }
    if (added > 0) this.connectMore();
    return added;
  }

  /** One peer known by several addresses (a host name with A and AAAA records): dialed Happy-Eyeballs style. */
  addPeerTargets(targets: DialTarget[], source: PeerSource): void {
    if (this.pool.add(targets, source)) this.connectMore();
  }

  /** Our addresses changed (a tunnel came up): dial now the peers that failed, e.g. for want of a route. */
  redialFailed(): void {
    if (this.stopped) return;
    this.pool.retryNow();
    this.connectMore();
  }

  /** A connection that arrived on our listener and named this torrent in its handshake. */
  acceptIncoming(wire: PeerWire, h: Handshake): boolean {
    if (!this.admit(wire, h, 'in')) return false;
    wire.sendHandshake(this.meta.infoHash, this.opts.peerId);
    this.addPeer(wire, undefined);
    return true;
  }

  stats(): SwarmStats {
    let peers4 = 0, seeds = 0;
    for (const p of this.peers) {
      if (p.family === 4) peers4++;
      if (p.isSeed) seeds++;
    }
    return {
      peers: this.peers.size,
      peers4,
      peers6: this.peers.size - peers4,
      seeds,
      candidates: this.pool.size,
      downloaded: this.down.total,
      uploaded: this.up.total,
      wasted: this.wasted,
      downRate: this.down.rate(),
      upRate: this.up.rate(),
      banned: this.bans.size,
    };
  }

  // ---- connecting ---------------------------------------------------------------------------

  private connectMore(): void {
    if (this.stopped || this.complete && this.peers.size >= this.opts.maxPeers) return;
    const room = this.opts.maxPeers - this.peers.size - this.dialing.size - this.pendingWires.size;
    const slots = Math.min(room, this.opts.maxConnecting - this.dialing.size);
    if (slots <= 0) return;
    for (const c of this.pool.ready(Date.now(), slots)) {
      if (c.targets.some((t) => this.connectedTo(t))) {
        c.state = 'connected';
        continue;
      }
      c.state = 'connecting';
      this.dialing.add(c);
      dial(c.targets, { families: this.opts.families, localAddress: this.opts.localAddress, timeoutMs: 10_000 }).then(
        (socket) => this.onDialed(c, socket),
        () => {
          this.dialing.delete(c);
          this.pool.failed(c, Date.now());
        },
      );
    }
  }

  private connectedTo(t: DialTarget): boolean {
    for (const p of this.peers) if (p.wire.remote.host === t.host && p.wire.remote.port === t.port) return true;
    return false;
  }

  private onDialed(c: Candidate, socket: Socket): void {
    this.dialing.delete(c);
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const wire = new PeerWire(socket, true);
    this.pendingWires.add(wire);
    wire.attach({
      onHandshake: (h) => {
        this.pendingWires.delete(wire);
        if (!h.infoHash.equals(this.meta.infoHash)) return false;
        if (h.peerId.equals(this.opts.peerId)) c.state = 'self';
        if (!this.admit(wire, h, 'out')) return false;
        this.addPeer(wire, c);
        return true;
      },
      onMessage: () => {},
      onClose: () => {
        this.pendingWires.delete(wire);
        if (c.state === 'connecting') this.pool.failed(c, Date.now());
      },
    });
    wire.sendHandshake(this.meta.infoHash, this.opts.peerId);
  }

  /** Decide whether a handshaken connection may join; resolves duplicates of one peer across families. */
  private admit(wire: PeerWire, h: Handshake, direction: 'in' | 'out'): boolean {
    if (this.stopped) return false;
    if (h.peerId.equals(this.opts.peerId)) return false; // we reached ourselves
    if (this.bans.isBanned(wire.remote.host)) return false;
    if (direction === 'in' && this.peers.size >= this.opts.maxPeers) return false;
    // One host (an IPv4 address, an IPv6 /64) may not take over the swarm with many connections.
    const net = hostNetwork(wire.remote.host);
    if (net && [...this.peers].filter((p) => hostNetwork(p.ip) === net).length >= MAX_PER_HOST) return false;
    const existing = this.byId.get(h.peerId.toString('hex'));
    if (existing) {
      // One connection per peer: both ends keep the one opened by the side with the smaller peer id,
      // so two simultaneous connections (say one over IPv4, one over IPv6) never both get dropped.
      const initiator = (outgoing: boolean) => (outgoing ? this.opts.peerId : h.peerId);
      if (Buffer.compare(initiator(direction === 'out'), initiator(existing.wire.outgoing)) >= 0) return false;
      existing.wire.close('duplicate connection to the same peer');
    }
    return true;
  }

  private addPeer(wire: PeerWire, candidate: Candidate | undefined): void {
    const peer = new Peer(wire, this.pieceCount);
    this.peers.add(peer);
    this.byId.set(peer.id.toString('hex'), peer);
    if (candidate) {
      candidate.state = 'connected';
      candidate.failures = 0;
      this.candidateOf.set(peer, candidate);
    }
    wire.startMessages({ bitfieldBytes: Math.ceil(this.pieceCount / 8), maxBlock: this.opts.maxRequestBytes, maxExtended: 1024 * 1024 });
    wire.attach({
      onHandshake: () => true,
      onMessage: (m) => this.onMessage(peer, m),
      onClose: (reason) => this.removePeer(peer, reason),
    });
    wire.socket.on('drain', () => this.serveUploads(peer));
    if (wire.handshake!.extended) this.sendExtensionHandshake(peer);
    const have = this.storage.have;
    if (peer.fast && have.complete) wire.send.haveAll();
    else if (peer.fast && have.empty) wire.send.haveNone();
    else if (!have.empty) wire.send.bitfield(have.bytes);
    this.emit('event', { event: 'peer-connected', address: peer.label, family: peer.family, client: peer.client(), direction: wire.outgoing ? 'out' : 'in' });
  }

  private sendExtensionHandshake(peer: Peer): void {
    const own = this.opts.ownAddresses();
    // Tell the peer our address in the family it did not reach us on, so it can reach us both ways.
    const fam = this.opts.families;
    const other = peer.family === 4 ? { ipv6: fam[6] ? own[6] : undefined } : { ipv4: fam[4] ? own[4] : undefined };
    peer.wire.send.extended(
      0,
      encodeExtensionHandshake({
        extensions: {},
        port: this.opts.port() || undefined,
        client: this.opts.clientName,
        reqq: OUR_REQQ,
        yourIp: peer.wire.remote.host,
        ...other,
      }),
    );
  }

  private removePeer(peer: Peer, reason: string): void {
    if (!this.peers.delete(peer)) return;
    const idHex = peer.id.toString('hex');
    if (this.byId.get(idHex) === peer) this.byId.delete(idHex);
    for (const r of peer.requests.values()) this.picker.release(r);
    peer.requests.clear();
    this.picker.removePeer(peer.bits);
    this.unsolicited.delete(peer);
    if (this.optimistic === peer) this.optimistic = undefined;
    const c = this.candidateOf.get(peer);
    this.candidateOf.delete(peer);
    if (c && c.state !== 'self' && !this.bans.isBanned(peer.ip)) {
      // A seed has nothing for us once we are complete: do not knock on its door every few seconds.
      if (this.complete && peer.isSeed) this.pool.park(c, Date.now());
      else this.pool.disconnected(c, Date.now());
    }
    this.emit('event', { event: 'peer-disconnected', address: peer.label, family: peer.family, reason });
    if (!this.stopped) {
      this.fillAll();
      this.connectMore();
    }
  }

  // ---- messages -----------------------------------------------------------------------------

  private onMessage(peer: Peer, m: Message): void {
    switch (m.type) {
      case 'keep-alive':
      case 'port':
      case 'suggest':
      case 'allowed-fast':
        return;
      case 'choke':
        peer.peerChoking = true;
        // Without the fast extension a choke silently drops every request we had out.
        if (!peer.fast) this.releaseRequests(peer, false);
        return;
      case 'unchoke':
        peer.peerChoking = false;
        this.fillRequests(peer);
        return;
      case 'interested':
        peer.peerInterested = true;
        this.unchokeIfRoom(peer);
        return;
      case 'not-interested':
        peer.peerInterested = false;
        if (!peer.amChoking) this.choke(peer);
        return;
      case 'have':
        if (m.index >= this.pieceCount) throw new Error(`have for piece ${m.index} of ${this.pieceCount}`);
        if (!peer.bits.has(m.index)) {
          peer.bits.set(m.index);
          this.picker.availability[m.index]!++;
          if (!peer.amInterested && this.picker.wanted(m.index)) this.setInterested(peer, true);
          this.closeIfBothSeeds(peer);
        }
        return;
      case 'bitfield':
      case 'have-all':
      case 'have-none':
        this.onPeerPieces(peer, m);
        return;
      case 'request':
        this.onRequest(peer, m);
        return;
      case 'cancel': {
        const i = peer.uploadQueue.findIndex((r) => r.index === m.index && r.begin === m.begin && r.length === m.length);
        if (i >= 0) peer.uploadQueue.splice(i, 1);
        return;
      }
      case 'reject': {
        const key = blockKey(m);
        const r = peer.requests.get(key);
        if (r) {
          peer.requests.delete(key);
          this.picker.release(r);
          this.fillAll();
        }
        return;
      }
      case 'piece':
        this.onPiece(peer, m.index, m.begin, m.block);
        return;
      case 'extended':
        if (m.id === 0) peer.ext = parseExtensionHandshake(m.payload);
        return;
    }
  }

  private onPeerPieces(peer: Peer, m: Extract<Message, { type: 'bitfield' | 'have-all' | 'have-none' }>): void {
    if (m.type !== 'bitfield' && !peer.fast) throw new Error(`${m.type} without the fast extension`);
    if (m.type === 'bitfield' && !Bitfield.isValidWire(m.bits, this.pieceCount)) throw new Error('bitfield with spare bits set');
    // A repeated bitfield (aria2 sends one mid-stream) replaces the earlier one.
    this.picker.removePeer(peer.bits);
    const fresh = new Bitfield(this.pieceCount, m.type === 'bitfield' ? m.bits : undefined);
    if (m.type === 'have-all') fresh.setAll();
    peer.bits.assign(fresh);
    this.picker.addPeer(peer.bits);
    this.setInterested(peer, this.picker.interesting(peer.bits));
    this.closeIfBothSeeds(peer);
  }

  private closeIfBothSeeds(peer: Peer): void {
    if (this.complete && peer.isSeed) peer.wire.close('both sides are seeds');
  }

  private onRequest(peer: Peer, r: BlockRef): void {
    if (r.index >= this.pieceCount) throw new Error(`request for piece ${r.index} of ${this.pieceCount}`);
    if (r.begin + r.length > this.storage.layout.pieceSize(r.index)) throw new Error(`request past the end of piece ${r.index}`);
    if (!this.storage.have.has(r.index)) throw new Error(`request for piece ${r.index}, which we never announced`);
    if (peer.amChoking) {
      // Each one costs us a reject: a peer that keeps asking while choked is flooding.
      if (++peer.requestsWhileChoked > this.opts.maxQueuedRequests) throw new Error('too many requests while choked (request flood)');
      if (peer.fast) peer.wire.send.reject(r);
      return;
    }
    if (peer.uploadQueue.length >= this.opts.maxQueuedRequests) throw new Error(`more than ${this.opts.maxQueuedRequests} requests queued (request flood)`);
    peer.uploadQueue.push({ index: r.index, begin: r.begin, length: r.length });
    this.serveUploads(peer);
  }

  private onPiece(peer: Peer, index: number, begin: number, block: Buffer): void {
    const key = blockKey({ index, begin });
    const req = peer.requests.get(key);
    if (req && req.length === block.length) {
      peer.requests.delete(key);
    } else if (!peer.forgetCancelled(key)) {
      // Unrequested data: accept it if it is useful, but a peer that keeps pushing it is broken.
      const n = (this.unsolicited.get(peer) ?? 0) + 1;
      this.unsolicited.set(peer, n);
      if (n > MAX_UNSOLICITED) throw new Error('too many blocks we never requested');
    }
    peer.lastPieceAt = Date.now();
    peer.down.add(block.length);
    this.down.add(block.length);
    const duplicated = this.picker.requestCount(index, begin) > 1; // endgame: others were asked too
    const result = this.picker.receive(index, begin, block, peer.ip);
    if (result !== 'new') {
      this.wasted += block.length;
      if (req) this.picker.release(req);
      this.fillRequests(peer);
      return;
    }
    // Endgame: the same block may be on its way from others; cancel those requests.
    if (duplicated) {
      for (const other of this.peers) {
        const dup = other === peer ? undefined : other.requests.get(key);
        if (!dup) continue;
        other.requests.delete(key);
        other.rememberCancelled(key);
        other.wire.send.cancel(dup);
      }
    }
    const done = this.picker.takeComplete(index);
    if (done) this.verify(done);
    this.fillRequests(peer);
  }

  private verify(piece: PieceInProgress): void {
    const { index, senders } = piece;
    let banned: string[] = [];
    // The blocks themselves are the evidence of who sent what.
    const inspect = (ok: boolean) => {
      if (!ok) banned = this.bans.pieceFailed(index, piece.blocks(), senders);
      else if (this.bans.suspect(index)) banned = this.bans.piecePassed(index, piece.blocks());
    };
    const v = this.storage.verifyAndWrite(index, piece.data, piece.digest(), inspect).then(
      (ok) => {
        this.picker.verified(index);
        if (this.stopped) return;
        if (ok) this.onVerified(index);
        else this.emit('event', { event: 'piece-failed', index, peers: [...new Set(senders.filter((x) => x !== undefined))] });
        this.ban(banned);
        if (!ok) this.fillAll();
      },
      (e: Error) => {
        this.picker.verified(index);
        this.emit('event', { event: 'error', message: `cannot write piece ${index}: ${e.message}. Free some space or fix the folder's permissions and run again: verified data is kept` });
      },
    );
    this.verifications.add(v);
    void v.finally(() => this.verifications.delete(v));
  }

  private ban(keys: string[]): void {
    for (const key of keys) {
      this.emit('event', { event: 'peer-banned', ip: key });
      this.pool.dropWhere((host) => banKey(host) === key);
      for (const p of [...this.peers]) if (banKey(p.ip) === key) p.wire.close('banned: sent data that failed the hash check');
    }
  }

  private onVerified(index: number): void {
    this.emit('event', { event: 'piece-verified', index });
    for (const p of this.peers) {
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
    void this.storage.createEmptyFiles().catch((e: Error) => this.emit('event', { event: 'error', message: `cannot create empty files: ${e.message}` }));
    for (const p of [...this.peers]) {
      if (p.amInterested) this.setInterested(p, false);
      this.closeIfBothSeeds(p);
    }
    this.emit('event', { event: 'complete' });
  }

  // ---- downloading --------------------------------------------------------------------------

  private setInterested(peer: Peer, on: boolean): void {
    if (peer.amInterested === on) return;
    peer.amInterested = on;
    if (on) peer.wire.send.interested();
    else peer.wire.send.notInterested();
  }

  private fillAll(): void {
    for (const p of this.peers) this.fillRequests(p);
  }

  private fillRequests(peer: Peer): void {
    if (peer.peerChoking || !peer.amInterested || peer.wire.closed) return;
    const depth = peer.pipelineDepth();
    const want = depth - peer.requests.size;
    // Top up in batches (an eighth of the pipeline): one write per batch instead of one per block.
    if (want <= 0 || (peer.requests.size > 0 && want < Math.max(16, depth / 8))) return;
    const picks = this.picker.pick(peer.bits, want, (r) => peer.requests.has(blockKey(r)));
    if (picks.length === 0) return;
    const now = Date.now();
    if (peer.requests.size === 0) peer.lastPieceAt = now; // the timeout counts from the first request
    for (const r of picks) peer.requests.set(blockKey(r), { ...r, at: now });
    peer.wire.send.requests(picks);
  }

  /** Give back every outstanding request of a peer (choked, snubbed); optionally tell it. */
  private releaseRequests(peer: Peer, cancel: boolean): void {
    for (const [key, r] of peer.requests) {
      this.picker.release(r);
      if (cancel) peer.wire.send.cancel(r);
      peer.rememberCancelled(key); // it may already be on the wire
    }
    peer.requests.clear();
    this.fillAll();
  }

  // ---- uploading ----------------------------------------------------------------------------

  private serveUploads(peer: Peer): void {
    while (peer.uploadQueue.length > 0 && peer.uploadReads < 8 && peer.wire.queuedBytes < 4 * 1024 * 1024 && !peer.wire.closed) {
      const r = peer.uploadQueue.shift()!;
      peer.uploadReads++;
      this.storage.readBlock(r.index, r.begin, r.length).then(
        ({ block, release }) => {
          peer.uploadReads--;
          if (peer.amChoking || peer.wire.closed) return release();
          peer.wire.send.piece(r.index, r.begin, block, release);
          peer.up.add(block.length);
          this.up.add(block.length);
          this.serveUploads(peer);
        },
        (e: Error) => {
          peer.uploadReads--;
          // The data went missing under us (a file deleted or truncated): this peer goes, seeding the rest goes on.
          this.emit('event', { event: 'warning', message: `cannot read piece ${r.index} for upload: ${e.message}` });
          peer.wire.close('upload read failed');
        },
      );
    }
  }

  private choke(peer: Peer): void {
    peer.amChoking = true;
    peer.wire.send.choke();
    if (peer.fast) for (const r of peer.uploadQueue) peer.wire.send.reject(r);
    peer.uploadQueue.length = 0;
  }

  private unchoke(peer: Peer, now: number): void {
    peer.amChoking = false;
    peer.requestsWhileChoked = 0;
    peer.lastUnchokedAt = now;
    peer.wire.send.unchoke();
  }

  /** A newly interested peer does not wait for the next rechoke when a slot is free. */
  private unchokeIfRoom(peer: Peer): void {
    if (!peer.amChoking) return;
    let unchoked = 0;
    for (const p of this.peers) if (!p.amChoking && p.peerInterested) unchoked++;
    if (unchoked < this.opts.uploadSlots + 1) this.unchoke(peer, Date.now());
  }

  private rechoke(now: number): void {
    this.lastRechoke = now;
    const d = decideUnchokes([...this.peers], this.opts.uploadSlots, this.complete, now, this.optimistic);
    this.optimistic = d.optimistic;
    for (const p of this.peers) {
      const want = d.unchoke.has(p);
      if (want && p.amChoking) this.unchoke(p, now);
      else if (!want && !p.amChoking) this.choke(p);
    }
  }

  // ---- housekeeping -------------------------------------------------------------------------

  private tick(): void {
    const now = Date.now();
    for (const p of [...this.peers]) {
      if (now - p.wire.lastReceived > 150_000) {
        p.wire.close('idle for 150 s');
        continue;
      }
      if (now - p.wire.lastSent > 60_000) p.wire.send.keepAlive();
      if (p.requests.size > 0 && now - p.lastPieceAt > this.opts.requestTimeoutMs) {
        // Snubbed: give its blocks to others, ask again later.
        this.releaseRequests(p, true);
        p.lastPieceAt = now;
      }
      this.serveUploads(p);
    }
    if (now - this.lastRechoke >= RECHOKE_INTERVAL_MS) this.rechoke(now);
    this.fillAll();
    this.connectMore();
  }
}
