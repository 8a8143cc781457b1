/**
 * The sixswarm CLI with its default transports (TCP and uTP) and qBittorrent (qbittorrent-nox 4.5
 * on libtorrent 2.0) set to uTP only (Session\BTProtocol=UTP), over [::1]: sixswarm downloads from
 * a qBittorrent seed (which takes TCP connections and drops them: the dial goes on over uTP) and
 * seeds to a qBittorrent leecher that dials it over uTP; the data is verified and each
 * connection is a uTP one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadOverIPv6, logTiming, seedOverIPv6, since, stopSeed } from '../support/peers.js';
import { startQbittorrent } from '../support/qbittorrent.js';
import { cleanUpAfterEach, seedPayload, tempDir } from '../support/sixswarm.js';
import { sha1 } from '../support/utp.js';

const SIZE = 6 * 1024 * 1024 + 999;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function setup() {
  dir = await tempDir('sixswarm-transports-qbt-');
  const { torrent, meta, payload } = await seedPayload(dir, { 'data.bin': SIZE }, 64 * 1024);
  return { d: dir, torrent, hash: meta.infoHashHex, payload, env: { SIXSWARM_STATE_DIR: join(dir, 'state') } };
}

describe('sixswarm (TCP and uTP) with qBittorrent set to uTP only, over [::1]', () => {
  it('downloads from a qBittorrent seed over uTP', async () => {
    const { d, torrent, hash, payload, env } = await setup();
    const qbt = await startQbittorrent(join(d, 'qbt'), 'lo', 'UTP');
    try {
      await qbt.add({ torrent }, join(d, 'seed'));
      await qbt.complete(hash, 30_000);
      const t0 = Date.now();
      const leech = await downloadOverIPv6({ torrent, out: join(d, 'leech'), port: qbt.peerPort, env, timeoutMs: 30_000 });
      logTiming('qBittorrent (uTP only) -> sixswarm (tcp,utp)', SIZE, since(t0));
      expect(leech.events.filter((e) => e.event === 'peer-connected')).toEqual([expect.objectContaining({ transport: 'utp', direction: 'out' })]);
      expect(sha1(await readFile(join(d, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
    } finally {
      await qbt.stop();
    }
  });

  it('seeds to a qBittorrent leecher that dials it over uTP', async () => {
    const { d, torrent, hash, payload, env } = await setup();
    const seed = await seedOverIPv6({ torrent, dir: join(d, 'seed'), env });
    const qbt = await startQbittorrent(join(d, 'qbt'), '::1', 'UTP');
    try {
      await qbt.add({ torrent }, join(d, 'leech'));
      await qbt.ready(hash, 30_000);
      const t0 = Date.now();
      await qbt.addPeers(hash, [`[::1]:${await seed.port()}`]);
      await qbt.complete(hash, 60_000);
      logTiming('sixswarm (tcp,utp) -> qBittorrent (uTP only)', SIZE, since(t0));
      expect(sha1(await readFile(join(d, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
      expect(seed.events.filter((e) => e.event === 'peer-connected')).toEqual([expect.objectContaining({ transport: 'utp', direction: 'in' })]);
      expect(await stopSeed(seed)).toBeGreaterThanOrEqual(SIZE);
    } finally {
      await qbt.stop();
    }
  });
});
