/**
 * uTP interop with transmission-daemon 3.00, whose uTP is libutp, the reference implementation:
 * an engine that speaks only uTP (no TCP socket at all) seeds to transmission and downloads from
 * it over IPv4 loopback, data verified, and transmission lists the peer as a uTP one.
 * transmission never dials loopback peers, so the engine dials it both ways; it turns interested
 * or unchokes only on its 10 s rechoke timer, so each transfer takes 10-20 s.
 *
 * Not over IPv6: transmission 3.00 opens its IPv6 UDP socket (DHT and uTP) only once it has a
 * global IPv6 address (measured: with bind-address-ipv6 ::1 it listens on UDP 127.0.0.1 alone).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { logTiming, startTransmission, waitUntil, type Transmission } from '../support/peers.js';
import { cleanUpAfterEach, freePort, seedPayload, tempDir } from '../support/sixswarm.js';
import { LOOPBACK, sha1, utpEngine, type UtpEngine } from '../support/utp.js';

const SIZE = 6 * 1024 * 1024 + 4321;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** Add the torrent and wait for transmission's check of the data in `dir`. */
async function addChecked(tr: Transmission, torrent: string, dir: string): Promise<void> {
  await tr.remote(['-a', torrent, '-w', dir]);
  await waitUntil(async () => !/Verifying|Queued|^$/.test((await tr.info()).get('State') ?? ''), 15_000, () => 'transmission finishing its check');
}

/** The flags transmission shows for its peers (`transmission-remote -ip`: T is uTP, E encrypted). */
async function peerFlags(tr: Transmission): Promise<string[]> {
  const lines = (await tr.remote(['-t', '1', '-ip'])).split('\n').slice(1).filter((l) => l.trim());
  return lines.map((l) => l.trim().split(/\s+/)[1] ?? '');
}

describe.each([4] as const)('uTP with transmission (libutp) over IPv%i', (family) => {
  it('transmission downloads from a uTP-only engine that dials it', { timeout: 90_000 }, async () => {
    dir = await tempDir('sixswarm-utp-tr-');
    const { torrent, payload } = await seedPayload(dir, { 'data.bin': SIZE }, 64 * 1024);
    const tr = await startTransmission({ configDir: join(dir, 'tr'), downloadDir: join(dir, 'leech'), peerPort: await freePort(), rpcPort: await freePort(), utp: true });
    await addChecked(tr, torrent, join(dir, 'leech'));
    let engine: UtpEngine | undefined;
    try {
      engine = await utpEngine({ family, torrent, dir: join(dir, 'seed'), stateDir: join(dir, 'state') });
      await engine.event((e) => e.event === 'complete', 30_000, 'the seed checked its data');
      const t0 = Date.now();
      engine.torrent.swarm!.addPeers([{ host: LOOPBACK[family], port: tr.peerPort }], { kind: 'manual' });
      const connected = await engine.event((e) => e.event === 'peer-connected', 20_000, 'transmission connected');
      expect(connected).toMatchObject({ direction: 'out', client: '-TR3000-' });
      const flags = await waitUntil(async () => (await peerFlags(tr)).find((f) => f.includes('T')), 20_000, () => 'transmission listing a uTP peer');
      expect(flags).toContain('T');
      await waitUntil(async () => (await tr.info()).get('Percent Done') === '100%', 60_000, () => 'transmission completing');
      logTiming(`sixswarm -> transmission over uTP/IPv${family}`, SIZE, Date.now() - t0);
      const info = await tr.info();
      expect(info.get('Corrupt DL')).toBe('None');
      expect(sha1(await readFile(join(dir, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
    } finally {
      await engine?.close();
    }
  });

  it('a uTP-only engine downloads from a transmission seed, encrypted', { timeout: 90_000 }, async () => {
    dir = await tempDir('sixswarm-utp-tr-');
    const { torrent, payload } = await seedPayload(dir, { 'data.bin': SIZE }, 64 * 1024);
    const tr = await startTransmission({ configDir: join(dir, 'tr'), downloadDir: join(dir, 'seed'), peerPort: await freePort(), rpcPort: await freePort(), utp: true, encryption: 2 });
    await addChecked(tr, torrent, join(dir, 'seed'));
    let engine: UtpEngine | undefined;
    try {
      engine = await utpEngine({ family, torrent, dir: join(dir, 'leech'), stateDir: join(dir, 'state'), encryption: 'require' });
      const t0 = Date.now();
      engine.torrent.swarm!.addPeers([{ host: LOOPBACK[family], port: tr.peerPort }], { kind: 'manual' });
      const connected = await engine.event((e) => e.event === 'peer-connected', 20_000, 'connected to transmission');
      expect(connected).toMatchObject({ direction: 'out', client: '-TR3000-', encrypted: true });
      await engine.event((e) => e.event === 'complete', 60_000, 'the download completed');
      logTiming(`transmission -> sixswarm over uTP/IPv${family} (RC4)`, SIZE, Date.now() - t0);
      expect(engine.events.filter((e) => e.event === 'piece-failed')).toEqual([]);
      expect(sha1(await readFile(join(dir, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
      expect((await engine.network.stats())[family]!.datagramsIn).toBeGreaterThan(SIZE / 1500);
    } finally {
      await engine?.close();
    }
  });
});
