/**
 * Peers announced to us (announce_peer), served back in get_peers replies. Bounded three ways:
 * per info hash, overall, and per announcing IP, so one host can hold only a small share of it
 * however many info hashes and ports it announces. One entry per IP per info hash (a new port
 * replaces the old one); entries expire `ttlMs` after their last announce.
 */
import type { PeerAddress } from '../net/compact.js';

export interface PeerStoreLimits {
  perInfoHash: number;
  total: number;
  perSource: number;
  ttlMs: number;
}

export const PEER_STORE_LIMITS: PeerStoreLimits = { perInfoHash: 200, total: 20_000, perSource: 16, ttlMs: 30 * 60_000 };

interface Entry {
  infoHash: string;
  host: string;
  port: number;
  expires: number;
}

export class PeerStore {
  /** Every entry, oldest announce first: all share one TTL, so this is also expiry order. */
  private readonly byAge = new Map<string, Entry>();
  /** info hash (hex) -> IP -> entry, oldest first. */
  private readonly swarms = new Map<string, Map<string, Entry>>();
  private readonly perSource = new Map<string, number>();

  constructor(
    private readonly limits: PeerStoreLimits = PEER_STORE_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.byAge.size;
  }

  get infoHashes(): number {
    return this.swarms.size;
  }

  /** Store `host:port` for `infoHash`; false when the announcing host already holds its share. */
  add(infoHash: Buffer, host: string, port: number): boolean {
    this.expire();
    const key = infoHash.toString('hex');
    const old = this.swarms.get(key)?.get(host);
    if (old) this.remove(old);
    else if ((this.perSource.get(host) ?? 0) >= this.limits.perSource) return false;
    if (this.byAge.size >= this.limits.total) this.remove(this.byAge.values().next().value!);
    let swarm = this.swarms.get(key);
    if (!swarm) this.swarms.set(key, (swarm = new Map()));
    if (swarm.size >= this.limits.perInfoHash) this.remove(swarm.values().next().value!);
    const entry: Entry = { infoHash: key, host, port, expires: this.now() + this.limits.ttlMs };
    swarm.set(host, entry);
    this.byAge.set(`${key}|${host}`, entry);
    this.perSource.set(host, (this.perSource.get(host) ?? 0) + 1);
    return true;
  }

  /** Up to `max` live peers of `infoHash`, a random sample when there are more. */
  get(infoHash: Buffer, max: number): PeerAddress[] {
    this.expire();
    const swarm = this.swarms.get(infoHash.toString('hex'));
    if (!swarm) return [];
    const out: PeerAddress[] = [...swarm.values()].map((e) => ({ host: e.host, port: e.port, family: 4 }));
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out.slice(0, max);
  }

  private remove(e: Entry): void {
    this.byAge.delete(`${e.infoHash}|${e.host}`);
    const swarm = this.swarms.get(e.infoHash)!;
    swarm.delete(e.host);
    if (swarm.size === 0) this.swarms.delete(e.infoHash);
    const n = this.perSource.get(e.host)! - 1;
    if (n > 0) this.perSource.set(e.host, n);
    else this.perSource.delete(e.host);
  }

  /** Drops expired entries: they are at the front of byAge, so this costs what it removes. */
  private expire(): void {
    const t = this.now();
    for (const e of this.byAge.values()) {
      if (e.expires > t) break;
      this.remove(e);
    }
  }
}
