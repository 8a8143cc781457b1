/**
 * Rate limits against real libtorrent peers over [::1], measured on libtorrent's side: a
 * sixswarm download with --max-down takes from a libtorrent seed no more (and not much less)
 * than the limit over 30 s, and a sixswarm seed with --max-up gives two libtorrent leechers
 * together the limit, shared about evenly. Both run at once, so the whole test takes ~35 s.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { libtorrentPeer, waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, freePort, seedPayload, sixswarm, tempDir, type JsonEvent, type SixswarmProcess } from '../support/sixswarm.js';

const MiB = 1024 * 1024;
const LIMIT = 1 * MiB;
const WINDOW_S = 30;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

/**
 * Payload bytes `key` ('down' or 'up') moved over the WINDOW_S seconds that start at the last
 * sample before the first byte, from libtorrent's `stats` samples (every 0.25 s).
 */
function overWindow(p: SixswarmProcess, key: 'down' | 'up'): number | undefined {
  const samples = p.events.filter((e) => e.event === 'stats') as (JsonEvent & { t: number; down: number; up: number })[];
  const first = samples.findIndex((s) => s[key] > 0);
  if (first < 1) return undefined;
  const start = samples[first - 1]!;
  const end = samples.find((s) => s.t >= start.t + WINDOW_S);
  return end ? end[key] - start[key] : undefined;
}

describe('rate limits against libtorrent', () => {
  it(`--max-down and --max-up hold within 5% over ${WINDOW_S} s, and two leechers share the upload limit`, async () => {
    dir = await tempDir('sixswarm-rate-');
    const d = dir;
    const env = { SIXSWARM_STATE_DIR: join(d, 'state') };
    // Two torrents, so the two measurements cannot feed each other: 40 MiB each, more than 30 s at the limit.
    const down = await seedPayload(join(d, 'down'), { 'down.bin': 40 * MiB }, 256 * 1024);
    const up = await seedPayload(join(d, 'up'), { 'up.bin': 40 * MiB }, 256 * 1024);

    const ltSeedPort = await freePort();
    const ltSeed = libtorrentPeer({ torrent: down.torrent, save: join(d, 'down', 'seed'), port: ltSeedPort, stats: 0.25 });
    expect((await ltSeed.event('checked')).seeding).toBe(true);
    const leech = sixswarm(['download', down.torrent, '-o', join(d, 'down', 'leech'), '--peer', `[::1]:${ltSeedPort}`, '--port', '0', '--no-ipv4', '--max-down', '1M', '--json'], { env, label: 'sixswarm download' });

    const seed = sixswarm(['seed', up.torrent, join(d, 'up', 'seed'), '--port', '0', '--no-ipv4', '--max-up', '1M', '--json'], { env, label: 'sixswarm seed' });
    const seedPort = await seed.port();
    const leechers: SixswarmProcess[] = [];
    for (const i of [0, 1]) leechers.push(libtorrentPeer({ torrent: up.torrent, save: join(d, 'up', `lt${i}`), port: await freePort(), connect: [`[::1]:${seedPort}`], stats: 0.25 }));

    const downBytes = await waitUntil(() => overWindow(ltSeed, 'up'), (WINDOW_S + 15) * 1000, () => `libtorrent seed stats: ${ltSeed.tail()}\n${leech.tail()}`);
    const upBytes = await waitUntil(() => {
      const each = leechers.map((l) => overWindow(l, 'down'));
      return each.every((b) => b !== undefined) ? (each as number[]) : undefined;
    }, 15_000, () => `libtorrent leecher stats: ${leechers.map((l) => l.tail()).join('\n')}`);

    const downRate = downBytes / WINDOW_S;
    const upRate = (upBytes[0]! + upBytes[1]!) / WINDOW_S;
    console.info(`[rate] --max-down 1M: ${(downRate / MiB).toFixed(3)} MiB/s; --max-up 1M: ${(upRate / MiB).toFixed(3)} MiB/s (${upBytes.map((b) => (b / MiB).toFixed(1)).join(' + ')} MiB)`);
    expect(downRate).toBeLessThanOrEqual(LIMIT * 1.05);
    expect(downRate).toBeGreaterThanOrEqual(LIMIT * 0.95);
    expect(upRate).toBeLessThanOrEqual(LIMIT * 1.05);
    expect(upRate).toBeGreaterThanOrEqual(LIMIT * 0.95);
    for (const b of upBytes) expect(b / (upBytes[0]! + upBytes[1]!)).toBeGreaterThan(0.35);

    // The status feed says which limit is in force, and the download is not finished.
    const last = leech.events.filter((e) => e.event === 'progress').at(-1)!;
    expect(last.maxDown).toBe(LIMIT);
    expect(last.maxUp).toBeNull();
    expect(last.percent as number).toBeLessThan(100);
    expect(seed.events.filter((e) => e.event === 'progress').at(-1)!.maxUp).toBe(LIMIT);
  });
});
