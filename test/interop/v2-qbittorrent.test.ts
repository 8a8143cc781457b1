/**
 * BitTorrent v2 (BEP 52) against qBittorrent (qbittorrent-nox 4.5 on libtorrent 2.0, driven over
 * its WebUI API on loopback), as a second v2 client besides python3-libtorrent: it seeds a
 * v2-only torrent sixswarm made, which sixswarm downloads by file and by magnet over v2
 * connections; and it downloads a v2-only and a hybrid torrent from a sixswarm seed.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { downloadOverIPv6, logTiming, seedOverIPv6, since, stopSeed } from '../support/peers.js';
import { startQbittorrent, type Qbittorrent } from '../support/qbittorrent.js';
import { cleanUpAfterEach, makeTree, runCli, tempDir, treeDigest, type SixswarmProcess } from '../support/sixswarm.js';

const MiB = 1024 * 1024;
const TREE = { 'a.bin': 3 * MiB + 777, 'sub/b.bin': 1 * MiB + 4099, 'sub/c.txt': 5000 };
const TREE_BYTES = Object.values(TREE).reduce((a, b) => a + b, 0);

let dir: string | undefined;
let qbt: Qbittorrent | undefined;
cleanUpAfterEach(() => dir);

async function setup(format: 'v2' | 'hybrid') {
  dir = await tempDir('sixswarm-interop-qbt-');
  await makeTree(join(dir, 'seed', 'payload'), TREE);
  const torrent = join(dir, `${format}.torrent`);
  const r = await runCli(['create', join(dir, 'seed', 'payload'), '-o', torrent, '--piece-length', '64K', `--${format}`]);
  expect(r.code, r.stderr).toBe(0);
  const meta = await readTorrentFile(torrent);
  // qBittorrent's WebUI names a torrent with a v2 hash (a hybrid too) by that hash cut to 40 hex digits.
  return { d: dir, torrent, hash: meta.infoHashV2!.subarray(0, 20).toString('hex'), env: { SIXSWARM_STATE_DIR: join(dir, 'state') } };
}

function expectV2Connections(p: SixswarmProcess): void {
  const connected = p.events.filter((e) => e.event === 'peer-connected');
  expect(connected.length).toBeGreaterThan(0);
  for (const c of connected) expect(c.v2, JSON.stringify(c)).toBe(true);
}

describe('BitTorrent v2 with qBittorrent over [::1]', () => {
  it('sixswarm downloads a v2-only torrent by file and by magnet from a qBittorrent seed', async () => {
    const { d, torrent, hash, env } = await setup('v2');
    qbt = await startQbittorrent(join(d, 'qbt'), 'lo');
    try {
      await qbt.add({ torrent }, join(d, 'seed'));
      await qbt.complete(hash, 30_000); // checked: it has every piece
      const t0 = Date.now();
      const byFile = await downloadOverIPv6({ torrent, out: join(d, 'by-file'), port: qbt.peerPort, env, timeoutMs: 30_000 });
      logTiming('qBittorrent -> sixswarm (v2 only)', TREE_BYTES, since(t0));
      expectV2Connections(byFile);
      expect(byFile.events.find((e) => e.event === 'peer-connected')?.client).toMatch(/^qBittorrent|^-qB/);
      expect(await treeDigest(join(d, 'by-file'))).toEqual(await treeDigest(join(d, 'seed')));
      const magnet = (await runCli(['info', torrent, '--magnet'])).stdout.trim();
      const byMagnet = await downloadOverIPv6({ torrent: magnet, out: join(d, 'by-magnet'), port: qbt.peerPort, env: { SIXSWARM_STATE_DIR: join(d, 'state-magnet') }, timeoutMs: 30_000 });
      expectV2Connections(byMagnet);
      // Its piece layers came from qBittorrent.
      const hashes = byMagnet.events.filter((e) => e.event === 'progress').at(-1)!.hashes as { fetched: number };
      expect(hashes.fetched).toBeGreaterThanOrEqual(2);
      expect(await treeDigest(join(d, 'by-magnet'))).toEqual(await treeDigest(join(d, 'seed')));
    } finally {
      await qbt.stop();
    }
  });

  it.each(['v2', 'hybrid'] as const)('qBittorrent downloads a %s torrent from a sixswarm seed', async (format) => {
    const { d, torrent, hash, env } = await setup(format);
    const seed = await seedOverIPv6({ torrent, dir: join(d, 'seed'), env });
    qbt = await startQbittorrent(join(d, 'qbt'), '::1');
    try {
      await qbt.add({ torrent }, join(d, 'leech'));
      // A peer added while it still checks its (empty) folder is forgotten: add it once it waits for peers.
      await qbt.ready(hash, 30_000);
      const t0 = Date.now();
      await qbt.addPeers(hash, [`[::1]:${await seed.port()}`]);
      const done = await qbt.complete(hash, 60_000);
      logTiming(`sixswarm -> qBittorrent (${format})`, TREE_BYTES, since(t0));
      expect(done.progress).toBe(1);
      expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
      expectV2Connections(seed);
      expect(await stopSeed(seed)).toBeGreaterThanOrEqual(TREE_BYTES);
    } finally {
      await qbt.stop();
    }
  });
});
