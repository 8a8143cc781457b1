/**
 * Token buckets and the swarm's rate limits on a fake clock: the rate holds, peers that keep
 * asking share it round-robin, a torrent's limit sits under the global one, and a withdrawn
 * request is never granted.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { burstFor, RateLimit } from '../../src/swarm/rate-limit.js';
import { TokenBucket } from '../../src/util/token-bucket.js';

const BLOCK = 16 * 1024;

describe('TokenBucket', () => {
  it('allows the burst, then the rate', () => {
    let now = 0;
    const b = new TokenBucket(1000, 1500, () => now);
    expect(b.take(1500)).toBe(true);
    expect(b.take(1)).toBe(false);
    now += 500; // 500 tokens later
    expect(b.take(600)).toBe(false);
    expect(b.msUntil(600)).toBeCloseTo(100);
    expect(b.take(500)).toBe(true);
    now += 10_000; // capped at the burst
    expect(b.take(1501)).toBe(false);
    expect(b.msUntil(1501)).toBe(Infinity);
    expect(b.take(1500)).toBe(true);
    b.set(2000, 4000);
    now += 1000;
    expect(b.take(2000)).toBe(true);
  });
});

describe('RateLimit', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  /** Peers that each ask for one block, and again as soon as it is granted, for `ms`. */
  async function greedyPeers(limit: RateLimit, count: number, ms: number): Promise<number[]> {
    const got = new Array<number>(count).fill(0);
    const ask = (i: number) => limit.request(BLOCK, () => {
      got[i]! += BLOCK;
      ask(i);
    });
    for (let i = 0; i < count; i++) ask(i);
    await vi.advanceTimersByTimeAsync(ms);
    limit.close();
    return got;
  }

  it('holds its rate, and peers that keep asking share it evenly', async () => {
    const rate = 400 * 1024;
    const got = await greedyPeers(new RateLimit(rate), 3, 10_000);
    const total = got.reduce((a, b) => a + b, 0);
    // At most the full bucket plus 10 s of the rate; at least 10 s of the rate less one block.
    expect(total).toBeLessThanOrEqual(burstFor(rate) + 10 * rate);
    expect(total).toBeGreaterThanOrEqual(10 * rate - BLOCK);
    for (const g of got) expect(Math.abs(g - total / 3)).toBeLessThanOrEqual(BLOCK);
  });

  it('a torrent limit under a lower global one gets the global rate; two torrents share the global one', async () => {
    const global = new RateLimit(200 * 1024);
    const a = new RateLimit(1024 * 1024, global);
    const b = new RateLimit(undefined, global);
    expect(a.effective).toBe(200 * 1024);
    expect(b.effective).toBe(200 * 1024);
    expect(b.unlimited).toBe(false);
    const got = { a: 0, b: 0 };
    const ask = (l: RateLimit, k: 'a' | 'b') => l.request(BLOCK, () => {
      got[k] += BLOCK;
      ask(l, k);
    });
    ask(a, 'a');
    ask(b, 'b');
    await vi.advanceTimersByTimeAsync(10_000);
    const total = got.a + got.b;
    expect(total).toBeLessThanOrEqual(burstFor(200 * 1024) * 2 + 10 * 200 * 1024);
    expect(total).toBeGreaterThanOrEqual(10 * 200 * 1024 - 2 * BLOCK);
    expect(Math.abs(got.a - got.b)).toBeLessThanOrEqual(2 * BLOCK);
    global.close();
    a.close();
    b.close();
  });

  it('a torrent limit below the global one is the one that holds', async () => {
    const global = new RateLimit(1024 * 1024);
    const t = new RateLimit(100 * 1024, global);
    expect(t.effective).toBe(100 * 1024);
    const got = await greedyPeers(t, 2, 10_000);
    const total = got[0]! + got[1]!;
    expect(total).toBeLessThanOrEqual(burstFor(100 * 1024) + 10 * 100 * 1024);
    expect(total).toBeGreaterThanOrEqual(10 * 100 * 1024 - BLOCK);
    global.close();
  });

  it('a withdrawn request is never granted, and lifting the limit grants the waiting ones at once', async () => {
    const l = new RateLimit(64 * 1024);
    const granted: string[] = [];
    // The bucket starts full (a quarter second, at least two blocks): that much goes at once.
    l.request(burstFor(64 * 1024), () => granted.push('burst'));
    const cancel = l.request(BLOCK, () => granted.push('withdrawn'));
    l.request(BLOCK, () => granted.push('waiting'));
    expect(granted).toEqual([]);
    await Promise.resolve();
    expect(granted).toEqual(['burst']);
    cancel();
    l.setRate(undefined);
    expect(granted).toEqual(['burst', 'waiting']);
    expect(l.unlimited).toBe(true);
    expect(() => l.setRate(0)).toThrow(/positive/);
  });
});
