/**
 * The budget of incoming handshakes in memory, on a clock of its own: one host's burst is its
 * own, all hosts together are bounded, a host that has hardly connected gets in past the totals
 * from an allowance of its own while busy hosts do not, and the Diffie-Hellman work has a budget
 * of its own. (Over a real listener: test/mse-flood.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { HandshakeBudget } from '../../src/wire/handshake-budget.js';

const limits = { perHostRate: 5, perHostBurst: 20, totalRate: 300, totalBurst: 300, dhRate: 150, dhBurst: 150, restedRate: 50, maxHosts: 4096 };

function clocked() {
  let t = 0;
  return { budget: new HandshakeBudget(limits, () => t), advance: (ms: number) => (t += ms) };
}

const count = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i)).filter(Boolean).length;

describe('handshake budget', () => {
  it('one host gets its burst, then its rate; an IPv6 /64 is one host', () => {
    const { budget: b, advance } = clocked();
    expect(count(100, () => b.admit('203.0.113.5'))).toBe(20);
    expect(b.refused.host).toBe(80);
    advance(1000);
    expect(count(100, () => b.admit('203.0.113.5'))).toBe(5);
    expect(count(100, (i) => b.admit(`2001:db8:1:2::${(i + 1).toString(16)}`))).toBe(20);
    expect(b.admit('203.0.113.6')).toEqual({ rested: true }); // another host is not affected
  });

  it('a flood from 250 busy hosts gets the total and no more, while hosts that dial once still get in', () => {
    const { budget: b, advance } = clocked();
    let flood = 0, honest = 0, tried = 0;
    // 10 s of 6 connections a second from each of 250 hosts (1,500/s), and one new host every 100 ms.
    for (let ms = 0; ms < 10_000; ms += 100) {
      for (let h = 0; h < 250; h++) if ((ms / 100 + h) % 10 < 6 && b.admit(`198.51.${h >> 8}.${h & 255}`)) flood++;
      // (In the first two seconds the flood's hosts are new, rested too, and share the allowance.)
      if (ms >= 2000) tried++;
      if (b.admit(`192.0.2.${ms / 100}`) && ms >= 2000) honest++;
      advance(100);
    }
    // The total's 300 a second (and its burst); busy hosts are rested only for a connection every
    // 10 s, so of the allowance (50 a second) they get a little.
    expect(flood).toBeLessThanOrEqual(300 + 10 * 300 + 50 + 10 * 25);
    expect(honest).toBe(tried);
  });

  it('the Diffie-Hellman work has its own budget, with room for rested hosts past it', () => {
    const { budget: b } = clocked();
    const busy = Array.from({ length: 20 }, () => b.admit('203.0.113.9')!);
    expect(busy.map((a) => a.rested)).toEqual([true, true, ...Array<boolean>(18).fill(false)]);
    expect(count(400, (i) => b.mayComputeDh(busy[2 + (i % 18)]!))).toBe(150);
    expect(b.refused.dh).toBe(250);
    expect(b.mayComputeDh(b.admit('203.0.113.10')!)).toBe(true);
  });
});
