/** Bytes per second over a sliding window of one-second buckets. */
export class RateMeter {
  private readonly buckets: Float64Array;
  private head = 0;
  private headSecond = Math.floor(Date.now() / 1000);
  private readonly started = Date.now();
  total = 0;

  constructor(private readonly windowSeconds = 5) {
    this.buckets = new Float64Array(windowSeconds);
  }

  add(bytes: number, now = Date.now()): void {
    this.advance(now);
    this.buckets[this.head]! += bytes;
    this.total += bytes;
  }

  rate(now = Date.now()): number {
    this.advance(now);
    let sum = 0;
    for (const b of this.buckets) sum += b;
    // A young meter averages over the time it has existed, so a fast start shows as fast at once.
    const span = Math.min(this.windowSeconds, Math.max(1, (now - this.started) / 1000));
    return sum / span;
  }

  private advance(now: number): void {
    const second = Math.floor(now / 1000);
    const steps = Math.min(second - this.headSecond, this.windowSeconds);
    for (let i = 0; i < steps; i++) {
      this.head = (this.head + 1) % this.windowSeconds;
      this.buckets[this.head] = 0;
    }
    if (second > this.headSecond) this.headSecond = second;
  }
}
