/**
 * Failed logins, slowed down: a host (an IPv4 address or an IPv6 /64) gets a few free failures,
 * then must wait before its next attempt counts, twice as long after each further failure (up
 * to 15 minutes); while it waits its attempts are refused unchecked, right password or not, so
 * guessing gains nothing from speed. Across all hosts, failures from hosts that never logged in
 * are capped per minute, so an attacker spread over many /64s cannot guess fast either; a host
 * that logged in lately is exempt from that cap, so the attack does not lock its users out.
 * Memory is bounded: the oldest hosts are forgotten first.
 */
import { hostKey } from '../net/address.js';

export interface ThrottleOptions {
  /** Failures a host may have before it has to wait. */
  freeFailures: number;
  /** The first wait; each further failure doubles it. */
  baseMs: number;
  maxMs: number;
  /** Failures per minute from hosts without a recent login, all together. */
  globalPerMinute: number;
  /** How long a login exempts its host from the global cap. */
  trustMs: number;
  /** Hosts remembered (failures and logins each). */
  maxHosts: number;
}

const DEFAULTS: ThrottleOptions = { freeFailures: 5, baseMs: 1000, maxMs: 15 * 60_000, globalPerMinute: 60, trustMs: 24 * 3600_000, maxHosts: 10_000 };

interface Failures {
  count: number;
  /** No attempt counts before this time. */
  until: number;
}

export class LoginThrottle {
  private readonly opts: ThrottleOptions;
  private readonly failures = new Map<string, Failures>();
  /** Per host, when it last logged in. */
  private readonly trusted = new Map<string, number>();
  /** Times of recent failures from untrusted hosts, oldest first. */
  private readonly recent: number[] = [];

  constructor(
    opts: Partial<ThrottleOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** Milliseconds `ip` has to wait before its login is even looked at; 0: go ahead. */
  waitFor(ip: string): number {
    const host = hostKey(ip);
    const now = this.now();
    const own = Math.max(0, (this.failures.get(host)?.until ?? 0) - now);
    if (own > 0 || this.isTrusted(host, now)) return own;
    this.forgetOld(now);
    if (this.recent.length < this.opts.globalPerMinute) return 0;
    return Math.max(1, this.recent[0]! + 60_000 - now);
  }

  failed(ip: string): void {
    const host = hostKey(ip);
    const now = this.now();
    const f = this.failures.get(host) ?? { count: 0, until: 0 };
    f.count++;
    if (f.count > this.opts.freeFailures) f.until = now + Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** Math.min(30, f.count - this.opts.freeFailures - 1));
    remember(this.failures, host, f, this.opts.maxHosts);
    if (!this.isTrusted(host, now)) {
      this.forgetOld(now);
      this.recent.push(now);
    }
  }

  succeeded(ip: string): void {
    const host = hostKey(ip);
    this.failures.delete(host);
    remember(this.trusted, host, this.now(), this.opts.maxHosts);
  }

  private isTrusted(host: string, now: number): boolean {
    const at = this.trusted.get(host);
    return at !== undefined && now - at < this.opts.trustMs;
  }

  private forgetOld(now: number): void {
    while (this.recent.length > 0 && this.recent[0]! <= now - 60_000) this.recent.shift();
    // Bounded even if the clock stood still: only the newest count.
    if (this.recent.length > this.opts.globalPerMinute) this.recent.splice(0, this.recent.length - this.opts.globalPerMinute);
  }
}

/** Set `key` as the newest entry of `map`, forgetting the oldest beyond `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}
