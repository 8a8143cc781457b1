/**
 * Rate limits of one direction (down or up) for one scope (a torrent, or the whole client), as
 * a token bucket that callers wait on. A limit may have a parent (a torrent's under the
 * client's): bytes go only once both have granted them. Waiters are served in the order they
 * asked; each peer asks for one block at a time and asks again after its grant, so peers share
 * a limit round-robin, and a fast peer cannot starve a slow one.
 */
import { TokenBucket } from '../util/token-bucket.js';
import { BLOCK_SIZE } from '../wire/messages.js';

interface Waiter {
  bytes: number;
  grant(): void;
  cancelled: boolean;
  /** Withdraws it from the parent once it waits there. */
  cancelAbove?: () => void;
}

/** The bucket holds a quarter second of the rate (two blocks at least): smooth, yet a block always fits. */
export function burstFor(rate: number): number {
  return Math.max(rate / 4, 2 * BLOCK_SIZE);
}

export class RateLimit {
  private bucket?: TokenBucket;
  private current?: number;
  private readonly queue: Waiter[] = [];
  private timer?: NodeJS.Timeout;
  private pumpQueued = false;

  /** `rate` in bytes per second; undefined: no limit here (a parent's may still apply). */
  constructor(
    rate?: number,
    readonly parent?: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.setRate(rate);
  }

  /** This scope's own limit (bytes/s), undefined when it has none. */
  get rate(): number | undefined {
    return this.current;
  }

  /** The limit in force here: the smallest of this one and its parents'. */
  get effective(): number | undefined {
    const up = this.parent?.effective;
    if (this.current === undefined) return up;
    return up === undefined ? this.current : Math.min(up, this.current);
  }

  /** Nothing limits this direction, here or above: callers need not ask at all. */
  get unlimited(): boolean {
    return this.effective === undefined;
  }

  setRate(rate: number | undefined): void {
    if (rate !== undefined && !(rate > 0)) throw new RangeError(`a rate limit must be positive, got ${rate}`);
    this.current = rate;
    if (rate === undefined) this.bucket = undefined;
    else if (this.bucket) this.bucket.set(rate, burstFor(rate));
    else this.bucket = new TokenBucket(rate, burstFor(rate), this.now);
    if (this.queue.length > 0) this.pump();
  }

  /**
   * `grant` runs once `bytes` may go: never synchronously, so that everyone who asks in one turn
   * of the event loop is served in order. Returns a function that withdraws the request if it has
   * not been granted yet.
   */
  request(bytes: number, grant: () => void): () => void {
    const w: Waiter = { bytes, grant, cancelled: false };
    this.queue.push(w);
    if (!this.pumpQueued) {
      this.pumpQueued = true;
      queueMicrotask(() => {
        this.pumpQueued = false;
        this.pump();
      });
    }
    return () => {
      w.cancelled = true;
      w.cancelAbove?.();
    };
  }

  /** Drop every waiter (shutting down): no grant runs any more. */
  close(): void {
    for (const w of this.queue) w.cancelled = true;
    this.queue.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) {
      const w = this.queue[0]!;
      if (w.cancelled) {
        this.queue.shift();
        continue;
      }
      if (this.bucket) {
        // A request larger than the burst could never be granted whole: it takes what the bucket holds.
        const need = Math.min(w.bytes, burstFor(this.current!));
        const wait = this.bucket.msUntil(need);
        if (wait > 0) {
          clearTimeout(this.timer);
          this.timer = setTimeout(() => this.pump(), Math.max(1, Math.ceil(wait)));
          this.timer.unref();
          return;
        }
        this.bucket.take(need);
      }
      this.queue.shift();
      if (this.parent) w.cancelAbove = this.parent.request(w.bytes, () => w.grant());
      else w.grant();
    }
  }
}

/** Both directions of one scope. */
export class RateLimits {
  readonly down: RateLimit;
  readonly up: RateLimit;

  constructor(rates: { down?: number; up?: number } = {}, parent?: RateLimits) {
    this.down = new RateLimit(rates.down, parent?.down);
    this.up = new RateLimit(rates.up, parent?.up);
  }

  close(): void {
    this.down.close();
    this.up.close();
  }
}
