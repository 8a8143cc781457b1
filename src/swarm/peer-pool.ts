/**
 * Addresses we could connect to for one torrent (from --peer, trackers, PEX), with their dialing
 * state and a backoff for addresses that failed, so a dead peer is not hammered.
 */
import type { DialTarget } from '../net/dial.js';
import { formatHostPort } from '../net/hostport.js';

export type PeerSource = 'manual' | 'tracker';

export interface Candidate {
  key: string;
  targets: DialTarget[];
  source: PeerSource;
  state: 'idle' | 'connecting' | 'connected' | 'self';
  failures: number;
  nextAttempt: number;
}

export class PeerPool {
  private readonly byKey = new Map<string, Candidate>();

  constructor(private readonly maxCandidates = 2000) {}

  /** Add an address (or several addresses of one peer). Returns false if it was known or the pool is full. */
  add(targets: DialTarget[], source: PeerSource): boolean {
    const key = targets.map((t) => formatHostPort(t.host, t.port)).join(',');
    if (this.byKey.has(key) || targets.some((t) => this.byKey.has(formatHostPort(t.host, t.port)))) return false;
    if (this.byKey.size >= this.maxCandidates && !this.evictOne()) return false;
    this.byKey.set(key, { key, targets, source, state: 'idle', failures: 0, nextAttempt: 0 });
    return true;
  }

  /** Candidates ready to dial now, manual ones first. */
  ready(now: number, max: number): Candidate[] {
    const out: Candidate[] = [];
    for (const c of this.byKey.values()) {
      if (c.state === 'idle' && c.nextAttempt <= now) out.push(c);
    }
    out.sort((a, b) => Number(b.source === 'manual') - Number(a.source === 'manual') || a.failures - b.failures);
    return out.slice(0, max);
  }

  /** A dial or connection ended: back off exponentially (manual peers retry sooner and forever). */
  failed(c: Candidate, now: number): void {
    c.state = 'idle';
    c.failures++;
    const base = c.source === 'manual' ? 2_000 : 10_000;
    c.nextAttempt = now + Math.min(base * 2 ** Math.min(c.failures - 1, 6), c.source === 'manual' ? 30_000 : 600_000);
    if (c.source !== 'manual' && c.failures >= 8) this.byKey.delete(c.key);
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

  /** Forget every candidate with an address the predicate picks (a banned host). */
  dropWhere(pick: (host: string) => boolean): void {
    for (const [key, c] of this.byKey) if (c.targets.some((t) => pick(t.host))) this.byKey.delete(key);
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
      if (c.state === 'idle' && c.source !== 'manual') {
        this.byKey.delete(k);
        return true;
      }
    }
    return false;
  }
}
