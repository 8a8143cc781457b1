/**
 * Announces of many torrents through one AnnouncePacer (what a Client shares between all its
 * torrents), against the built-in tracker on [::1]: they are spaced, never in a burst, and no
 * torrent ever announces twice inside its min interval, even while asked for more peers all the
 * time (what a swarm running low does); each re-announce waits its interval plus a spread.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AnnouncePacer } from '../../src/tracker/announce-pacer.js';
import { TrackerServer, type ServerAnnounceEvent } from '../../src/tracker/server/tracker-server.js';
import { Announcer } from '../../src/tracker/announcer.js';
import { samePort } from '../support/ports.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Tracker interval 2 s: min interval 1 s (the server's half), our floor 1 s too. */
const INTERVAL_MS = 2000;
const MIN_INTERVAL_MS = 1000;
const GAP_MS = 25;
const TORRENTS = 12;

describe('announce spreading', () => {
  it('spaces the rounds of every torrent and never announces one torrent twice inside min interval', async () => {
    const server = new TrackerServer({ bind: ['::1'], http: true, intervalSec: INTERVAL_MS / 1000 });
    const seen: (ServerAnnounceEvent & { at: number })[] = [];
    server.on('announce', (e) => seen.push({ ...e, at: Date.now() }));
    await server.listen();
    cleanups.push(() => server.close());

    const pacer = new AnnouncePacer({ gapMs: GAP_MS });
    const sessions = Array.from({ length: TORRENTS }, (_, i) => {
      const s = new Announcer({
        infoHash: randomBytes(20),
        peerId: randomBytes(20),
        ports: samePort(42000 + i),
        tiers: [[`http://[::1]:${server.port}/announce`]],
        families: { 4: false, 6: true },
        getStats: () => ({ uploaded: 0, downloaded: 0, left: 0 }),
        ownAddresses: () => ({}),
        minIntervalFloorMs: MIN_INTERVAL_MS,
        timeoutMs: 3000,
        pacer,
      });
      cleanups.push(() => s.stop());
      return s;
    });
    const startedAt = Date.now();
    for (const s of sessions) s.start();
    // Every torrent keeps asking for more peers: each may announce only once its min interval has passed.
    const hammer = setInterval(() => {
      for (const s of sessions) s.requestMorePeers();
    }, 20);
    cleanups.push(() => clearInterval(hammer));
    await new Promise((r) => setTimeout(r, 6500));
    clearInterval(hammer);

    const regular = seen.filter((e) => e.event !== 'stopped');
    const byTorrent = new Map<string, number[]>();
    for (const e of regular) byTorrent.set(e.infoHash, [...(byTorrent.get(e.infoHash) ?? []), e.at]);
    expect(byTorrent.size).toBe(TORRENTS);
    for (const times of byTorrent.values()) {
      expect(times.length).toBeGreaterThanOrEqual(3); // spreading does not starve anyone
      for (let k = 1; k < times.length; k++) expect(times[k]! - times[k - 1]!).toBeGreaterThanOrEqual(MIN_INTERVAL_MS);
    }
    // The start was not a burst: twelve started announces took at least 11 gaps.
    const started = regular.filter((e) => e.event === 'started').map((e) => e.at);
    expect(started).toHaveLength(TORRENTS);
    expect(Math.max(...started) - startedAt).toBeGreaterThanOrEqual((TORRENTS - 1) * GAP_MS - 20);
    // Nowhere more announces in one second than the pacer lets through (a little slack for timers).
    const all = regular.map((e) => e.at).sort((a, b) => a - b);
    for (let i = 0; i < all.length; i++) {
      const inSecond = all.filter((t) => t >= all[i]! && t < all[i]! + 1000).length;
      expect(inSecond).toBeLessThanOrEqual(1000 / GAP_MS + 1);
    }
  });

  it('spreads a re-announce over interval..interval x (1 + jitter), never sooner', () => {
    const pacer = new AnnouncePacer({ jitter: 0.1 });
    const waits = Array.from({ length: 2000 }, () => pacer.spread(60_000));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(60_000);
    expect(Math.max(...waits)).toBeLessThanOrEqual(66_000);
    // Spread, not constant: the waits fill the range.
    expect(Math.max(...waits) - Math.min(...waits)).toBeGreaterThan(5_000);
  });

  it('a round waiting for its turn gives up at once when its torrent stops', async () => {
    const pacer = new AnnouncePacer({ gapMs: 10_000 });
    await pacer.slot(new AbortController().signal); // the first goes at once
    const ac = new AbortController();
    const t0 = Date.now();
    const waiting = pacer.slot(ac.signal);
    setTimeout(() => ac.abort(), 50);
    await waiting;
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
