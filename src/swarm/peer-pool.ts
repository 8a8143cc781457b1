/**
 * Addresses we could connect to for one torrent (from --peer, trackers, PEX, the DHT, ...), with
 * their dialing state and a backoff for addresses that failed, so a dead peer is not hammered.
 * Each remembers where it was learned, for the user and for blame.
 */
import type { DialTarget } from '../transport/network.js';
import { formatHostPort } from '../net/hostport.js';

/**
 * Where a peer address came from. `ltep`: a connected peer's BEP 10 `ipv4`/`ipv6` (its other
 * family); `magnet`: a magnet link's `x.pe`; `incoming`: it connected to us.
 */
export type PeerSourceKind = 'manual' | 'tracker' | 'pex' | 'dht' | 'magnet' | 'ltep' | 'incoming';

export interface PeerSource {
  kind: PeerSourceKind;
  /** Who told us: a tracker's URL, the PEX partner's address, ... */
  from?: string;
}

/** Sources that spread peers a private torrent must not use (BEP 27). */
export const DISCOVERY_SOURCES: ReadonlySet<PeerSourceKind> = new Set(['pex', 'dht', 'magnet']);

/** An address to dial, with what its source said about the peer. */
export interface PeerAddressHint extends DialTarget {
  /** PEX flag 0x01: the peer prefers encryption (dial it encrypted even under `--encryption allow`). */
  prefersEncryption?: boolean;
}

export interface Candidate {
  key: string;
  targets: DialTarget[];
  source: PeerSource;
  prefersEncryption: boolean;
  /** The peer id (hex) of a connected peer that told us this address of its own (BEP 10 `ipv4`/`ipv6`). */
  peerId?: string;
  state: 'idle' | 'connecting' | 'connected' | 'self';
  failures: number;
  nextAttempt: number;
}

export class PeerPool {
  private readonly byKey = new Map<string, Candidate>();

  constructor(private readonly maxCandidates = 2000) {}

  /**
   * Add an address (or several addresses of one peer), with what its source said of it, and the
   * peer id of the peer it belongs to if we know it. Returns false if it was known or the pool is full.
   */
  add(targets: DialTarget[], source: PeerSource, opts: { prefersEncryption?: boolean; peerId?: string; delayMs?: number } = {}): boolean {
    const key = targets.map((t) => formatHostPort(t.host, t.port)).join(',');
    if (this.byKey.has(key) || targets.some((t) => this.byKey.has(formatHostPort(t.host, t.port)))) return false;
    if (this.byKey.size >= this.maxCandidates && !this.evictOne()) return false;
    this.byKey.set(key, { key, targets, source, prefersEncryption: opts.prefersEncryption ?? false, peerId: opts.peerId, state: 'idle', failures: 0, nextAttempt: opts.delayMs ? Date.now() + opts.delayMs : 0 });
    return true;
  }

  /** Candidates ready to dial now, manual ones first; `skip` leaves some out (a peer connected by other means). */
  ready(now: number, max: number, skip?: (c: Candidate) => boolean): Candidate[] {
    const out: Candidate[] = [];
    for (const c of this.byKey.values()) {
      if (c.state === 'idle' && c.nextAttempt <= now && !skip?.(c)) out.push(c);
    }
    // Manual ones first, then the least failed, then IPv6 (Happy Eyeballs' preference).
    const v6 = (c: Candidate) => Number(c.targets.some((t) => t.host.includes(':')));
    out.sort((a, b) => Number(b.source.kind === 'manual') - Number(a.source.kind === 'manual') || a.failures - b.failures || v6(b) - v6(a));
    return out.slice(0, max);
  }

  /** A dial or connection ended: back off exponentially (manual peers retry sooner and forever). */
  failed(c: Candidate, now: number): void {
    c.state = 'idle';
    c.failures++;
    const manual = c.source.kind === 'manual';
    const base = manual ? 2_000 : 10_000;
    c.nextAttempt = now + Math.min(base * 2 ** Math.min(c.failures - 1, 6), manual ? 30_000 : 600_000);
    if (!manual && c.failures >= 8) this.byKey.delete(c.key);
  }

  /** Our connectivity changed (a tunnel came up): addresses waiting out a backoff may work now. */
  retryNow(): void {
    for (const c of this.byKey.values()) if (c.state === 'idle') c.nextAttempt = 0;
  }

  /** A connection that worked ended normally: allow a reconnect later. */
  disconnected(c: Candidate, now: number): void {
    c.state = 'idle';
    c.nextAttempt = now + 5_000;
  }

  /** Candidates tagged with this peer id. */
  ofPeer(peerId: string): Candidate[] {
    return [...this.byKey.values()].filter((c) => c.peerId === peerId);
  }

  /** Forget every candidate the predicate picks (a banned host, what one litterer told us). */
  dropWhere(pick: (c: Candidate) => boolean): number {
    let n = 0;
    for (const [key, c] of this.byKey) {
      if (pick(c)) {
        this.byKey.delete(key);
        n++;
      }
    }
    return n;
  }

  /** How many candidates each source kind gave (for status). */
  countBySource(): Partial<Record<PeerSourceKind, number>> {
    const out: Partial<Record<PeerSourceKind, number>> = {};
    for (const c of this.byKey.values()) out[c.source.kind] = (out[c.source.kind] ?? 0) + 1;
    return out;
  }

  /** A seed while we are complete too: try again only much later (it may become a leecher of a new torrent version, or we may lose data). */
  park(c: Candidate, now: number): void {
    c.state = 'idle';
    c.nextAttempt = now + 30 * 60_000;
  }

  get size(): number {
    return this.byKey.size;
  }

  private evictOne(): boolean {
    for (const [k, c] of this.byKey) {
      if (c.state === 'idle' && c.source.kind !== 'manual') {
        this.byKey.delete(k);
        return true;
      }
    }
    return false;
  }
}
