/**
 * TrackerSession against the real opentracker (Debian build: IPv4 only, no peers6, lists the
 * announcer to itself, whitelist mode). IPv4 works over HTTP and UDP; the IPv6 announce fails
 * cleanly as an event while IPv4 keeps working.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PeerAddress } from '../../src/net/compact.js';
import { scrape } from '../../src/tracker/scrape.js';
import { Announcer, type AnnouncerOptions } from '../../src/tracker/announcer.js';
import type { AnnounceEvent } from '../../src/tracker/types.js';
import { startOpentracker, type Opentracker } from '../support/opentracker.js';
import { samePort } from '../support/ports.js';

const IH = randomBytes(20);
let dir = '';
let port = 0;
let ot: Opentracker | undefined;
const otLog = () => ot?.log() ?? '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sixswarm-ot-'));
  ot = await startOpentracker(dir, [IH.toString('hex')]);
  port = ot.port;
});

afterAll(async () => {
  await ot?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sessions: Announcer[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.stop()));
});

function session(ourPort: number, tiers: string[][], extra: Partial<AnnouncerOptions> = {}) {
  const events: AnnounceEvent[] = [];
  const peers: PeerAddress[] = [];
  const s = new Announcer({
    infoHash: IH,
    peerId: randomBytes(20),
    ports: samePort(ourPort),
    tiers,
    families: { 4: true, 6: true },
    getStats: () => ({ uploaded: 0, downloaded: 0, left: 1000 }),
    ownAddresses: () => ({ 6: '2001:db8::5' }),
    // opentracker lists the announcer to itself: the engine tells us our listener addresses.
    isSelf: (p) => p.port === ourPort,
    minIntervalFloorMs: 300,
    udpRetransmitBaseMs: 300,
    timeoutMs: 3000,
    ...extra,
  });
  s.on('announce', (e) => events.push(e));
  s.on('peers', (p) => peers.push(...p));
  sessions.push(s);
  return { s, events, peers };
}

async function until(cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; opentracker log: ${otLog()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const has = (list: PeerAddress[], p: number) => list.some((x) => x.host === '127.0.0.1' && x.port === p);

describe('opentracker (IPv4-only Debian build)', () => {
  it('HTTP: two sessions see each other over IPv4; the IPv6 announce fails cleanly', async () => {
    const tiers = [[`http://127.0.0.1:${port}/announce`, `http://[::1]:${port}/announce`]];
    const a = session(42001, tiers);
    a.s.start();
    await until(() => a.events.some((e) => e.family === 4 && !e.error), 'A announced over IPv4');
    const b = session(42002, tiers);
    b.s.start();
    await until(() => has(b.peers, 42001), 'B got A');
    // opentracker's min interval is long; completed goes out at once and brings B back.
    a.s.completed();
    await until(() => has(a.peers, 42002), 'A got B');
    const aOk = a.events.filter((e) => !e.error);
    expect(aOk.map((e) => [e.family, e.event])).toEqual([
      [4, 'started'],
      [4, 'completed'],
    ]);
    expect(aOk[0]!.dropped).toBe(1); // itself
    expect(aOk[0]!.peers6).toBe(0); // never sends peers6
    expect(aOk[0]!.nextAnnounceInMs).toBeGreaterThan(60_000); // its interval is honoured
    // IPv6: [::1] refuses the connection (an error event, nothing throws); the IPv4 literal is not
    // announced to over IPv6 at all.
    await until(() => a.events.filter((e) => e.family === 6).length >= 2, 'two IPv6 failures');
    const v6 = a.events.filter((e) => e.family === 6);
    expect(v6.every((e) => e.error && /ECONNREFUSED/.test(e.error))).toBe(true);
    expect(v6.every((e) => !e.tracker.includes('127.0.0.1'))).toBe(true);
    expect(v6[0]!.nextAnnounceInMs).toBe(300); // backoff from the floor
    expect(v6[1]!.nextAnnounceInMs).toBe(600);
  });

  it('UDP: two sessions see each other over IPv4; udp://[::1] fails cleanly', async () => {
    const tiers = [[`udp://127.0.0.1:${port}`], [`udp://[::1]:${port}`]];
    const a = session(42011, tiers);
    a.s.start();
    await until(() => a.events.some((e) => e.family === 4 && !e.error), 'A announced over IPv4');
    const b = session(42012, tiers);
    b.s.start();
    await until(() => has(b.peers, 42011), 'B got A');
    // BEP 15 has no min interval: a request for more peers goes out after the floor.
    a.s.requestMorePeers();
    await until(() => has(a.peers, 42012), 'A got B');
    await until(() => a.events.some((e) => e.family === 6 && e.tracker.includes('[::1]')), 'IPv6 failure');
    expect(a.events.find((e) => e.family === 6 && e.tracker.includes('[::1]'))!.error).toMatch(/ECONNREFUSED/);
    expect(a.events.filter((e) => e.family === 4).every((e) => !e.error)).toBe(true);
  });

  it('a hash outside the whitelist gives the failure reason as an error event', async () => {
    const a = session(42021, [[`http://127.0.0.1:${port}/announce`]], { infoHash: randomBytes(20), families: { 4: true, 6: false } });
    a.s.start();
    await until(() => a.events.length > 0, 'event');
    expect(a.events[0]!.error).toMatch(/^tracker refused: Requested download is not authorized/);
  });

  it('scrape over HTTP and UDP', async () => {
    const a = session(42031, [[`http://127.0.0.1:${port}/announce`]], { families: { 4: true, 6: false } });
    a.s.start();
    await until(() => a.events.some((e) => !e.error), 'announce');
    for (const url of [`http://127.0.0.1:${port}/announce`, `udp://127.0.0.1:${port}`]) {
      const r = await scrape(url, [IH], { timeoutMs: 3000, udpRetransmitBaseMs: 300 });
      expect(r.get(IH.toString('hex'))!.incomplete).toBeGreaterThanOrEqual(1);
    }
  });
});
