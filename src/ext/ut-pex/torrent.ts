/**
 * PEX state of one torrent: the peer set we tell partners about (live, handshaken peers whose
 * listening port we know, with their flags), the sink for what partners tell us, and the counts
 * per partner that show which one litters.
 */
import { isExchangeable, type Family } from '../../net/address.js';
import type { PeerAddressHint, PeerSource } from '../../swarm/peer-pool.js';
import { partnerScope, PEX_FLAGS, type FilterReason, type PartnerScope, type PexPeer } from './codec.js';

/** What the swarm knows about one connected peer. */
export interface SwarmPeerFacts {
  /** Peer id, hex. */
  id: string;
  host: string;
  family: Family;
  /** The port of the connection (the one we dialed, or the one it came from). */
  remotePort: number;
  /** Its listening port from BEP 10 `p`, if it told us. */
  listenPort?: number;
  outgoing: boolean;
  seed: boolean;
  /** It speaks MSE (flag 0x01). */
  prefersEncryption: boolean;
  /** It speaks ut_holepunch (flag 0x08): a partner may ask us to introduce it. */
  holepunch: boolean;
  /** It speaks uTP (flag 0x04): we are connected over it, or its source said so. */
  utp: boolean;
}

/** The swarm as PEX uses it. */
export interface PexSwarm {
  /** The handshaken peers, now. */
  peers(): Iterable<SwarmPeerFacts>;
  addPeers(addrs: PeerAddressHint[], source: PeerSource): number;
  /** Forget the candidates that came from this source (`from`). */
  dropFrom(from: string): number;
  /** A self test for one batch of addresses. */
  selfCheck(): (host: string, port: number) => boolean;
  warn(message: string): void;
}

/** One peer of our set, as a PEX entry. */
export interface PexEntry extends PexPeer {
  /** host|port of its listening address. */
  key: string;
  /** Peer id, hex: a partner is never told about itself. */
  id: string;
  /** The scope its address belongs to: only a partner of that scope or nearer hears of it. */
  scope: PartnerScope;
}

export interface PartnerCounts {
  /** Messages accepted. */
  messages: number;
  /** Messages that came too soon after the previous one, ignored whole. */
  ignored: number;
  /** Entries handed to the swarm as candidates. */
  taken: number;
  /** Entries refused, by reason. */
  filtered: number;
  reasons: Partial<Record<FilterReason, number>>;
  /** Valid entries over a cap, and entries past what one message may make us read. */
  capped: number;
  /** It sent more unusable addresses than usable ones: its candidates were dropped, its messages are ignored. */
  littering: boolean;
}

export interface PexSummary {
  /** Connected peers that speak ut_pex with us. */
  partners: number;
  messagesIn: number;
  messagesOut: number;
  taken: number;
  filtered: number;
  capped: number;
  ignored: number;
  /** Partners (host:port) whose PEX we stopped listening to. */
  littering: string[];
}

export interface Partner {
  readonly label: string;
  readonly counts: PartnerCounts;
}

const MAX_LITTERERS_SHOWN = 20;

export function emptyCounts(): PartnerCounts {
  return { messages: 0, ignored: 0, taken: 0, filtered: 0, reasons: {}, capped: 0, littering: false };
}

export class PexTorrent {
  /** Connected partners, each with its label (host:port) and what it sent. */
  private readonly partners = new Set<Partner>();
  /** Counts of partners that are gone. */
  private readonly past = { ...emptyCounts(), littering: [] as string[] };
  messagesOut = 0;
  private cache?: { at: number; set: ReadonlyMap<string, PexEntry> };

  constructor(readonly swarm: PexSwarm) {}

  /** Our peer set; computed once per `now` (every connection ticks with the same one). */
  current(now: number): ReadonlyMap<string, PexEntry> {
    if (this.cache?.at === now) return this.cache.set;
    const set = new Map<string, PexEntry>();
    for (const p of this.swarm.peers()) {
      // An incoming peer's port is not where it listens; without BEP 10 `p` we cannot pass it on.
      const port = p.outgoing ? p.remotePort : p.listenPort;
      // What a partner would refuse is not sent (a link-local peer's scope means nothing elsewhere).
      if (!port || !isExchangeable(p.host, true)) continue;
      const reachable = p.outgoing || p.remotePort === p.listenPort;
      const flags =
        (p.seed ? PEX_FLAGS.seed : 0) |
        (p.prefersEncryption ? PEX_FLAGS.encryption : 0) |
        (reachable ? PEX_FLAGS.reachable : 0) |
        (p.utp ? PEX_FLAGS.utp : 0) |
        (p.holepunch ? PEX_FLAGS.holepunch : 0);
      const key = `${p.host}|${port}`;
      set.set(key, { key, id: p.id, host: p.host, port, family: p.family, flags, scope: partnerScope(p.host) });
    }
    this.cache = { at: now, set };
    return set;
  }

  join(label: string): Partner {
    const p = { label, counts: emptyCounts() };
    this.partners.add(p);
    return p;
  }

  leave(p: Partner): void {
    if (!this.partners.delete(p)) return;
    const c = p.counts;
    for (const k of ['messages', 'ignored', 'taken', 'filtered', 'capped'] as const) this.past[k] += c[k];
    // Remembered for the summary, the latest few.
    if (c.littering) this.past.littering = [...this.past.littering, p.label].slice(-MAX_LITTERERS_SHOWN);
  }

  /** What the connected partner at `label` sent so far (a copy), if it is one. */
  countsOf(label: string): PartnerCounts | undefined {
    for (const { label: l, counts: c } of this.partners) if (l === label) return { ...c, reasons: { ...c.reasons } };
    return undefined;
  }

  summary(): PexSummary {
    const s: PexSummary = {
      partners: this.partners.size,
      messagesIn: this.past.messages,
      messagesOut: this.messagesOut,
      taken: this.past.taken,
      filtered: this.past.filtered,
      capped: this.past.capped,
      ignored: this.past.ignored,
      littering: [...this.past.littering],
    };
    for (const { label, counts: c } of this.partners) {
      s.messagesIn += c.messages;
      s.taken += c.taken;
      s.filtered += c.filtered;
      s.capped += c.capped;
      s.ignored += c.ignored;
      if (c.littering) s.littering.push(label);
    }
    return s;
  }
}
