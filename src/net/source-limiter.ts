/**
 * A rate per source (the DHT's datagrams per IP, incoming handshakes per host): a token bucket
 * each, in a table of bounded size. One source can only ever hold one entry, so a flood from it
 * cannot push other sources' buckets out; a flood from many (spoofed) sources only resets
 * buckets to full, which favours the honest ones.
 */
import { TokenBucket } from '../util/token-bucket.js';

export class SourceLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly maxSources: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get sources(): number {
    return this.buckets.size;
  }

  allow(source: string): boolean {
    let bucket = this.buckets.get(source);
    if (!bucket) {
      if (this.buckets.size >= this.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = new TokenBucket(this.rate, this.burst, this.now);
      this.buckets.set(source, bucket);
    }
    return bucket.take();
  }
}
