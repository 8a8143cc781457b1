/** Blame for failed pieces: only the peers whose blocks were wrong are convicted. */
import { describe, expect, it } from 'vitest';
import { hostNetwork } from '../../src/net/address.js';
import { BanList, webSeedKey, webSeedOf } from '../../src/swarm/bans.js';
import { hostKey } from '../../src/net/address.js';
import { PeerPool } from '../../src/swarm/peer-pool.js';
import { BLOCK_SIZE } from '../../src/wire/messages.js';

/** A piece of four blocks, as the picker hands it over. */
const good = [0, 1, 2, 3].map(() => Buffer.alloc(BLOCK_SIZE, 7));
function corrupt(blocks: number[]): Buffer[] {
  const piece = good.map((b) => Buffer.from(b));
  for (const k of blocks) piece[k]![5]! ^= 0xff;
  return piece;
}

describe('BanList', () => {
  it('convicts a sole sender at once and bans it on the second offence', () => {
    const bans = new BanList();
    expect(bans.pieceFailed(0, corrupt([1]), ['10.0.0.9', '10.0.0.9', '10.0.0.9', '10.0.0.9'])).toEqual([]);
    expect(bans.isBanned('10.0.0.9')).toBe(false);
    expect(bans.pieceFailed(1, corrupt([0]), ['10.0.0.9', '10.0.0.9', '10.0.0.9', '10.0.0.9'])).toEqual(['10.0.0.9']);
    expect(bans.isBanned('10.0.0.9')).toBe(true);
  });

  it('bans a web seed at its first conviction, and no peer with it', () => {
    const bans = new BanList();
    const seed = webSeedKey('http://[::1]:8080/data/');
    expect(webSeedOf(seed)).toBe('http://[::1]:8080/data/');
    expect(webSeedOf('::1')).toBeUndefined();
    expect(bans.pieceFailed(0, corrupt([2]), [seed, seed, seed, seed])).toEqual([seed]);
    expect(bans.isBanned(seed)).toBe(true);
    expect(bans.isBanned('::1')).toBe(false);
    // Mixed with a peer, it is convicted only by its own blocks once the piece passes.
    const mixed = new BanList();
    expect(mixed.pieceFailed(1, corrupt([0]), [seed, '10.0.0.1', '10.0.0.1', '10.0.0.1'])).toEqual([]);
    expect(mixed.piecePassed(1, good)).toEqual([seed]);
  });

  it('never bans an honest peer that shared failed pieces with a liar', () => {
    const bans = new BanList();
    const senders = ['honest', 'liar', 'honest', 'honest'];
    for (let piece = 0; piece < 5; piece++) {
      expect(bans.pieceFailed(piece, corrupt([1]), senders)).toEqual([]);
      expect(bans.suspect(piece)).toBe(true);
    }
    expect(bans.isBanned('honest')).toBe(false);
    // The pieces pass once downloaded again: the liar's blocks differed from the good data.
    expect(bans.piecePassed(0, good)).toEqual([]);
    expect(bans.piecePassed(1, good)).toEqual(['liar']);
    expect(bans.isBanned('liar')).toBe(true);
    expect(bans.isBanned('honest')).toBe(false);
    expect(bans.suspect(1)).toBe(false);
  });

  it('keeps bounded evidence', () => {
    const bans = new BanList();
    const senders = ['a', 'b', 'a', 'b'];
    for (let piece = 0; piece < 1000; piece++) bans.pieceFailed(piece, corrupt([0]), senders);
    let kept = 0;
    for (let piece = 0; piece < 1000; piece++) if (bans.suspect(piece)) kept++;
    expect(kept).toBe(256);
  });
});

describe('what a ban or a per-host limit covers', () => {
  it('an IPv4 address, an IPv6 /64, and no grouping for loopback', () => {
    expect(hostNetwork('192.0.2.7')).toBe('192.0.2.7');
    expect(hostNetwork('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(hostNetwork('2001:db8:1:2:bbbb::9')).toBe(hostNetwork('2001:db8:1:2:aaaa::1'));
    expect(hostNetwork('2001:db8:1:3::1')).not.toBe(hostNetwork('2001:db8:1:2::1'));
    expect(hostNetwork('::1')).toBeUndefined();
    expect(hostNetwork('127.0.0.1')).toBeUndefined();
    expect(hostKey('::1')).toBe('::1');
  });

  it('a banned IPv6 host cannot come back from another address of its /64', () => {
    const bans = new BanList();
    const sole = (ip: string) => [ip, ip, ip, ip];
    bans.pieceFailed(0, corrupt([0]), sole('2001:db8:9:9::1'));
    expect(bans.pieceFailed(1, corrupt([0]), sole('2001:db8:9:9::2'))).toEqual(['2001:db8:9:9::/64']);
    expect(bans.isBanned('2001:db8:9:9:ffff::77')).toBe(true);
    expect(bans.isBanned('2001:db8:9:a::1')).toBe(false);
  });
});

describe('PeerPool', () => {
  it('parks a seed for half an hour, backs off failures, and forgets a banned host', () => {
    const pool = new PeerPool();
    pool.add([{ host: '192.0.2.1', port: 1 }], { kind: 'tracker' });
    pool.add([{ host: '192.0.2.2', port: 1 }], { kind: 'tracker' });
    pool.add([{ host: '2001:db8::5', port: 1 }], { kind: 'tracker' });
    const now = 1_000_000;
    const all = pool.ready(now, 3);
    // IPv6 first (Happy Eyeballs), then in the order they came.
    expect(all.map((c) => c.key)).toEqual(['[2001:db8::5]:1', '192.0.2.1:1', '192.0.2.2:1']);
    const [, a, b] = all;
    pool.park(a!, now);
    pool.failed(b!, now);
    const readyAt = (t: number) => pool.ready(t, 10).map((c) => c.key);
    expect(readyAt(now)).toEqual(['[2001:db8::5]:1']);
    expect(readyAt(now + 60_000)).toContain(b!.key);
    expect(readyAt(now + 60_000)).not.toContain(a!.key);
    expect(readyAt(now + 31 * 60_000)).toContain(a!.key);
    pool.dropWhere((c) => c.targets.some((t) => hostKey(t.host) === '2001:db8::/64'));
    expect(pool.size).toBe(2);
  });
});
