/**
 * The connection half of a swarm, which needs only the info hash: candidates and dialing,
 * admission (bans, caps per torrent and per host, one connection per peer across families),
 * BEP 10 handshakes and the extension registry, keep-alives and idle timeouts. Messages about
 * pieces go to the transfer once it is attached (the metadata is known); before that, what a
 * peer says about its pieces is remembered for it.
 */
import type { Family } from '../net/address.js';
import { classify, familyOf, hostKey, hostNetwork, isDialable, isExchangeable } from '../net/address.js';
import type { OurPorts } from '../transport/advertised-ports.js';
import { ConnectAborted } from '../transport/happy-eyeballs.js';
import type { DialTarget } from '../transport/network.js';
import { formatHostPort } from '../net/hostport.js';
import { ownAddressCheck } from '../net/self.js';
import { encodeExtensionHandshake, parseExtensionHandshake, type ExtensionHandshake } from '../wire/extension-handshake.js';
import type { ExtensionRegistry } from '../wire/extensions.js';
import { ProtocolError, type FrameLimits } from '../wire/frame-decoder.js';
import { HandshakeFailure, type Handshaker } from '../wire/handshaker.js';
import type { Message } from '../wire/messages.js';
import type { PeerWire } from '../wire/peer-wire.js';
import { BanList } from './bans.js';
import { MAX_EARLY_HAVES, Peer } from './peer.js';
import { DISCOVERY_SOURCES, PeerPool, type Candidate, type PeerAddressHint, type PeerSource } from './peer-pool.js';
import type { SwarmEvent } from './events.js';
import type { PeerRef, SwarmPlugins } from './plugins.js';

/** What the transfer (attached once the metadata is known) does with connected peers. */
export interface PeerHandler {
  readonly complete: boolean;
  /** Bytes of a bitfield for this torrent. */
  readonly bitfieldBytes: number;
  /** A peer joined; `late`: it joined before the transfer existed (it may have had messages from us). */
  added(peer: Peer, late: boolean): void;
  message(peer: Peer, m: Message): void;
  drained(peer: Peer): void;
  removed(peer: Peer): void;
  /** A seed while we are complete: it has nothing for us, and we nothing for it. */
  useless(peer: Peer): boolean;
  tick(now: number): void;
}

export interface ConnectionsOptions {
  infoHash: Buffer;
  /** BEP 52: the torrent's v2 info hash cut to 20 bytes, once known (the infoHash itself for a v2-only torrent). */
  v2Hash(): Buffer | undefined;
  peerId: Buffer;
  clientName: string;
  handshaker: Handshaker;
  extensions: ExtensionRegistry;
  /** Our ports: the advertised one of a peer's family goes in BEP 10 `p`. */
  ports: OurPorts;
  /** Our own addresses per family, for BEP 10 `ipv4`/`ipv6` (only global ones are sent). */
  ownAddresses(): Partial<Record<Family, string>>;
  families: { 4: boolean; 6: boolean };
  maxPeers: number;
  /** Max concurrent outgoing connection attempts. */
  maxConnecting: number;
  /** Convictions (certain hash-failure blame) before an IP is banned; see BanList. */
  banThreshold: number;
  /** Limits for frames; bitfieldBytes comes from the transfer. */
  limits: Omit<FrameLimits, 'bitfieldBytes'>;
  /** Requests we let a peer queue with us, told in BEP 10 `reqq`. */
  reqq: number;
  emit(e: SwarmEvent): void;
  plugins: SwarmPlugins;
  /** The network speaks uTP: BEP 55 holepunches (uTP dials) can be made. */
  utp: boolean;
}

const MAX_PER_HOST = 8;
/** A peer is never turned over before it had this long, nor while it exchanged anything within the idle time. */
const TURNOVER_GRACE_MS = 10_000;
const TURNOVER_IDLE_MS = 10_000;
/** Connections of one peer opened within this of each other (one each way) count as opened at once. */
const SIMULTANEOUS_MS = 5_000;
/** How long a new IPv4 candidate waits for its peer's IPv6 address (RFC 8305's connection attempt delay). */
const IPV4_HOLD_MS = 250;
const IDLE_MS = 150_000;
/** Holepunch dials at once; a connection from an address we punch towards within this counts as holepunched. */
const MAX_PUNCHING = 8;
const PUNCH_MS = 15_000;
const KEEPALIVE_MS = 60_000;

export class Connections {
  readonly pool = new PeerPool();
  readonly peers = new Set<Peer>();
  readonly bans: BanList;
  /**
   * Dials that ended without a connection and are worth a user's attention (timed out, no route,
   * closed in the handshake, refused by our encryption policy), and those that only found a
   * stale address (nothing listens there any more: the peer left).
   */
  unreachable = 0;
  gone = 0;
  private readonly byId = new Map<string, Peer>();
  private readonly candidateOf = new Map<Peer, Candidate>();
  /** Outgoing attempts in flight (dialing or handshaking), each with the abort of its connecting. */
  private readonly dialing = new Map<Candidate, AbortController>();
  private handler?: PeerHandler;
  private stopped = false;
  /** Wakes connectMore when held-back IPv4 candidates become due. */
  private heldTimer?: NodeJS.Timeout;
  /** Addresses (host:port) we are holepunching towards, and when we started. */
  private readonly punching = new Map<string, number>();

  constructor(private readonly opts: ConnectionsOptions) {
    this.bans = new BanList(opts.banThreshold);
  }

  get transfer(): PeerHandler | undefined {
    return this.handler;
  }

  /** The metadata is known: the transfer takes over the peers' pieces (and hears what they said so far). */
  attach(handler: PeerHandler): void {
    this.handler = handler;
    for (const p of [...this.peers]) {
      p.wire.setBitfieldBytes(handler.bitfieldBytes);
      this.guard(p, () => handler.added(p, true));
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.heldTimer);
    for (const p of [...this.peers]) p.wire.close('shutting down');
  }

  /** The discovery sink: addresses from any source. Returns how many were new. */
  addPeers(addrs: PeerAddressHint[], source: PeerSource): number {
    if (this.refuses(source)) return 0;
    let added = 0;
    for (const a of addrs) {
      if (!isDialable(a.host) || a.port === 0 || this.bans.isBanned(a.host) || !this.dialable(a)) continue;
      const delayMs = this.holdBack(a);
      if (!this.pool.add([{ host: a.host, port: a.port }], source, { prefersEncryption: a.prefersEncryption === true, utp: a.utp === true, delayMs })) {
        if (a.utp) this.pool.speaksUtp(a); // a tracker gave it, a partner says it speaks uTP
        continue;
      }
      added++;
      if (delayMs > 0 && !this.heldTimer) {
        this.heldTimer = setTimeout(() => {
          this.heldTimer = undefined;
          this.connectMore();
        }, delayMs);
        this.heldTimer.unref();
      }
    }
    if (added > 0) this.connectMore();
    return added;
  }

  /** One peer known by several addresses (a host name with A and AAAA records): dialed Happy-Eyeballs style. */
  addPeerTargets(targets: DialTarget[], source: PeerSource): void {
    const ours = targets.filter((t) => this.dialable(t));
    if (ours.length > 0 && !this.refuses(source) && this.pool.add(ours, source)) this.connectMore();
  }

  /** Incoming peers may fill all slots but a reserve for our own dials while candidates wait to be tried. */
  private incomingRoom(): number {
    return this.candidatesWaiting() ? this.opts.maxPeers - Math.max(2, Math.floor(this.opts.maxPeers / 10)) : this.opts.maxPeers;
  }

  /** An address of a family we dial at all (an IPv6-only engine never gets IPv4 candidates). */
  private dialable(t: DialTarget): boolean {
    return this.opts.families[familyOf(t.host) ?? 4];
  }

  /**
   * Happy Eyeballs across candidates: an IPv4 address waits a moment when we speak IPv6, so the
   * IPv6 address of the same peer (a tracker's other reply, arriving a little later) is dialed
   * first and the IPv4 one is then recognised as the same peer.
   */
  private holdBack(t: DialTarget): number {
    return this.opts.families[6] && familyOf(t.host) === 4 ? IPV4_HOLD_MS : 0;
  }

  /** Forget the candidates one source gave (a PEX partner that litters). */
  dropFrom(from: string): number {
    return this.pool.dropWhere((c) => c.source.from === from);
  }

  /**
   * Our addresses of `family` changed (a tunnel came up): dial now the peers that failed, e.g. for
   * want of a route, and start over the dials of that family still trying to connect (their SYNs
   * went nowhere); dials past connecting are not touched (the signal is for connecting only).
   */
  redialFailed(family: Family): void {
    if (this.stopped) return;
    for (const [c, abort] of this.dialing) if (c.targets.some((t) => familyOf(t.host) === family)) abort.abort();
    this.pool.retryNow();
    this.connectMore();
  }

  /** A handshaken incoming connection that named this torrent. */
  accept(wire: PeerWire): boolean {
    if (this.admit(wire)) return false;
    // Its SYN crossed ours: the other half of a holepunch (both ends dial).
    this.add(wire, { kind: 'incoming' }, undefined, wire.transport.kind === 'utp' && this.punchedFrom(wire.remote));
    return true;
  }

  /**
   * BEP 55: dial `target` over uTP now (a relay, `relay`, told both of us to; the SYNs crossing
   * open both NATs). Undefined once started, else why not.
   */
  punch(target: DialTarget, relay: string, role: 'initiator' | 'target'): string | undefined {
    if (this.stopped) return 'the torrent is stopping';
    if (!this.opts.utp) return 'uTP is off';
    if (!this.dialable(target)) return `IPv${familyOf(target.host)} is off`;
    if (this.bans.isBanned(target.host)) return 'banned';
    const key = formatHostPort(target.host, target.port);
    const now = Date.now();
    for (const [k, at] of this.punching) if (now - at > PUNCH_MS) this.punching.delete(k);
    if (this.punching.has(key)) return 'already punching towards it';
    if (this.punching.size >= MAX_PUNCHING) return 'too many holepunches at once';
    if (this.isConnected(target)) return 'connected already';
    if (this.peers.size + this.dialing.size >= this.opts.maxPeers) return 'no room for another peer';
    this.punching.set(key, now);
    const source: PeerSource = { kind: 'pex', from: relay };
    this.opts.handshaker.connect([target], this.opts.infoHash, { families: this.opts.families, timeoutMs: PUNCH_MS, only: 'utp' }).then(
      (wire) => {
        const refused = this.admit(wire);
        if (refused) return wire.close(refused === 'duplicate' ? 'duplicate connection to the same peer' : 'not admitted');
        // The candidate a failed dial left (the initiator's), if it waits: it is this peer now.
        const c = this.pool.where((o) => o.state === 'idle' && o.targets.some((t) => t.host === target.host && t.port === target.port))[0];
        this.add(wire, c?.source ?? source, c, true);
      },
      (e: Error) => {
        // Its own dial reaching us is the holepunch working too: only a punch that left no connection failed.
        if (this.stopped || this.isConnected(target)) return;
        this.opts.emit({ event: 'holepunch', role, step: 'failed', peer: key, via: relay, reason: e.message });
      },
    );
    return undefined;
  }

  /** Whether a peer is connected at `t`: its connection's address, or where it listens. */
  isConnected(t: DialTarget): boolean {
    return this.connectedTo(t) || this.peerListensAt(t);
  }

  /** Whether a connected peer listens at `t`. */
  private peerListensAt(t: DialTarget): boolean {
    const key = listenKey(t.host, t.port);
    for (const p of this.peers) if (peerListenKey(p) === key) return true;
    return false;
  }

  /** Whether a connection from `remote` is one end of a holepunch of ours. */
  private punchedFrom(remote: DialTarget): boolean {
    const at = this.punching.get(formatHostPort(remote.host, remote.port));
    return at !== undefined && Date.now() - at <= PUNCH_MS;
  }

  /** Ban hosts (by hostKey) and close their connections. */
  ban(keys: string[], reason: string): void {
    for (const key of keys) {
      this.opts.emit({ event: 'peer-banned', ip: key });
      this.pool.dropWhere((c) => c.targets.some((t) => hostKey(t.host) === key));
      for (const p of [...this.peers]) if (hostKey(p.ip) === key) p.wire.close(reason);
    }
  }

  tick(now: number): void {
    for (const p of [...this.peers]) {
      if (now - p.wire.lastReceived > IDLE_MS) {
        p.wire.close(`idle for ${IDLE_MS / 1000} s`);
        continue;
      }
      if (now - p.wire.lastSent > KEEPALIVE_MS) p.wire.send.keepAlive();
      this.guard(p, () => p.extensions.tick(now));
    }
    this.handler?.tick(now);
    // Full, with untried candidates waiting: one peer that has given nothing for long makes room.
    if (this.peers.size + this.dialing.size >= this.opts.maxPeers && this.candidatesWaiting()) this.turnOver(now, 'to try another peer');
    this.connectMore();
  }

  /**
   * Candidates to dial now, at most `max`. One that is a connected peer waits while it is
   * connected: known by the peer id it gave with an address of its own (BEP 10) or learned when a
   * dial reached it twice, or by the address it listens on (all of loopback counting as one host:
   * the other family's loopback address of a local peer is that peer). One whose listening
   * address is being dialed already waits for that dial: two dials to one peer race, and its two
   * ends may each keep a different one of the two connections.
   */
  private readyCandidates(max: number): Candidate[] {
    return this.pool.ready(Date.now(), max, this.connectedPeerCheck());
  }

  /** Whether some candidate waits to be dialed now (see readyCandidates). */
  private candidatesWaiting(): boolean {
    return this.pool.anyReady(Date.now(), this.connectedPeerCheck());
  }

  private connectedPeerCheck(): (c: Candidate) => boolean {
    const listening = new Set<string>();
    for (const p of this.peers) {
      const key = peerListenKey(p);
      if (key) listening.add(key);
    }
    for (const d of this.dialing.keys()) for (const t of d.targets) listening.add(listenKey(t.host, t.port));
    return (c) => (c.peerId !== undefined && this.byId.has(c.peerId)) || c.targets.some((t) => listening.has(listenKey(t.host, t.port)));
  }

  /**
   * Close the peer that has been useless longest (connected past its grace, no payload either way
   * or metadata for a while), if there is one: keep-alive-only peers must not hold the slots an
   * honest peer needs. Returns whether one went.
   */
  private turnOver(now: number, why: string): boolean {
    let worst: Peer | undefined;
    for (const p of this.peers) {
      if (now - p.connectedAt < TURNOVER_GRACE_MS || now - p.lastUsefulAt < TURNOVER_IDLE_MS) continue;
      if (!worst || p.lastUsefulAt < worst.lastUsefulAt) worst = p;
    }
    if (!worst) return false;
    worst.wire.close(`turned over: nothing exchanged for ${Math.round((now - worst.lastUsefulAt) / 1000)} s, slot given ${why}`);
    return true;
  }

  connectMore(): void {
    if (this.stopped) return;
    const room = this.opts.maxPeers - this.peers.size - this.dialing.size;
    const slots = Math.min(room, this.opts.maxConnecting - this.dialing.size);
    if (slots <= 0) return;
    for (const c of this.readyCandidates(slots)) {
      if (c.targets.some((t) => this.connectedTo(t))) {
        c.state = 'connected';
        continue;
      }
      c.state = 'connecting';
      const abort = new AbortController();
      this.dialing.set(c, abort);
      // A peer said to speak uTP is tried over it first (a network speaking both races them).
      const dialOpts = { families: this.opts.families, timeoutMs: 10_000, signal: abort.signal, ...(c.utp ? { prefer: 'utp' as const } : {}) };
      // A hybrid is dialed by its v1 hash with the offer to upgrade, unless the peer was found under its v2 hash.
      const v2Hash = this.opts.v2Hash();
      const infoHash = c.source.v2 && v2Hash ? v2Hash : this.opts.infoHash;
      this.opts.handshaker.connect(c.targets, infoHash, dialOpts, { prefersEncryption: c.prefersEncryption }, v2Hash ? { v2Hash } : {}).then(
        (wire) => this.onConnected(c, wire),
        (e: Error) => this.onDialFailed(c, e),
      );
    }
  }

  /** A BEP 10 handshake to one peer, or to every peer when our extensions changed (the torrent turned private). */
  sendExtensionHandshake(peer?: Peer): void {
    if (!peer) {
      for (const p of this.peers) if (p.wire.handshake!.extended) this.sendExtensionHandshake(p);
      return;
    }
    const own = this.opts.ownAddresses();
    // Tell the peer our address in the family it did not reach us on, so it can reach us both ways.
    const fam = this.opts.families;
    const other = peer.family === 4 ? { ipv6: fam[6] ? own[6] : undefined } : { ipv4: fam[4] ? own[4] : undefined };
    peer.wire.send.extended(
      0,
      encodeExtensionHandshake({
        extensions: this.opts.extensions.m(),
        port: this.opts.ports.advertised(peer.family) || undefined,
        client: this.opts.clientName,
        reqq: this.opts.reqq,
        yourIp: peer.wire.remote.host,
        ...other,
        extra: this.opts.extensions.handshakeKeys(),
      }),
    );
  }

  private refuses(source: PeerSource): boolean {
    return this.stopped || (this.opts.extensions.private && DISCOVERY_SOURCES.has(source.kind));
  }

  private connectedTo(t: DialTarget): boolean {
    for (const p of this.peers) if (p.wire.remote.host === t.host && p.wire.remote.port === t.port) return true;
    return false;
  }

  private onConnected(c: Candidate, wire: PeerWire): void {
    this.dialing.delete(c);
    const refused = this.admit(wire);
    if (refused) {
      wire.close(refused === 'duplicate' ? 'duplicate connection to the same peer' : 'not admitted');
      // Another address of a peer we have: never dialed while that connection lives (no churn).
      if (refused === 'duplicate') this.alias(c, wire.handshake!.peerId.toString('hex'));
      else if (c.state === 'connecting') this.pool.failed(c, Date.now());
      return;
    }
    this.add(wire, c.source, c, wire.transport.kind === 'utp' && this.punchedFrom(wire.remote));
  }

  /** `c` turned out to be another way to the connected peer `peerId`. */
  private alias(c: Candidate, peerId: string): void {
    c.peerId = peerId;
    this.pool.disconnected(c, Date.now());
  }

  private onDialFailed(c: Candidate, e: Error): void {
    this.dialing.delete(c);
    if (e instanceof HandshakeFailure && e.self) {
      c.state = 'self';
      return;
    }
    if (this.stopped) return this.pool.failed(c, Date.now());
    // Hung up on at once by a host we are connected to: it allows one connection per address
    // (Transmission, rtorrent), and it is most likely the same peer.
    const sibling = e instanceof HandshakeFailure && e.kind === 'hung-up' ? [...this.peers].find((p) => c.targets.some((t) => hostKey(t.host) === hostKey(p.ip))) : undefined;
    if (sibling) return this.alias(c, sibling.id.toString('hex'));
    // Given up while connecting because our connectivity changed (see redialFailed): not the peer's failure.
    if (e instanceof ConnectAborted) {
      this.pool.restart(c);
      queueMicrotask(() => this.connectMore());
      return;
    }
    this.pool.failed(c, Date.now());
    // Nothing listens there (the peer left since a tracker or partner heard of it): a stale address, not a problem.
    const gone = c.source.kind !== 'manual' && /ECONNREFUSED/.test(e.message);
    if (gone) this.gone++;
    else this.unreachable++;
    this.opts.emit({ event: 'peer-unreachable', address: c.key, source: c.source.kind, reason: e.message, ...(gone ? { gone } : {}) });
    this.opts.plugins.call('dialFailed', { targets: c.targets, source: c.source, reason: e.message });
  }

  /** Whether a handshaken connection may join (undefined) or why not; resolves duplicates of one peer across families. */
  private admit(wire: PeerWire): 'stopped' | 'banned' | 'full' | 'host-cap' | 'duplicate' | undefined {
    if (this.stopped) return 'stopped';
    const h = wire.handshake!;
    if (this.bans.isBanned(wire.remote.host)) return 'banned';
    if (!wire.outgoing && this.peers.size >= this.incomingRoom()) {
      // A newcomer gets the slot of the peer useless longest, if one is; a reserve stays for our own dials.
      if (!this.turnOver(Date.now(), 'to a peer that connected')) return 'full';
    }
    // One host (an IPv4 address, an IPv6 /64) may not take over the swarm with many connections.
    // Loopback is exempt: tests and local tools put many peers on one address.
    const net = hostNetwork(wire.remote.host);
    if (net) {
      let sameHost = 0;
      for (const p of this.peers) if (hostNetwork(p.ip) === net) sameHost++;
      if (sameHost >= MAX_PER_HOST) return 'host-cap';
    }
    const existing = this.byId.get(h.peerId.toString('hex'));
    if (existing) {
      // A working connection stays: a second one to the same peer (its other address, a redial) is refused.
      if (Date.now() - existing.connectedAt > SIMULTANEOUS_MS) return 'duplicate';
      if (existing.wire.outgoing === wire.outgoing) {
        // Two dials of one side, one over each family, at once: the two ends may finish their
        // handshakes in different orders, so "the first stays" could keep a different one at each
        // end and lose both. Both ends keep the IPv6 one.
        if (!(wire.remote.family === 6 && existing.family === 4)) return 'duplicate';
        // Its address is another way to this peer: not dialed again while this one lives.
        const other = this.candidateOf.get(existing);
        if (other) other.peerId = h.peerId.toString('hex');
        existing.wire.close('duplicate connection to the same peer (kept the one over IPv6)');
        return undefined;
      }
      // Two connections opened at once, one each way: both ends keep the one opened by the side with
      // the smaller peer id, so they never both get dropped.
      const initiator = (outgoing: boolean) => (outgoing ? this.opts.peerId : h.peerId);
      if (Buffer.compare(initiator(wire.outgoing), initiator(existing.wire.outgoing)) >= 0) return 'duplicate';
      existing.wire.close('duplicate connection to the same peer');
    }
    return undefined;
  }

  private add(wire: PeerWire, source: PeerSource, candidate: Candidate | undefined, holepunched: boolean): void {
    const peer = new Peer(wire, source, candidate?.utp ?? false, holepunched);
    this.peers.add(peer);
    this.byId.set(peer.id.toString('hex'), peer);
    if (candidate) {
      this.pool.connected(candidate);
      this.candidateOf.set(peer, candidate);
    }
    peer.extensions = this.opts.extensions.forPeer(
      {
        remote: wire.remote,
        peerId: peer.id,
        outgoing: wire.outgoing,
        transport: wire.transport.kind,
        get ext() {
          return peer.ext;
        },
        close: (reason) => wire.close(reason),
        useful: () => void (peer.lastUsefulAt = Date.now()),
      },
      (id, payload) => wire.send.extended(id, payload),
    );
    wire.attach({
      onHandshake: () => true,
      onMessage: (m) => this.onMessage(peer, m),
      onDrain: () => this.handler?.drained(peer),
      onClose: (reason) => this.remove(peer, reason),
    });
    if (wire.handshake!.extended) this.sendExtensionHandshake(peer);
    if (this.handler) this.handler.added(peer, false);
    else if (peer.fast) wire.send.haveNone(); // nothing to offer until the metadata arrives
    this.opts.emit({ event: 'peer-connected', address: peer.label, family: peer.family, client: peer.client(), direction: peer.direction, source: source.kind, encrypted: wire.encrypted, transport: wire.transport.kind, ...(peer.v2 ? { v2: true as const } : {}), ...(holepunched ? { holepunched } : {}) });
    this.opts.plugins.call('peerAdded', refOf(peer));
    // Last: what the peer sent after its handshake is read now, by the handlers above, after our greeting went out.
    wire.startMessages({ bitfieldBytes: this.handler?.bitfieldBytes ?? 0, ...this.opts.limits });
  }

  private remove(peer: Peer, reason: string): void {
    if (!this.peers.delete(peer)) return;
    const idHex = peer.id.toString('hex');
    if (this.byId.get(idHex) === peer) this.byId.delete(idHex);
    peer.extensions.close();
    // Asked before the transfer lets go of the peer, which forgets whether it was a seed.
    const useless = this.handler?.useless(peer) ?? false;
    this.handler?.removed(peer);
    const c = this.candidateOf.get(peer);
    this.candidateOf.delete(peer);
    if (!this.bans.isBanned(peer.ip)) {
      // Its addresses in the other family wait as the one it used does: not redialed at once. They
      // are known by its peer id, or by where it listens (a local peer's other loopback address).
      const listening = peerListenKey(peer);
      const others = this.pool.where(
        (o) => o !== c && o.state === 'idle' && (o.peerId === idHex || (listening !== undefined && o.targets.some((t) => listenKey(t.host, t.port) === listening))),
      );
      for (const o of c && c.state !== 'self' ? [c, ...others] : others) {
        // A seed has nothing for us once we are complete: do not knock on its door every few seconds.
        if (useless) this.pool.park(o, Date.now());
        else this.pool.disconnected(o, Date.now());
      }
    }
    this.opts.emit({ event: 'peer-disconnected', address: peer.label, family: peer.family, reason });
    this.opts.plugins.call('peerRemoved', refOf(peer), reason);
    if (!this.stopped) this.connectMore();
  }

  private onMessage(peer: Peer, m: Message): void {
    if (m.type === 'piece') peer.lastUsefulAt = Date.now();
    switch (m.type) {
      case 'keep-alive':
      case 'port':
        return;
      case 'extended':
        return this.onExtended(peer, m.id, m.payload);
    }
    if (this.handler) return this.handler.message(peer, m);
    this.remember(peer, m);
  }

  private onExtended(peer: Peer, id: number, payload: Buffer): void {
    if (id !== 0) return peer.extensions.onMessage(id, payload);
    const h = parseExtensionHandshake(payload);
    peer.ext = h;
    peer.extensions.onHandshake(h);
    this.learnOtherFamily(peer, h);
  }

  /**
   * BEP 10 `ipv4`/`ipv6`: the peer's address in the family it did not reach us over is another
   * way to it, kept as a candidate tagged with its peer id, so it is never dialed while the peer is
   * connected (one connection per peer) and is there if this connection ends.
   */
  private learnOtherFamily(peer: Peer, h: ExtensionHandshake): void {
    const host = peer.family === 6 ? h.ipv4 : h.ipv6;
    // It listens on `p`; without it, the port we dialed is the best guess (BEP 10: the same on both families).
    const port = h.port ?? (peer.wire.outgoing ? peer.wire.remote.port : undefined);
    if (!host || !port || !this.opts.families[peer.family === 6 ? 4 : 6]) return;
    // An address of ours: the peer runs on this host, and the connection it has is the way to it.
    if (!isExchangeable(host, false) || this.bans.isBanned(host) || ownAddressCheck(this.opts.ownAddresses())(host)) return;
    if (this.pool.add([{ host, port }], { kind: 'ltep', from: peer.label }, { prefersEncryption: peer.prefersEncryption, utp: peer.speaksUtp, peerId: peer.id.toString('hex') })) this.connectMore();
  }

  /** Before the metadata: keep what the transfer will need to know, refuse what cannot be right yet. */
  private remember(peer: Peer, m: Message): void {
    const e = peer.early;
    switch (m.type) {
      case 'choke':
      case 'unchoke':
        e.peerChoking = m.type === 'choke';
        return;
      case 'interested':
      case 'not-interested':
        e.peerInterested = m.type === 'interested';
        return;
      case 'bitfield':
      case 'have-all':
      case 'have-none':
        if (m.type !== 'bitfield' && !peer.fast) throw new ProtocolError(`${m.type} without the fast extension`);
        e.pieces = m;
        e.haves = [];
        return;
      case 'have':
        if (e.haves.length >= MAX_EARLY_HAVES) throw new ProtocolError(`more than ${MAX_EARLY_HAVES} have messages before we knew the torrent`);
        e.haves.push(m.index);
        return;
      case 'request':
        throw new ProtocolError('request before we announced any piece');
      case 'hash-request':
        // BEP 52: answered, always; without the metadata there is no tree to answer from.
        return peer.wire.send.hashReject(m);
      case 'piece':
        throw new ProtocolError('a block we never requested');
      default:
        return; // cancel, reject, suggest, allowed-fast: nothing to act on yet
    }
  }

  /** Runs a handler for one peer; a protocol error closes that peer, as it would inside the wire. */
  private guard(peer: Peer, f: () => void): void {
    try {
      f();
    } catch (e) {
      peer.wire.close(e instanceof ProtocolError ? `protocol error: ${e.message}` : `error: ${(e as Error).message}`);
    }
  }
}

function refOf(p: Peer): PeerRef {
  return { id: p.id.toString('hex'), label: p.label, host: p.ip, family: p.family, direction: p.direction, source: p.source };
}

/** Where a connected peer listens (BEP 10 `p`, or the address we dialed), as a listenKey. */
function peerListenKey(p: Peer): string | undefined {
  const port = p.ext?.port ?? (p.wire.outgoing ? p.wire.remote.port : undefined);
  return port ? listenKey(p.ip, port) : undefined;
}

/** host:port of where a peer listens, all of loopback counting as one host (a local peer's other family). */
function listenKey(host: string, port: number): string {
  return `${classify(host)?.kind === 'loopback' ? 'loopback' : host}|${port}`;
}
