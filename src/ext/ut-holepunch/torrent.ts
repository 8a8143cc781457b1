/**
 * BEP 55 holepunching for one torrent, in its three roles:
 * - relay: a peer asks us (rendezvous) to introduce it to another of our peers; if that one is
 *   connected and speaks ut_holepunch, both get a `connect` naming the other, else the asker
 *   gets the BEP's error;
 * - target: a relay tells us (connect) to reach a peer: we dial it over uTP at once, while it
 *   dials us, and the crossing SYNs open both NATs;
 * - initiator: a dial to a peer that some partner told us about (PEX) failed: we ask that partner
 *   to relay a rendezvous, then dial as the target does when its `connect` comes.
 * Nobody can make us flood a third party, or busy: rendezvous are rate-limited per asker (all of
 * them, before anything is looked up; then those relayed) and the connects
 * we forward per asker and target, and per target, connects we act on per relay and per address named, and an address is
 * dialed only if a partner of that relay's scope could have named it in PEX.
 */
import { hostKey, isDialable, isExchangeable } from '../../net/address.js';
import type { PeerAddress } from '../../net/compact.js';
import { formatHostPort } from '../../net/hostport.js';
import { SourceLimiter } from '../../net/source-limiter.js';
import type { ExtensionPeer } from '../../wire/extensions.js';
import { partnerScope } from '../ut-pex/codec.js';
import { ERROR_TEXT, type HolepunchError, type HolepunchMessage } from './codec.js';

/**
 * Rendezvous one asker may send us at all, whatever becomes of them: checked before any work, so
 * a flood costs a lookup per message, not a search of our peers. Room for libtorrent's asking
 * about itself every few seconds beside its real rendezvous.
 */
export const MESSAGES_PER_ASKER = { burst: 40, perMinute: 60 } as const;
/** Rendezvous one asker may have relayed: a burst, then this many a minute (one per dial that failed it). */
export const RENDEZVOUS_PER_ASKER = { burst: 10, perMinute: 6 } as const;
/**
 * Errors one asker may be answered with, apart: libtorrent 2.0.8 asks about itself every few
 * seconds, which must not use up what its real rendezvous need. Only the asker hears them.
 */
export const ERRORS_PER_ASKER = { burst: 20, perMinute: 30 } as const;
/**
 * Connects we forward to one target host for one asker host, and (looser) from all askers
 * together: one asker flooding a target uses up only its own share, never the others' way to it;
 * the overall cap bounds what a relay can be made to send one host.
 */
export const CONNECTS_PER_PAIR = { burst: 3, perMinute: 2 } as const;
export const CONNECTS_PER_TARGET = { burst: 30, perMinute: 20 } as const;
/** Unsolicited connects we act on from one relay, and dials to one host named in connects (all relays together). */
export const CONNECTS_PER_RELAY = { burst: 10, perMinute: 6 } as const;
export const DIALS_PER_HOST = { burst: 3, perMinute: 2 } as const;
/** Our own rendezvous: one target is asked about at most this often. */
export const RENDEZVOUS_RETRY_MS = 60_000;
/** A rendezvous of ours is answered (connect or error) within this, or forgotten. */
export const PENDING_MS = 30_000;
/** Sources remembered by each limiter, and our pending rendezvous at once. */
const MAX_SOURCES = 4096;
const MAX_PENDING = 256;

/** What holepunching needs of the swarm. */
export interface HolepunchSwarm {
  /** Whether a peer is connected at this address (the connection's, or where the peer listens). */
  connected(ep: PeerAddress): boolean;
  /** Whether the address is one of ours. */
  isSelf(host: string, port: number): boolean;
  /**
   * Dial `ep` over uTP now, as a holepunch introduced by `relay` (host:port); undefined once
   * started, else why not (no uTP, connected already, full, banned, ...).
   */
  punch(ep: PeerAddress, relay: string, role: 'initiator' | 'target'): string | undefined;
  /** A step of a holepunch, for the user (see SwarmEvent `holepunch`). */
  event(e: HolepunchStep): void;
}

export interface HolepunchStep {
  role: 'initiator' | 'relay' | 'target';
  step: 'asked' | 'relayed' | 'dialing' | 'failed';
  /** host:port of the peer to be reached. */
  peer: string;
  /** host:port of the relay (the asker, for the relay's own steps). */
  via: string;
  reason?: string;
}

/** One partner that speaks ut_holepunch, as the torrent knows it. */
export interface HolepunchPartner {
  readonly peer: ExtensionPeer;
  readonly label: string;
  send(m: HolepunchMessage): boolean;
}

export interface HolepunchSummary {
  /** Connected peers that speak ut_holepunch with us. */
  partners: number;
  /** Relay: rendezvous heard, connect pairs sent, errors answered, rendezvous dropped over a limit. */
  rendezvousIn: number;
  relayed: number;
  errorsSent: number;
  relayLimited: number;
  /** Initiator: rendezvous we sent, errors relays answered us with (by code). */
  rendezvousOut: number;
  errorsIn: Partial<Record<HolepunchError, number>>;
  /** Target and initiator: connects heard, uTP dials started, connects refused (limit, address, state). */
  connectsIn: number;
  punches: number;
  connectsRefused: number;
}

interface Pending {
  relay: HolepunchPartner;
  at: number;
}

export class HolepunchTorrent {
  private readonly partners = new Set<HolepunchPartner>();
  private readonly incoming: SourceLimiter;
  private readonly askers: SourceLimiter;
  private readonly answered: SourceLimiter;
  private readonly pairs: SourceLimiter;
  private readonly targets: SourceLimiter;
  private readonly relays: SourceLimiter;
  private readonly dialed: SourceLimiter;
  /** Our rendezvous waiting for an answer, by the target's host:port. */
  private readonly pending = new Map<string, Pending>();
  /** When we last asked about a target (host:port). */
  private readonly asked = new Map<string, number>();
  private readonly counts: HolepunchSummary = {
    partners: 0,
    rendezvousIn: 0,
    relayed: 0,
    errorsSent: 0,
    relayLimited: 0,
    rendezvousOut: 0,
    errorsIn: {},
    connectsIn: 0,
    punches: 0,
    connectsRefused: 0,
  };

  constructor(
    readonly swarm: HolepunchSwarm,
    private readonly clock: () => number = Date.now,
  ) {
    const limiter = (l: { burst: number; perMinute: number }) => new SourceLimiter(l.perMinute / 60, l.burst, MAX_SOURCES, clock);
    this.incoming = limiter(MESSAGES_PER_ASKER);
    this.askers = limiter(RENDEZVOUS_PER_ASKER);
    this.answered = limiter(ERRORS_PER_ASKER);
    this.pairs = limiter(CONNECTS_PER_PAIR);
    this.targets = limiter(CONNECTS_PER_TARGET);
    this.relays = limiter(CONNECTS_PER_RELAY);
    this.dialed = limiter(DIALS_PER_HOST);
  }

  join(p: HolepunchPartner): void {
    this.partners.add(p);
  }

  leave(p: HolepunchPartner): void {
    this.partners.delete(p);
    for (const [k, v] of this.pending) if (v.relay === p) this.pending.delete(k);
  }

  summary(): HolepunchSummary {
    return { ...this.counts, partners: this.partners.size, errorsIn: { ...this.counts.errorsIn } };
  }

  /** A message from a partner. */
  onMessage(from: HolepunchPartner, m: HolepunchMessage): void {
    if (m.type === 'rendezvous') return this.relay(from, m.peer);
    if (m.type === 'connect') return this.connect(from, m.peer);
    const key = formatHostPort(m.peer.host, m.peer.port);
    const mine = this.pending.get(key);
    if (mine?.relay !== from) return; // an answer to nothing we asked this partner: ignored
    this.pending.delete(key);
    this.counts.errorsIn[m.error] = (this.counts.errorsIn[m.error] ?? 0) + 1;
    this.swarm.event({ role: 'initiator', step: 'failed', peer: key, via: from.label, reason: ERROR_TEXT[m.error] });
  }

  /**
   * Initiator: our dial to `ep`, which `introducer` (host:port of a partner) told us about, gave
   * no connection. Ask that partner to introduce us, if it speaks ut_holepunch and we did not ask
   * about `ep` lately. Returns whether a rendezvous went out.
   */
  dialFailed(ep: PeerAddress, introducer: string): boolean {
    const now = this.clock();
    const key = formatHostPort(ep.host, ep.port);
    const relay = [...this.partners].find((p) => p.label === introducer);
    if (!relay || now - (this.asked.get(key) ?? -Infinity) < RENDEZVOUS_RETRY_MS) return false;
    this.expire(now);
    if (this.pending.size >= MAX_PENDING) return false;
    if (!relay.send({ type: 'rendezvous', peer: ep })) return false;
    if (this.asked.size >= MAX_SOURCES) this.asked.delete(this.asked.keys().next().value!);
    this.asked.set(key, now);
    this.pending.set(key, { relay, at: now });
    this.counts.rendezvousOut++;
    this.swarm.event({ role: 'initiator', step: 'asked', peer: key, via: relay.label });
    return true;
  }

  /** Relay: `from` asks to be introduced to `ep`. */
  private relay(from: HolepunchPartner, ep: PeerAddress): void {
    this.counts.rendezvousIn++;
    const asker = hostKey(from.peer.remote.host);
    if (!this.incoming.allow(asker)) return void this.counts.relayLimited++;
    // Errors are only counted, not reported: libtorrent asking about itself is no news to the user.
    const fail = (error: HolepunchError) => {
      if (!this.answered.allow(asker)) return void this.counts.relayLimited++;
      this.counts.errorsSent++;
      from.send({ type: 'error', peer: ep, error });
    };
    if (ep.port === 0 || !isDialable(ep.host)) return fail('noSuchPeer');
    if (this.swarm.isSelf(ep.host, ep.port) || at(from, ep)) return fail('noSelf');
    const target = [...this.partners].find((p) => p !== from && at(p, ep));
    if (!target) return fail(this.swarm.connected(ep) ? 'noSupport' : 'notConnected');
    const to = hostKey(target.peer.remote.host);
    if (!this.pairs.allow(`${asker}>${to}`) || !this.askers.allow(asker) || !this.targets.allow(to)) {
      this.counts.relayLimited++;
      return;
    }
    // Each is told where the other can be reached: the asker where it asked, the target at the asker's address.
    target.send({ type: 'connect', peer: reachableAt(from.peer) });
    from.send({ type: 'connect', peer: ep });
    this.counts.relayed++;
    this.swarm.event({ role: 'relay', step: 'relayed', peer: formatHostPort(ep.host, ep.port), via: from.label });
  }

  /** Target (or initiator, answered): `from` tells us to dial `ep` now. */
  private connect(from: HolepunchPartner, ep: PeerAddress): void {
    this.counts.connectsIn++;
    const now = this.clock();
    this.expire(now);
    const key = formatHostPort(ep.host, ep.port);
    const asked = this.pending.get(key)?.relay === from;
    if (asked) this.pending.delete(key);
    const refuse = () => void this.counts.connectsRefused++;
    // An address its relay could not have named to us in PEX: a stranger must not aim our dials at our LAN.
    const scope = partnerScope(from.peer.remote.host);
    const kind = partnerScope(ep.host);
    if (ep.port === 0 || !isExchangeable(ep.host, scope === 'loopback') || (kind !== 'global' && scope === 'global') || this.swarm.isSelf(ep.host, ep.port)) return refuse();
    if (!asked && !this.relays.allow(hostKey(from.peer.remote.host))) return refuse();
    if (!this.dialed.allow(hostKey(ep.host))) return refuse();
    const role = asked ? 'initiator' : 'target';
    const why = this.swarm.punch(ep, from.label, role);
    if (why !== undefined) {
      refuse();
      // Already connected is the common, harmless case (both ends asked at once).
      if (why !== 'connected already') this.swarm.event({ role, step: 'failed', peer: key, via: from.label, reason: why });
      return;
    }
    this.counts.punches++;
    this.swarm.event({ role, step: 'dialing', peer: key, via: from.label });
  }

  private expire(now: number): void {
    for (const [k, v] of this.pending) if (now - v.at > PENDING_MS) this.pending.delete(k);
  }
}

/** Whether partner `p` is the peer at `ep`: its connection's address, or where it listens (BEP 10 `p`). */
function at(p: HolepunchPartner, ep: PeerAddress): boolean {
  const r = p.peer.remote;
  return r.host === ep.host && (r.port === ep.port || p.peer.ext?.port === ep.port);
}

/**
 * Where another peer can reach `peer`: the address of our connection if we dialed it there or it
 * came over uTP (from its listening UDP socket, as its NAT maps it), else the host it came from at
 * the port it listens on (a TCP connection it opened leaves from a port nothing listens on).
 */
export function reachableAt(peer: ExtensionPeer): PeerAddress {
  const r = peer.remote;
  return peer.outgoing || peer.transport === 'utp' || !peer.ext?.port ? r : { ...r, port: peer.ext.port };
}
