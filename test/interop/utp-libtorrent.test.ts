/**
 * uTP interop with libtorrent-rasterbar 2.0 (python3-libtorrent) with its TCP switched off both
 * ways: an engine that speaks only uTP (`new UtpNetwork(new KernelNetwork())`, no TCP socket at
 * all) downloads from a libtorrent seed and seeds to a libtorrent leecher, over IPv6 and IPv4
 * loopback, in plaintext and with MSE (RC4) required; the data is verified, and libtorrent
 * itself reports the connection as uTP (and RC4 when required).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { libtorrentPeer, logTiming } from '../support/peers.js';
import { cleanUpAfterEach, freePort, seedPayload, tempDir } from '../support/sixswarm.js';
import { LOOPBACK, sha1, utpEngine, type UtpEngine } from '../support/utp.js';

const MiB = 1024 * 1024;
const SIZE = 12 * MiB + 12345;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

const cases = [
  { family: 6, encryption: 'off' },
  { family: 6, encryption: 'require' },
  { family: 4, encryption: 'off' },
  { family: 4, encryption: 'require' },
] as const;

const hostPort = (family: 4 | 6, port: number) => (family === 6 ? `[::1]:${port}` : `127.0.0.1:${port}`);

describe.each(cases)('uTP with libtorrent over IPv$family, encryption $encryption', ({ family, encryption }) => {
  it('downloads from a libtorrent uTP seed', async () => {
    dir = await tempDir('sixswarm-utp-lt-');
    const { torrent, payload } = await seedPayload(dir, { 'data.bin': SIZE }, 256 * 1024);
    const ltPort = await freePort();
    const lt = libtorrentPeer({ torrent, save: join(dir, 'seed'), port: ltPort, utp: true, listen: [LOOPBACK[family]] });
    expect((await lt.event('checked')).seeding).toBe(true);
    let engine: UtpEngine | undefined;
    try {
      engine = await utpEngine({ family, torrent, dir: join(dir, 'leech'), stateDir: join(dir, 'state'), encryption });
      const t0 = Date.now();
      engine.torrent.swarm!.addPeers([{ host: LOOPBACK[family], port: ltPort }], { kind: 'manual' });
      const connected = await engine.event((e) => e.event === 'peer-connected', 20_000, 'libtorrent connected');
      expect(connected).toMatchObject({ direction: 'out', encrypted: encryption === 'require' });
      await engine.event((e) => e.event === 'complete', 60_000, 'the download completed');
      logTiming(`libtorrent -> sixswarm over uTP/IPv${family} (${encryption})`, SIZE, Date.now() - t0);
      expect(engine.events.filter((e) => e.event === 'piece-failed')).toEqual([]);
      expect(sha1(await readFile(join(dir, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
      const stats = (await engine.network.stats())[family]!;
      expect(stats.datagramsIn).toBeGreaterThan(SIZE / 1500);
      // libtorrent's own account: the peer it serves is on uTP (and RC4 when required).
      const peers = lt.events.filter((e) => e.event === 'peers');
      expect(peers.some((e) => (e.utp as string[]).length === 1)).toBe(true);
      if (encryption === 'require') expect(peers.some((e) => (e.rc4 as string[]).length === 1)).toBe(true);
    } finally {
      await engine?.close();
    }
  });

  it('seeds to a libtorrent uTP leecher', async () => {
    dir = await tempDir('sixswarm-utp-lt-');
    const { torrent, payload } = await seedPayload(dir, { 'data.bin': SIZE }, 256 * 1024);
    let engine: UtpEngine | undefined;
    try {
      engine = await utpEngine({ family, torrent, dir: join(dir, 'seed'), stateDir: join(dir, 'state'), encryption });
      await engine.event((e) => e.event === 'complete', 30_000, 'the seed checked its data');
      const t0 = Date.now();
      const lt = libtorrentPeer({ torrent, save: join(dir, 'leech'), port: await freePort(), utp: true, listen: [LOOPBACK[family]], connect: [hostPort(family, engine.port)] });
      const done = await lt.event('complete', 60_000);
      logTiming(`sixswarm -> libtorrent over uTP/IPv${family} (${encryption})`, SIZE, Date.now() - t0);
      expect(done.failed, 'bytes that failed libtorrent hash checks').toBe(0);
      expect(sha1(await readFile(join(dir, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
      const connected = engine.events.find((e) => e.event === 'peer-connected');
      expect(connected).toMatchObject({ direction: 'in', encrypted: encryption === 'require' });
      const peers = lt.events.filter((e) => e.event === 'peers');
      expect(peers.some((e) => (e.utp as string[]).length === 1)).toBe(true);
    } finally {
      await engine?.close();
    }
  });
});
