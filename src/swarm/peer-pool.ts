/**
 * Addresses we could connect to for one torrent (from --peer, trackers, PEX, the DHT, LSD, ...), with
 * their dialing state and a backoff for addresses that failed, so a dead peer is not hammered.
 * Each remembers where it was learned, for the user and for blame.
 *
 * Sources anyone can feed (a PEX partner, a DHT node, a host on the LAN) cannot fill the pool or aim our dials: each
 * source kind has a quota (a flood of one kind only evicts its own), one partner's entries are
 * capped, so are the addresses they give at one host (all ports together; from LSD also per
 * IPv6 /64), and dials to one host
 * they named are spaced, with a backoff that outlives the candidates (a partner cannot reset it by
 * sending the same addresses again). What the user named (--peer, the magnet's x.pe) is never
 * evicted.
 */
import { canonicalIp, hostKey } from '../net/address.js';
import { formatHostPort } from '../net/hostport.js';
import type { DialTarget } from '../transport/network.js';

/**
 * Where a peer address came from. `ltep`: a connected peer's BEP 10 `ipv4`/`ipv6` (its other
 * family); `magnet`: a magnet link's `x.pe`; `lsd`: a host on the LAN announced it (BEP 14);
 * `incoming`: it connected to us.
 */
export type PeerSourceKind = 'manual' | 'tracker' | 'pex' | 'dht' | 'magnet' | 'ltep' | 'lsd' | 'incoming';

export interface PeerSource {
  kind: PeerSourceKind;
  /** Who told us: a tracker's URL, the PEX partner's address, ... */
  from?: string;
  /** Learned under a hybrid torrent's v2 info hash (its announce or DHT lookup): dialed with that hash. */
  v2?: boolean;
}

/** Sources anyone on the network can feed with addresses of their choice. */
const UNTRUSTED: ReadonlySet<PeerSourceKind> = new Set(['pex', 'dht', 'lsd']);

/** Candidates each source kind may hold (the pool holds 2000 in all). */
const QUOTA: Record<PeerSourceKind, number> = { manual: Infinity, magnet: Infinity, tracker: 1000, dht: 500, pex: 500, ltep: 200, lsd: 200, incoming: 0 };
/** Candidates one PEX partner (one `from` of an untrusted kind) may hold. */
const PER_PARTNER = 100;
/**
 * Candidates at one host (an IPv4 address, an IPv6 /64; from LSD an IPv6 address, as every host of
 * a LAN shares its /64) from untrusted sources, all ports together.
 */
const PER_HOST = 4;
/**
 * LSD candidates in one IPv6 /64 together: a LAN host may send from any address of its /64 (the
 * kernel accepts any source on-link), so counting per address alone would let it fill LSD's quota.
 */
const LSD_PER_NETWORK = 16;
/** A host untrusted sources named is dialed at most this often; each failure doubles it, up to the cap. */
const HOST_DIAL_MS = 15_000;
const HOST_BACKOFF_CAP_MS = 30 * 60_000;
/** Hosts whose backoff is remembered (the oldest forgotten first). */
const MAX_HOSTS = 4096;

/** Sources that spread peers a private torrent must not use (BEP 27). */
export const DISCOVERY_SOURCES: ReadonlySet<PeerSourceKind> = new Set(['pex', 'dht', 'magnet', 'lsd']);

/** The host an untrusted source's address counts against: per LAN address for LSD, else hostKey's network. */
function untrustedHost(kind: PeerSourceKind, host: string): string {
  return kind === 'lsd' ? (canonicalIp(host) ?? host) : hostKey(host);
}

/**
 * What an untrusted source's address counts against, each with its cap: its host (above); from
 * LSD over IPv6 also its /64 as a whole (keyed apart from PEX's and the DHT's count of that /64).
 */
function hostCaps(kind: PeerSourceKind, host: string): Array<[key: string, cap: number]> {
  const own: [string, number] = [untrustedHost(kind, host), PER_HOST];
  const network = hostKey(host);
  return kind === 'lsd' && network !== own[0] ? [own, [`lsd|${network}`, LSD_PER_NETWORK]] : [own];
}

/** An address to dial, with what its source said about the peer. */
export interface PeerAddressHint extends DialTarget {
  /** PEX flag 0x01: the peer prefers encryption (dial it encrypted even under `--encryption allow`). */
  prefersEncryption?: boolean;
  /** PEX flag 0x04: the peer speaks uTP (dialed over uTP first when we speak it too). */
  utp?: boolean;
}

export interface Candidate {
  key: string;
  targets: DialTarget[];
  source: PeerSource;
  prefersEncryption: boolean;
  /** Its source says it speaks uTP. */
  utp: boolean;
  /** The peer id (hex) of a connected peer that told us this address of its own (BEP 10 `ipv4`/`ipv6`). */
  peerId?: string;
  state: 'idle' | 'connecting' | 'connected' | 'self';
  failures: number;
  nextAttempt: number;
}

export class PeerPool {
  private readonly byKey = new Map<string, Candidate>();
  private readonly perKind = new Map<PeerSourceKind, number>();
  private readonly perPartner = new Map<string, number>();
  private readonly perHost = new Map<string, number>();
  /** Hosts named by untrusted sources: when they may be dialed next, and how often that failed. */
  private readonly hosts = new Map<string, { next: number; failures: number }>();
  /** Addresses refused (a quota, a partner's cap, a host's cap), for status. */
  refused = 0;

  constructor(private readonly maxCandidates = 2000) {}

  /**
   * Add an address (or several addresses of one peer), with what its source said of it, and the
   * peer id of the peer it belongs to if we know it. Returns false if it was known, or refused.
   */
  add(targets: DialTarget[], source: PeerSource, opts: { prefersEncryption?: boolean; utp?: boolean; peerId?: string; delayMs?: number } = {}): boolean {
    const key = targets.map((t) => formatHostPort(t.host, t.port)).join(',');
    if (this.byKey.has(key) || targets.some((t) => this.byKey.has(formatHostPort(t.host, t.port)))) return false;
    const untrusted = UNTRUSTED.has(source.kind);
    const partner = untrusted && source.from !== undefined ? `${source.kind}|${source.from}` : undefined;
    const full = untrusted && hostCaps(source.kind, targets[0]!.host).some(([h, cap]) => (this.perHost.get(h) ?? 0) >= cap);
    if ((partner && (this.perPartner.get(partner) ?? 0) >= PER_PARTNER) || full) {
      this.refused++;
      return false;
    }
    // A kind at its quota makes room among its own; the pool at its size, among the largest kind's.
    if ((this.perKind.get(source.kind) ?? 0) >= QUOTA[source.kind] && !this.evictOne(source.kind)) return this.refuse();
    if (this.byKey.size >= this.maxCandidates && !this.evictOne()) return this.refuse();
    const c: Candidate = { key, targets, source, prefersEncryption: opts.prefersEncryption ?? false, utp: opts.utp ?? false, peerId: opts.peerId, state: 'idle', failures: 0, nextAttempt: opts.delayMs ? Date.now() + opts.delayMs : 0 };
    this.byKey.set(key, c);
    this.count(c, 1);
    return true;
  }

  /** A source says the peer at `t` speaks uTP (PEX flag 0x04): a candidate known there is dialed over uTP first. */
  speaksUtp(t: DialTarget): void {
    const c = this.byKey.get(formatHostPort(t.host, t.port));
    if (c) c.utp = true;
  }

  /** Candidates ready to dial now, manual ones first; `skip` leaves some out (a peer connected by other means). */
  ready(now: number, max: number, skip?: (c: Candidate) => boolean): Candidate[] {
    const out: Candidate[] = [];
    for (const c of this.byKey.values()) {
      if (c.state === 'idle' && c.nextAttempt <= now && !skip?.(c) && this.hostDue(c, now)) out.push(c);
    }
    // Manual ones first, then the least failed, then IPv6 (Happy Eyeballs' preference).
    const v6 = (c: Candidate) => Number(c.targets.some((t) => t.host.includes(':')));
    out.sort((a, b) => Number(b.source.kind === 'manual') - Number(a.source.kind === 'manual') || a.failures - b.failures || v6(b) - v6(a));
    const picked: Candidate[] = [];
    for (const c of out) {
      if (picked.length >= max) break;
      // One dial per untrusted host at a time: the next waits its turn (checked again: one host may have several candidates).
      if (!this.hostDue(c, now)) continue;
      this.holdHost(c, now);
      picked.push(c);
    }
    return picked;
  }

  /** Whether any candidate could be dialed now (no sorting: asked on every incoming peer when full). */
  anyReady(now: number, skip?: (c: Candidate) => boolean): boolean {
    for (const c of this.byKey.values()) if (c.state === 'idle' && c.nextAttempt <= now && this.hostDue(c, now) && !skip?.(c)) return true;
    return false;
  }

  /** A dial or connection ended: back off exponentially (manual peers retry sooner and forever). */
  failed(c: Candidate, now: number): void {
    c.state = 'idle';
    c.failures++;
    const manual = c.source.kind === 'manual';
    const base = manual ? 2_000 : 10_000;
    c.nextAttempt = now + Math.min(base * 2 ** Math.min(c.failures - 1, 6), manual ? 30_000 : 600_000);
    const h = this.hostOf(c);
    if (h) {
      const e = this.hosts.get(h)!;
      e.failures++;
      e.next = now + Math.min(HOST_DIAL_MS * 2 ** Math.min(e.failures, 10), HOST_BACKOFF_CAP_MS);
    }
    if (!manual && c.failures >= 8) this.remove(c);
  }

  /** A dial reached the peer: its host is in good standing again. */
  connected(c: Candidate): void {
    c.state = 'connected';
    c.failures = 0;
    const h = this.hostOf(c);
    if (h) this.hosts.delete(h);
  }

  /** Our connectivity changed (a tunnel came up): addresses waiting out a backoff may work now. */
  retryNow(): void {
    for (const c of this.byKey.values()) if (c.state === 'idle') c.nextAttempt = 0;
  }

  /** A dial we abandoned because our connectivity changed: not the peer's failure, dialed again at once. */
  restart(c: Candidate): void {
    c.state = 'idle';
    c.nextAttempt = 0;
    const h = this.hostOf(c);
    const e = h === undefined ? undefined : this.hosts.get(h);
    if (e) e.next = 0;
  }

  /** A connection that worked ended normally: allow a reconnect later. */
  disconnected(c: Candidate, now: number): void {
    c.state = 'idle';
    c.nextAttempt = now + 5_000;
  }

  /** The candidates the predicate picks. */
  where(pick: (c: Candidate) => boolean): Candidate[] {
    return [...this.byKey.values()].filter(pick);
  }

  /** Forget every candidate the predicate picks (a banned host, what one litterer told us). */
  dropWhere(pick: (c: Candidate) => boolean): number {
    let n = 0;
    for (const c of [...this.byKey.values()]) {
      if (!pick(c)) continue;
      this.remove(c);
      n++;
    }
    return n;
  }

  /** How many candidates each source kind gave (for status). */
  countBySource(): Partial<Record<PeerSourceKind, number>> {
    return Object.fromEntries(this.perKind) as Partial<Record<PeerSourceKind, number>>;
  }

  /** A seed while we are complete too: try again only much later (it may become a leecher of a new torrent version, or we may lose data). */
  park(c: Candidate, now: number): void {
    c.state = 'idle';
    c.nextAttempt = now + 30 * 60_000;
  }

  get size(): number {
    return this.byKey.size;
  }

  private refuse(): false {
    this.refused++;
    return false;
  }

  /** The host an untrusted source named, whose dials are spaced; undefined for trusted sources. */
  private hostOf(c: Candidate): string | undefined {
    return UNTRUSTED.has(c.source.kind) ? untrustedHost(c.source.kind, c.targets[0]!.host) : undefined;
  }

  private hostDue(c: Candidate, now: number): boolean {
    const h = this.hostOf(c);
    const e = h === undefined ? undefined : this.hosts.get(h);
    return !e || e.next <= now;
  }

  /** A dial to the host starts: the next one waits at least HOST_DIAL_MS. */
  private holdHost(c: Candidate, now: number): void {
    const h = this.hostOf(c);
    if (!h) return;
    const e = this.hosts.get(h) ?? { next: 0, failures: 0 };
    this.hosts.delete(h); // re-inserted last: the map's order is least recently dialed first
    e.next = Math.max(e.next, now + HOST_DIAL_MS);
    this.hosts.set(h, e);
    if (this.hosts.size > MAX_HOSTS) this.hosts.delete(this.hosts.keys().next().value!);
  }

  private count(c: Candidate, d: 1 | -1): void {
    const bump = <K>(m: Map<K, number>, k: K) => {
      const n = (m.get(k) ?? 0) + d;
      if (n > 0) m.set(k, n);
      else m.delete(k);
    };
    bump(this.perKind, c.source.kind);
    if (UNTRUSTED.has(c.source.kind)) {
      if (c.source.from !== undefined) bump(this.perPartner, `${c.source.kind}|${c.source.from}`);
      for (const [h] of hostCaps(c.source.kind, c.targets[0]!.host)) bump(this.perHost, h);
    }
  }

  private remove(c: Candidate): void {
    if (this.byKey.delete(c.key)) this.count(c, -1);
  }

  /** Evict an idle candidate of `kind`, or (without one) of the kind holding the most; never what the user named. */
  private evictOne(kind?: PeerSourceKind): boolean {
    let from = kind;
    if (!from) {
      let most = 0;
      for (const [k, n] of this.perKind) if (QUOTA[k] !== Infinity && n > most) [from, most] = [k, n];
    }
    if (!from || QUOTA[from] === Infinity) return false;
    for (const c of this.byKey.values()) {
      if (c.state === 'idle' && c.source.kind === from) {
        this.remove(c);
        return true;
      }
    }
    return false;
  }
}
