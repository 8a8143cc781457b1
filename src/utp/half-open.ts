/**
 * Connections a SYN asked for and that the peer has not confirmed yet: answered, and held in a
 * small table until a packet acknowledges the answer (which a spoofed source never sees) or
 * they expire. Bounded in total and per source host (an IPv4 address, an IPv6 /64; a host at its
 * limit loses its own oldest: FairSlots), and admitted under a rate per source (each costs an
 * entry and a 20-byte answer, so a spoofed flood cannot make us send a victim more than that)
 * and a global one set high, a bound on the work, so that a flood from many (spoofed) sources
 * does not shut out honest ones: they come from hosts with a full bucket.
 */
import { hostKey } from '../net/address.js';
import { FairSlots } from '../net/fair-slots.js';
import { SourceLimiter } from '../net/source-limiter.js';
import { TokenBucket } from '../util/token-bucket.js';

/** SYNs taken from one host per second (twice that in a burst), and from all hosts together. */
const SYN_RATE_PER_HOST = 20;
const GLOBAL_SYN_RATE = 5000;
const HALF_OPEN_MS = 15_000;

/** A SYN answered. */
export interface HalfOpen {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  /** The id in the peer's SYN: it sends with id + 1, we send with this one. */
  readonly synId: number;
  readonly peerSeq: number;
  readonly ourSeq: number;
  readonly peerWindow: number;
  /** Our delay sample from the SYN's timestamp, echoed in the answer. */
  readonly replyMicro: number;
  readonly expires: number;
}

export class HalfOpenTable {
  private readonly byKey = new Map<string, HalfOpen>();
  private readonly slots: FairSlots<HalfOpen>;
  private readonly perHost = new SourceLimiter(SYN_RATE_PER_HOST, SYN_RATE_PER_HOST * 2, 4096);
  private readonly global = new TokenBucket(GLOBAL_SYN_RATE, GLOBAL_SYN_RATE);

  constructor(maxTotal: number, maxPerHost: number) {
    this.slots = new FairSlots(maxPerHost, maxTotal);
  }

  get size(): number {
    return this.byKey.size;
  }

  find(host: string, port: number, synId: number): HalfOpen | undefined {
    return this.byKey.get(key(host, port, synId));
  }

  /** Whether a SYN from `host` may be answered now (its rate). */
  mayAnswer(host: string): boolean {
    return this.perHost.allow(hostKey(host));
  }

  /** A new SYN: admitted (evicting another of the same host, or of the heaviest, if full), or undefined when over the rates. */
  admit(entry: Omit<HalfOpen, 'key' | 'expires'>, nowMs: number): HalfOpen | undefined {
    if (!this.mayAnswer(entry.host) || !this.global.take()) return undefined;
    const open: HalfOpen = { ...entry, key: key(entry.host, entry.port, entry.synId), expires: nowMs + HALF_OPEN_MS };
    const evicted = this.slots.admit(open, open.host);
    if (evicted) this.byKey.delete(evicted.key);
    this.byKey.set(open.key, open);
    return open;
  }

  remove(open: HalfOpen): void {
    this.byKey.delete(open.key);
    this.slots.release(open);
  }

  expire(nowMs: number): void {
    for (const open of this.byKey.values()) if (open.expires <= nowMs) this.remove(open);
  }

  clear(): void {
    for (const open of [...this.byKey.values()]) this.remove(open);
  }
}

function key(host: string, port: number, synId: number): string {
  return `${synId} ${port} ${host}`;
}
