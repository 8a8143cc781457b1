/**
 * The candidate pool against sources anyone can feed: a flood of PEX entries cannot push out
 * the magnet's own peer or what the user named, one partner and one target host are capped, and
 * dials to a host a partner named are spaced, with a backoff that survives the candidates.
 */
import { describe, expect, it } from 'vitest';
import { PeerPool } from '../../src/swarm/peer-pool.js';

const pex = (from: string) => ({ kind: 'pex' as const, from });

describe('peer pool', () => {
  it('twelve PEX partners sending 200 entries each do not push out the magnet\'s x.pe peer or a --peer', () => {
    const pool = new PeerPool(600);
    expect(pool.add([{ host: '2001:db8:aa::1', port: 6881 }], { kind: 'magnet' })).toBe(true);
    expect(pool.add([{ host: '2001:db8:bb::1', port: 6881 }], { kind: 'manual' })).toBe(true);
    let taken = 0;
    for (let p = 0; p < 12; p++) for (let i = 0; i < 200; i++) if (pool.add([{ host: `198.51.${p}.${i}`, port: 6881 }], pex(`[2001:db8:${p}::1]:6881`))) taken++;
    // One partner holds at most 100, the kind at most its quota; the rest is refused or churns within PEX.
    expect(pool.size).toBeLessThanOrEqual(600);
    expect(pool.countBySource()).toMatchObject({ magnet: 1, manual: 1 });
    expect(pool.countBySource().pex).toBeLessThanOrEqual(500);
    expect(taken).toBeLessThanOrEqual(12 * 100);
    expect(pool.refused).toBeGreaterThanOrEqual(12 * 100);
    const ready = pool.ready(Date.now(), 10);
    expect(ready.map((c) => c.source.kind)).toContain('manual');
    expect(pool.ready(Date.now(), 1000).some((c) => c.source.kind === 'magnet')).toBe(true);
  });

  it('caps the addresses untrusted sources give at one host, and spaces the dials to it across candidates and reconnects', () => {
    const pool = new PeerPool();
    const added = Array.from({ length: 50 }, (_, i) => pool.add([{ host: '203.0.113.66', port: 1000 + i }], pex('[2001:db8::5]:6881'))).filter(Boolean);
    expect(added).toHaveLength(4); // one host, all ports together
    const t0 = 1_000_000;
    const first = pool.ready(t0, 10);
    expect(first).toHaveLength(1); // one dial to the host at a time
    pool.failed(first[0]!, t0);
    expect(pool.ready(t0 + 1000, 10)).toHaveLength(0);
    // The partner reconnects and sends the same addresses again: they are known, the host still waits.
    expect(pool.add([{ host: '203.0.113.66', port: 1000 }], pex('[2001:db8::5]:6881'))).toBe(false);
    const next = pool.ready(t0 + 31_000, 10);
    expect(next).toHaveLength(1);
    pool.failed(next[0]!, t0 + 31_000);
    // Each failure doubles the wait for the whole host.
    expect(pool.ready(t0 + 31_000 + 40_000, 10)).toHaveLength(0);
    expect(pool.ready(t0 + 31_000 + 61_000, 10)).toHaveLength(1);
    // A tracker's peers behind one address (a carrier NAT) are not capped: trackers are not fed by strangers.
    const tracker = { kind: 'tracker' as const, from: 'http://t/announce' };
    expect(Array.from({ length: 20 }, (_, i) => pool.add([{ host: '192.0.2.200', port: 2000 + i }], tracker)).every(Boolean)).toBe(true);
    expect(pool.ready(t0, 100).filter((c) => c.source.kind === 'tracker')).toHaveLength(20);
  });

  it('LSD peers: a LAN host is capped per address (the LAN shares one IPv6 /64), an IPv6 /64 as a whole too, the kind within its own quota', () => {
    const pool = new PeerPool();
    const lsd = (host: string) => ({ kind: 'lsd' as const, from: host });
    // One host naming many ports: four of them.
    expect(Array.from({ length: 50 }, (_, i) => pool.add([{ host: '2001:db8:77::66', port: 1000 + i }], lsd('2001:db8:77::66'))).filter(Boolean)).toHaveLength(4);
    // Its neighbours on the same /64 are hosts of their own.
    for (let h = 1; h <= 10; h++) expect(pool.add([{ host: `2001:db8:77::${h}`, port: 6881 }], lsd(`2001:db8:77::${h}`))).toBe(true);
    // One host making up addresses in its /64 (the kernel takes any on-link source): 16 candidates for the whole /64.
    for (let i = 0; i < 1000; i++) {
      const host = `2001:db8:77::1:${i.toString(16)}`;
      pool.add([{ host, port: 6881 }], lsd(host));
    }
    expect(pool.countBySource().lsd).toBe(16);
    // A host of another /64 (another LAN, or IPv4) is not held up by it.
    expect(pool.add([{ host: '2001:db8:78::1', port: 6881 }], lsd('2001:db8:78::1'))).toBe(true);
    expect(pool.add([{ host: '192.168.1.7', port: 6881 }], lsd('192.168.1.7'))).toBe(true);
    // A flood of LAN addresses across networks stays within the kind's quota and evicts only its own kind.
    expect(pool.add([{ host: '198.51.100.9', port: 6881 }], { kind: 'tracker', from: 'http://t/announce' })).toBe(true);
    for (let i = 0; i < 1000; i++) {
      const host = `2001:db8:${(0x100 + i).toString(16)}::1`;
      pool.add([{ host, port: 6881 }], lsd(host));
    }
    expect(pool.countBySource().lsd).toBe(200);
    expect(pool.countBySource().tracker).toBe(1);
  });

  it('a candidate a tracker gave is marked as speaking uTP when a PEX partner says so later', () => {
    const pool = new PeerPool();
    const t = { host: '2001:db8:cc::1', port: 6881 };
    expect(pool.add([t], { kind: 'tracker' })).toBe(true);
    expect(pool.add([t], pex('[2001:db8:1::1]:6881'), { utp: true })).toBe(false); // known: not added twice
    expect(pool.where(() => true).map((c) => c.utp)).toEqual([false]);
    pool.speaksUtp({ host: '2001:db8:dd::1', port: 6881 }); // nobody there: nothing happens
    pool.speaksUtp(t);
    expect(pool.where(() => true).map((c) => c.utp)).toEqual([true]);
  });
});
