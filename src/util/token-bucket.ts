/**
 * A token bucket: `rate` units per second, bursts up to `burst`. The tunnel server's per-client
 * byte and packet limits and the DHT's query limits drop what is over; the swarm's rate limits
 * (src/swarm/rate-limit.ts) wait for `msUntil` instead.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private rate: number,
    private burst: number = rate,
    private readonly now: () => number = () => performance.now(),
  ) {
    TokenBucket.check(rate, burst);
    this.tokens = burst;
    this.last = this.now();
  }

  /** Takes `n` units if available; false (and nothing taken) otherwise. */
  take(n = 1): boolean {
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Milliseconds until `n` units are there (0: now); Infinity when `n` is more than the burst. */
  msUntil(n: number): number {
    this.refill();
    if (n > this.burst) return Infinity;
    return this.tokens >= n ? 0 : ((n - this.tokens) / this.rate) * 1000;
  }

  /** A new rate and burst from now on; what was saved up stays, up to the new burst. */
  set(rate: number, burst: number = rate): void {
    TokenBucket.check(rate, burst);
    this.refill();
    this.rate = rate;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }

  private static check(rate: number, burst: number): void {
    if (!(rate > 0) || !(burst > 0)) throw new RangeError('a token bucket needs a positive rate and burst');
  }
}
