/**
 * TrackerSession against the built-in TrackerServer over real sockets: HTTP and UDP, IPv4
 * (127.0.0.1) and IPv6 ([::1]), one announce per family with one key, BEP 7 ipv6= by policy.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerAddress } from '../../src/net/compact.js';
import { scrape } from '../../src/tracker/scrape.js';
import { Announcer, type AnnouncerOptions } from '../../src/tracker/announcer.js';
import type { AnnounceEvent } from '../../src/tracker/types.js';
import { TrackerServer, type ServerAnnounceEvent } from '../../src/tracker/server/tracker-server.js';
import { Tiers } from '../../src/tracker/tiers.js';
import { samePort } from '../support/ports.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(opts: ConstructorParameters<typeof TrackerServer>[0] = {}) {
  const server = new TrackerServer({ bind: ['127.0.0.1', '::1'], intervalSec: 60, ...opts });
  const seen: (ServerAnnounceEvent & { at: number })[] = [];
  server.on('announce', (e) => seen.push({ ...e, at: Date.now() }));
  await server.listen();
  cleanups.push(() => server.close());
  return { server, seen, port: server.port };
}

interface Recorder {
  session: Announcer;
  events: AnnounceEvent[];
  peers: PeerAddress[];
}

function session(infoHash: Buffer, port: number, tiers: string[][], extra: Partial<AnnouncerOptions> = {}): Recorder {
  const session = new Announcer({
    infoHash,
    peerId: randomBytes(20),
    ports: samePort(port),
    tiers,
    families: { 4: true, 6: true },
    getStats: () => ({ uploaded: 0, downloaded: 0, left: 1000 }),
    ownAddresses: () => ({}),
    minIntervalFloorMs: 300,
    udpRetransmitBaseMs: 200,
    timeoutMs: 3000,
    ...extra,
  });
  const r: Recorder = { session, events: [], peers: [] };
  session.on('announce', (e) => r.events.push(e));
  session.on('peers', (p) => r.peers.push(...p));
  cleanups.push(() => session.stop());
  return r;
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const has = (list: PeerAddress[], host: string, port: number) => list.some((p) => p.host === host && p.port === port);

describe.each(['http', 'udp'] as const)('%s tracker on 127.0.0.1 and [::1]', (proto) => {
  const urls = (port: number) =>
    proto === 'http' ? [`http://127.0.0.1:${port}/announce`, `http://[::1]:${port}/announce`] : [`udp://127.0.0.1:${port}`, `udp://[::1]:${port}`];

  it('two sessions find each other over both families, with one key per session on both', async () => {
    // interval 4 s: HTTP replies say min interval 2 s; BEP 15 has no min interval (the 300 ms floor rules).
    const { port, seen } = await startServer({ intervalSec: 4 });
    const ih = randomBytes(20);
    const a = session(ih, 41001, [urls(port)]);
    const b = session(ih, 41002, [urls(port)]);
    a.session.start();
    await until(() => seen.filter((e) => e.peer.endsWith(':41001')).length >= 2, 'A announced on both families');
    b.session.start();
    await until(() => has(b.peers, '127.0.0.1', 41001) && has(b.peers, '::1', 41001), 'B got A on both families');
    a.session.requestMorePeers();
    await until(() => has(a.peers, '127.0.0.1', 41002) && has(a.peers, '::1', 41002), 'A got B after requestMorePeers');
    const aTimes = (family: number) => seen.filter((e) => e.peer.endsWith(':41001') && e.family === family).map((e) => e.at);
    for (const family of [4, 6]) {
      const [first, second] = aTimes(family);
      const gap = second! - first!;
      if (proto === 'http') expect(gap).toBeGreaterThanOrEqual(1950);
      else expect(gap).toBeGreaterThanOrEqual(290);
      expect(gap).toBeLessThan(proto === 'http' ? 3500 : 1500); // sooner than the 4 s interval
    }

    // One announce per family, each from a socket of that family, the same key on both.
    const fromA = seen.filter((e) => e.peer.endsWith(':41001'));
    expect(new Set(fromA.map((e) => e.family))).toEqual(new Set([4, 6]));
    expect(new Set(fromA.map((e) => e.key)).size).toBe(1);
    expect(fromA[0]!.key).toBe(a.session.key.toString(16).padStart(8, '0'));
    expect(fromA.every((e) => e.transport === proto)).toBe(true);
    expect(seen.find((e) => e.peer.endsWith(':41002'))!.key).not.toBe(fromA[0]!.key);

    // Never listed to itself, never peers of our own port.
    expect(a.peers.some((p) => p.port === 41001)).toBe(false);
    // The announce events say which family and how many peers each list carried.
    const okB = b.events.filter((e) => !e.error && e.event === 'started');
    expect(okB.map((e) => e.family).sort()).toEqual([4, 6]);
    for (const e of okB) expect(e.nextAnnounceInMs).toBeGreaterThanOrEqual(300);
    if (proto === 'udp') {
      // UDP carries the requester's family only: 6-byte entries over IPv4, 18-byte over IPv6.
      expect(okB.find((e) => e.family === 4)).toMatchObject({ peers4: 1, peers6: 0 });
      expect(okB.find((e) => e.family === 6)).toMatchObject({ peers4: 0, peers6: 1 });
    } else {
      for (const e of okB) expect(e).toMatchObject({ peers4: 1, peers6: 1 });
    }
    // A literal of the other family is not announced to at all: nothing failed.
    expect([...a.events, ...b.events].filter((x) => x.error)).toEqual([]);

    await a.session.stop();
    await until(() => seen.some((e) => e.peer.endsWith(':41001') && e.event === 'stopped'), 'stopped reached the tracker');
    expect(seen.filter((e) => e.peer.endsWith(':41001') && e.event === 'stopped').map((e) => e.family).sort()).toEqual([4, 6]);
  });

  it('completed is sent at once, and scrape counts the seed', async () => {
    const { port, seen } = await startServer();
    const ih = randomBytes(20);
    let left = 1000;
    const a = session(ih, 41003, [urls(port)], { getStats: () => ({ uploaded: 5, downloaded: 1000 - left, left }) });
    a.session.start();
    await until(() => a.events.filter((e) => !e.error).length >= 2, 'started on both families');
    left = 0;
    a.session.completed();
    await until(() => seen.filter((e) => e.event === 'completed').length >= 2, 'completed on both families');
    expect(seen.filter((e) => e.event === 'completed').every((e) => e.left === 0)).toBe(true);
    for (const url of urls(port)) {
      const counts = await scrape(url, [ih, randomBytes(20)], { timeoutMs: 3000, udpRetransmitBaseMs: 200 });
      expect(counts.get(ih.toString('hex'))).toEqual({ complete: 1, incomplete: 0, downloaded: 1 });
    }
  });
});

describe('BEP 7 ipv6= over IPv4 (HTTP)', () => {
  const GLOBAL = '2001:db8::5';

  it('auto: sends our global IPv6 address to a tracker unreachable over IPv6, and an honouring server hands it out', async () => {
    const { port, seen } = await startServer({ honorIpParams: true });
    const ih = randomBytes(20);
    // An IPv4-literal tracker URL: the IPv6 announce to it cannot happen, so ipv6= is warranted.
    const a = session(ih, 41010, [[`http://127.0.0.1:${port}/announce`]], { ownAddresses: () => ({ 6: GLOBAL }) });
    a.session.start();
    await until(() => seen.some((e) => e.peer === '127.0.0.1:41010'), 'A announced');
    const ev = seen.find((e) => e.peer === '127.0.0.1:41010')!;
    expect(ev.claimed).toEqual({ 6: GLOBAL });
    expect(ev.extra).toEqual([`[${GLOBAL}]:41010`]);
    // Not announced to over IPv6 at all (an IPv4 literal), which is no error.
    expect(a.events.filter((e) => e.family === 6)).toEqual([]);

    const b = session(ih, 41011, [[`http://[::1]:${port}/announce`]], { families: { 4: false, 6: true } });
    b.session.start();
    await until(() => has(b.peers, GLOBAL, 41010), 'B got A\'s announced IPv6 address');
    expect(has(b.peers, '127.0.0.1', 41010)).toBe(true);
  });

  it('a server without --honor-ip-params ignores ipv6=', async () => {
    const { port, seen } = await startServer();
    const ih = randomBytes(20);
    const a = session(ih, 41012, [[`http://127.0.0.1:${port}/announce`]], { ownAddresses: () => ({ 6: GLOBAL }) });
    a.session.start();
    await until(() => seen.some((e) => e.peer === '127.0.0.1:41012'), 'A announced');
    expect(seen[0]!.claimed).toEqual({ 6: GLOBAL });
    expect(seen[0]!.extra).toEqual([]);
    const b = session(ih, 41013, [[`http://[::1]:${port}/announce`]], { families: { 4: false, 6: true } });
    b.session.start();
    await until(() => b.events.some((e) => !e.error), 'B announced');
    expect(b.peers.some((p) => p.family === 6 && p.port === 41012)).toBe(false);
  });

  it.each([
    ['never', GLOBAL, { 4: true, 6: true }],
    ['always', '::1', { 4: true, 6: true }],
    ['always', 'fe80::1', { 4: true, 6: true }],
    ['always', 'fd00::1', { 4: true, 6: true }],
    ['always', '::ffff:192.0.2.1', { 4: true, 6: true }],
    ['always', 'ff02::1', { 4: true, 6: true }],
    ['always', GLOBAL, { 4: true, 6: false }],
  ] as const)('not sent: policy %s with own address %s (families %j)', async (policy, own, families) => {
    const { port, seen } = await startServer({ honorIpParams: true });
    const a = session(randomBytes(20), 41014, [[`http://127.0.0.1:${port}/announce`]], { announceIp: policy, ownAddresses: () => ({ 6: own }), families });
    a.session.start();
    await until(() => seen.length > 0, 'announce');
    expect(seen[0]!.claimed).toEqual({});
  });

  it('always: sent even to a tracker reachable over IPv6 too', async () => {
    const { port, seen } = await startServer({ honorIpParams: true });
    const a = session(randomBytes(20), 41015, [[`http://127.0.0.1:${port}/announce`]], { announceIp: 'always', ownAddresses: () => ({ 6: GLOBAL }) });
    a.session.start();
    await until(() => seen.length > 0, 'announce');
    expect(seen[0]!.claimed).toEqual({ 6: GLOBAL });
  });

  it('ipv4= goes over IPv6 symmetrically, and never over UDP (BEP 15 has no field for it)', async () => {
    const { port, seen } = await startServer({ honorIpParams: true });
    const a = session(randomBytes(20), 41016, [[`http://[::1]:${port}/announce`]], { ownAddresses: () => ({ 4: '192.0.2.7', 6: GLOBAL }) });
    a.session.start();
    await until(() => seen.length > 0, 'announce');
    expect(seen[0]!.claimed).toEqual({ 4: '192.0.2.7' });
    expect(seen[0]!.extra).toEqual(['192.0.2.7:41016']);

    const u = session(randomBytes(20), 41017, [[`udp://127.0.0.1:${port}`]], { announceIp: 'always', ownAddresses: () => ({ 6: GLOBAL }) });
    u.session.start();
    await until(() => seen.some((e) => e.transport === 'udp'), 'UDP announce');
    expect(seen.find((e) => e.transport === 'udp')!.claimed).toEqual({});
  });
});

describe('tiers (BEP 12)', () => {
  it('a dead tracker fails as an event and the next one in the tier is used, then promoted', async () => {
    const { port, seen } = await startServer();
    // Grab a port nobody listens on (TCP connection refused).
    const dead = new TrackerServer({ bind: ['127.0.0.1'], http: true });
    await dead.listen();
    const deadPort = dead.port;
    await dead.close();
    const a = session(randomBytes(20), 41020, [[`http://127.0.0.1:${deadPort}/announce`], [`http://127.0.0.1:${port}/announce`]], {
      families: { 4: true, 6: false },
    });
    a.session.start();
    await until(() => seen.length === 1, 'announce to the live tracker');
    expect(a.events[0]).toMatchObject({ tracker: `http://127.0.0.1:${deadPort}/announce`, family: 4, event: 'started' });
    expect(a.events[0]!.error).toMatch(/ECONNREFUSED/);
    await until(() => a.events.length >= 2, 'event for the live tracker');
    expect(a.events[1]).toMatchObject({ tracker: `http://127.0.0.1:${port}/announce`, event: 'started' });
    expect(a.events[1]!.error).toBeUndefined();
  });

  it('each tier is shuffled within itself; promotion moves a tracker to the front of its own tier', () => {
    const orders = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const t = new Tiers([['a', 'b', 'c'], [], ['d', 'e']]);
      expect(t.tiers.map((x) => [...x].sort())).toEqual([['a', 'b', 'c'], ['d', 'e']]);
      orders.add(t.order().join(''));
    }
    expect(orders.size).toBeGreaterThan(1);
    const t = new Tiers([['a', 'b', 'c'], ['d', 'e']]);
    t.promote('c');
    t.promote('e');
    expect(t.tiers.map((x) => x[0])).toEqual(['c', 'e']);
  });

  it('after a success the working tracker is tried first: the dead one of the same tier is not retried', async () => {
    const { port } = await startServer({ intervalSec: 1 });
    const dead = new TrackerServer({ bind: ['127.0.0.1'], http: true });
    await dead.listen();
    const deadUrl = `http://127.0.0.1:${dead.port}/announce`;
    await dead.close();
    const live = `http://127.0.0.1:${port}/announce`;
    for (let run = 0; run < 4; run++) {
      const a = session(randomBytes(20), 41030 + run, [[deadUrl, live]], { families: { 4: true, 6: false } });
      a.session.start();
      await until(() => a.events.filter((e) => !e.error).length >= 2, 'two announces to the live tracker');
      const afterFirstSuccess = a.events.slice(a.events.findIndex((e) => !e.error) + 1);
      expect(afterFirstSuccess.map((e) => e.tracker)).toEqual([live]);
      await a.session.stop();
    }
  });
});

