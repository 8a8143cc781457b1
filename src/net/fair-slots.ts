/**
 * Slots for unfinished work from the network (connections that have not finished a handshake or
 * sent a whole request head), bounded per source host (an IPv4 address or an IPv6 /64) and in
 * total, and fair: a host at its own limit makes room by losing its oldest entry, and when every
 * slot is taken the host holding the most loses its oldest. A newcomer is never the one refused,
 * so a flood of idle connections from one host costs that host its own attempts, never others'.
 */
import { hostKey } from './address.js';

export class FairSlots<T> {
  /** Per host, its entries oldest first (a Set keeps insertion order). */
  private readonly byHost = new Map<string, Set<T>>();
  private readonly hostOf = new Map<T, string>();

  constructor(
    readonly perHost: number,
    readonly total: number,
  ) {
    if (perHost < 1 || total < 1) throw new RangeError('FairSlots needs at least one slot per host and in total');
  }

  get size(): number {
    return this.hostOf.size;
  }

  /** How many slots the host of `ip` holds. */
  heldBy(ip: string): number {
    return this.byHost.get(hostKey(ip))?.size ?? 0;
  }

  has(item: T): boolean {
    return this.hostOf.has(item);
  }

  /** Give `item` from `ip` a slot; returns the entry that lost its slot to make room (the caller drops it), if any. */
  admit(item: T, ip: string): T | undefined {
    if (this.hostOf.has(item)) return undefined;
    const host = hostKey(ip);
    let own = this.byHost.get(host);
    let evicted: T | undefined;
    if (own && own.size >= this.perHost) evicted = this.evictOldest(own);
    else if (this.hostOf.size >= this.total) evicted = this.evictOldest(this.heaviest());
    own = this.byHost.get(host); // evicting may have removed an emptied set
    if (!own) this.byHost.set(host, (own = new Set()));
    own.add(item);
    this.hostOf.set(item, host);
    return evicted;
  }

  /** `item` finished or went away: its slot is free. */
  release(item: T): void {
    const host = this.hostOf.get(item);
    if (host === undefined) return;
    this.hostOf.delete(item);
    const own = this.byHost.get(host)!;
    own.delete(item);
    if (own.size === 0) this.byHost.delete(host);
  }

  /** Every entry, oldest first within each host. */
  *entries(): IterableIterator<T> {
    for (const own of this.byHost.values()) yield* own;
  }

  private heaviest(): Set<T> {
    let most: Set<T> | undefined;
    // Only when every slot is taken, and then among at most `total` hosts.
    for (const own of this.byHost.values()) if (!most || own.size > most.size) most = own;
    return most!;
  }

  private evictOldest(own: Set<T>): T {
    const oldest = own.values().next().value as T;
    this.release(oldest);
    return oldest;
  }
}
