/**
 * LSD's limits, both ways, on the announcer and listener alone (src/lsd/lsd.ts over in-memory
 * multicast channels, a fake clock): each torrent is announced at start, a minute later, then
 * every 5 minutes, never twice within a minute whatever happens (interfaces coming and going),
 * and thousands of torrents are paced. What is heard: a flood from one address is cut before it
 * is parsed and does not lock out another host (of the same IPv6 /64 too), one host sending from
 * many addresses of its /64 gets 16 addresses' budget, our own cookie is
 * ignored, only torrents we run give peers, and nothing heard makes us send.
 * The real sockets and LANs are in test/netns/lsd-*.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Lsd, type LsdPeer } from '../../src/lsd/lsd.js';
import { buildAnnounce, parseAnnounce } from '../../src/lsd/message.js';
import { AnnounceSchedule, ANNOUNCE_INTERVAL_MS, MIN_INTERVAL_MS } from '../../src/lsd/schedule.js';
import type { Family } from '../../src/net/address.js';
import type { DatagramSource } from '../../src/transport/datagram.js';
import type { GroupInterface, MulticastChannel, MulticastSent } from '../../src/transport/multicast.js';

/** A group in memory: what was sent, and datagrams handed in as if from the LAN. */
class MemoryGroup implements MulticastChannel {
  readonly sent: Buffer[] = [];
  closed = false;
  private handler: (b: Buffer, from: DatagramSource) => void = () => {};

  constructor(
    readonly family: Family,
    public joined: GroupInterface[],
  ) {}

  interfaces(): GroupInterface[] {
    return this.joined;
  }
  async refresh(): Promise<string[]> {
    return [];
  }
  async send(b: Buffer): Promise<MulticastSent> {
    for (let i = 0; i < this.joined.length; i++) this.sent.push(b);
    return { sent: this.joined.length, failed: [] };
  }
  onMessage(handler: (b: Buffer, from: DatagramSource) => void): void {
    this.handler = handler;
  }
  deliver(b: Buffer, host: string): void {
    this.handler(b, { host, port: 40000 });
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const hash = (n: number) => Buffer.alloc(20, n);
const from = (family: Family, port: number, hashes: Buffer[], cookie = 'theirs') => buildAnnounce({ family, port, infoHashes: hashes, cookie });

describe('the announce schedule', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('announces a torrent at once, a minute later, then every 5 minutes; never twice within a minute, interfaces changing or not', () => {
    const s = new AnnounceSchedule(clock);
    s.add('a');
    expect(s.take()).toEqual(['a']);
    const sent = [now];
    for (let t = 0; t < 30 * 60; t++) {
      now += 1000;
      // Our interfaces change every 7 s (a flapping link): announces come as soon as the minute allows, no sooner.
      if (t % 7 === 0) s.soon();
      if (s.take().length) sent.push(now);
    }
    const gaps = sent.slice(1).map((t, i) => t - sent[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(MIN_INTERVAL_MS);
    // Without the flapping: at once, +1 min, then every 5 min.
    const quiet = new AnnounceSchedule(clock);
    quiet.add('b');
    const at: number[] = [];
    const t0 = now;
    for (let t = 0; t <= 12 * 60; t++, now += 1000) if (quiet.take().length) at.push(now - t0);
    expect(at).toEqual([0, MIN_INTERVAL_MS, MIN_INTERVAL_MS + ANNOUNCE_INTERVAL_MS, MIN_INTERVAL_MS + 2 * ANNOUNCE_INTERVAL_MS]);
  });

  it('paces thousands of torrents: 20 at once, then 10 a second, most overdue first; a torrent added again keeps its times', () => {
    const s = new AnnounceSchedule(clock);
    for (let i = 0; i < 2000; i++) s.add(`t${i}`);
    expect(s.take()).toHaveLength(20);
    now += 1000;
    const second = s.take();
    expect(second).toHaveLength(10);
    expect(second[0]).toBe('t20');
    s.add('t0'); // already there: not due again before its minute
    now += 1000;
    expect(s.take()).not.toContain('t0');
    s.remove('t30');
    let all = 0;
    for (let t = 0; t < 300; t++, now += 1000) all += s.take().length;
    expect(all).toBeLessThanOrEqual(300 * 10 + 20);
    expect(s.size).toBe(1999);
  });
});

describe('the announcer and listener', () => {
  let lsd: Lsd | undefined;
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(async () => {
    await lsd?.stop();
    lsd = undefined;
    vi.useRealTimers();
  });

  function start(groups: Partial<Record<Family, MemoryGroup>>, ports: Partial<Record<Family, number>> = { 4: 6881, 6: 6881 }) {
    lsd = new Lsd({ channels: groups, port: (f) => ports[f] ?? 0, cookie: 'ours' });
    const peers: [string, LsdPeer, Family][] = [];
    lsd.on('peer', (h, p, f) => peers.push([h, p, f]));
    lsd.start();
    return { lsd, peers };
  }

  it('announces each torrent over each family with our listening port and cookie, on every joined interface; nothing where it does not listen or has no interface', async () => {
    const v4 = new MemoryGroup(4, [{ name: 'eth0', address: '192.168.1.10' }, { name: 'wlan0', address: '10.0.0.5' }]);
    const v6 = new MemoryGroup(6, [{ name: 'eth0', address: '2001:db8::10' }]);
    const { lsd } = start({ 4: v4, 6: v6 }, { 4: 51413, 6: 51414 });
    lsd.add(hash(1));
    await vi.advanceTimersByTimeAsync(1000);
    expect(v4.sent).toHaveLength(2);
    expect(v6.sent).toHaveLength(1);
    expect(parseAnnounce(v4.sent[0]!)).toEqual({ port: 51413, infoHashes: [hash(1)], cookie: 'ours' });
    expect(v6.sent[0]!.toString()).toContain('Host: [ff15::efc0:988f]:6771');
    expect(parseAnnounce(v6.sent[0]!).port).toBe(51414);
    expect(lsd.stats()).toMatchObject({ torrents: 1, sent: 3 });
    // A minute later once more, then not for 5 minutes.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(v4.sent).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(4 * 60_000);
    expect(v4.sent).toHaveLength(4);
    lsd.remove(hash(1));
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(v4.sent).toHaveLength(4);

    const idle4 = new MemoryGroup(4, []);
    const six = new MemoryGroup(6, [{ name: 'eth0', address: 'fe80::1' }]);
    await lsd.stop();
    const other = start({ 4: idle4, 6: six }, { 4: 6881 }).lsd;
    other.add(hash(2));
    await vi.advanceTimersByTimeAsync(2000);
    expect(idle4.sent).toEqual([]); // no interface
    expect(six.sent).toEqual([]); // not listening over IPv6
    // Offline until now: the torrent waited, and goes out with the next round once an interface is there.
    idle4.joined = [{ name: 'wlan0', address: '10.1.1.5' }];
    await vi.advanceTimersByTimeAsync(1000);
    expect(idle4.sent).toHaveLength(1);
  });

  it('hands on peers only for torrents it announces; ignores its own cookie and what does not parse', async () => {
    const v4 = new MemoryGroup(4, [{ name: 'eth0', address: '192.168.1.10' }]);
    const { lsd, peers } = start({ 4: v4 });
    lsd.add(hash(1));
    v4.deliver(from(4, 7000, [hash(9), hash(1)]), '192.168.1.20');
    v4.deliver(from(4, 7001, [hash(9)]), '192.168.1.21');
    v4.deliver(from(4, 7002, [hash(1)], 'ours'), '192.168.1.10');
    v4.deliver(Buffer.from('M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n'), '192.168.1.1');
    expect(peers).toEqual([[hash(1).toString('hex'), { host: '192.168.1.20', port: 7000 }, 4]]);
    expect(lsd.stats()).toMatchObject({ heard: 2, peers: 1, dropped: { malformed: 1, flooding: 0, own: 1 } });
    lsd.remove(hash(1));
    v4.deliver(from(4, 7000, [hash(1)]), '192.168.1.22');
    expect(peers).toHaveLength(1);
  });

  it("one address's flood is cut before parsing, locks out no other host (not even one in the same IPv6 /64), and makes us send nothing", async () => {
    const v6 = new MemoryGroup(6, [{ name: 'eth0', address: '2001:db8::10' }]);
    const { lsd, peers } = start({ 6: v6 });
    lsd.add(hash(1));
    await vi.advanceTimersByTimeAsync(1000);
    const ours = v6.sent.length;
    // 50,000 announces from one host, each naming our torrent at another port.
    for (let i = 0; i < 50_000; i++) v6.deliver(from(6, 1024 + (i % 60000), [hash(1), hash(2)]), '2001:db8::66');
    const s = lsd.stats();
    expect(s.heard).toBeLessThanOrEqual(100);
    expect(s.dropped.flooding).toBeGreaterThanOrEqual(49_900);
    expect(peers.length).toBe(s.heard);
    // The honest neighbour in the same /64, right after: heard.
    v6.deliver(from(6, 6881, [hash(1)]), '2001:db8::77');
    expect(peers.at(-1)).toEqual([hash(1).toString('hex'), { host: '2001:db8::77', port: 6881 }, 6]);
    // The flooder's budget refills slowly (20 a second), not at once.
    await vi.advanceTimersByTimeAsync(1000);
    const before = lsd.stats().heard;
    for (let i = 0; i < 1000; i++) v6.deliver(from(6, 2000 + i, [hash(1)]), '2001:db8::66');
    expect(lsd.stats().heard - before).toBeLessThanOrEqual(21);
    // Nothing heard was answered: what we sent is our own schedule's.
    expect(v6.sent.length).toBe(ours);
  });

  it('one host sending from made-up addresses of its IPv6 /64 is heard within 16 addresses\' budget; other networks are not held up', async () => {
    const v6 = new MemoryGroup(6, [{ name: 'eth0', address: '2001:db8::10' }]);
    const v4 = new MemoryGroup(4, [{ name: 'eth0', address: '10.0.0.10' }]);
    const { lsd, peers } = start({ 4: v4, 6: v6 });
    lsd.add(hash(1));
    // 50,000 announces, each from another address of 2001:db8::/64 (the kernel takes any on-link source).
    for (let i = 0; i < 50_000; i++) v6.deliver(from(6, 6881, [hash(1)]), `2001:db8::${(i >> 16) & 0xffff}:${(i & 0xffff).toString(16)}`);
    expect(lsd.stats().heard).toBe(16 * 100);
    expect(peers).toHaveLength(16 * 100);
    // Another /64 and IPv4 are heard.
    v6.deliver(from(6, 6881, [hash(1)]), '2001:db8:1::7');
    v4.deliver(from(4, 6881, [hash(1)]), '10.0.0.7');
    expect(peers.slice(-2).map(([, p]) => p.host)).toEqual(['2001:db8:1::7', '10.0.0.7']);
    // The /64's budget refills at 16 addresses' rate (20 a second each).
    await vi.advanceTimersByTimeAsync(1000);
    const before = lsd.stats().heard;
    for (let i = 0; i < 5000; i++) v6.deliver(from(6, 6881, [hash(1)]), `2001:db8::1:${i.toString(16)}`);
    expect(lsd.stats().heard - before).toBeLessThanOrEqual(16 * 20 + 1);
  });

  it('a flood from many addresses keeps the table of budgets bounded and the honest host heard', () => {
    const v4 = new MemoryGroup(4, [{ name: 'eth0', address: '10.0.0.10' }]);
    const { lsd, peers } = start({ 4: v4 });
    lsd.add(hash(1));
    for (let i = 0; i < 20_000; i++) v4.deliver(from(4, 6881, [hash(3)]), `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    v4.deliver(from(4, 6881, [hash(1)]), '10.200.0.1');
    expect(peers).toHaveLength(1);
    expect(lsd.stats().heard).toBe(20_001);
  });

  it('stop closes its groups and ends the rounds', async () => {
    const v4 = new MemoryGroup(4, [{ name: 'eth0', address: '10.0.0.10' }]);
    const { lsd } = start({ 4: v4 });
    await lsd.stop();
    lsd.add(hash(1));
    await vi.advanceTimersByTimeAsync(5000);
    expect(v4.sent).toEqual([]);
    expect(v4.closed).toBe(true);
  });
});
