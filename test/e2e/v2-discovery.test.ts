/**
 * Which info hash the trackers and the DHT get for a BitTorrent v2 torrent (BEP 52): a v2-only
 * torrent's SHA-256 cut to 20 bytes; a hybrid's both hashes, each side's clients looking for it
 * under their own. A libtorrent that knows a hybrid only by its `urn:btmh:` magnet finds the
 * sixswarm seed through the tracker under the v2 hash and downloads from it. Over loopback only:
 * sixswarm's own tracker, a local DHT of sixswarm nodes and a libtorrent node.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { libtorrentDht, localDht, type LocalDht } from '../support/dht.js';
import { libtorrentPeer, waitUntil } from '../support/peers.js';
import { builtInTracker, cleanUpAfterEach, freePort, makeTree, runCli, sixswarm, tempDir, treeDigest, type SixswarmProcess } from '../support/sixswarm.js';

const TREE = { 'a.bin': 1024 * 1024 + 77, 'b/c.bin': 300_001 };

let dir: string | undefined;
let dht: LocalDht | undefined;
cleanUpAfterEach(() => dir);
afterEach(async () => {
  await dht?.stop();
  dht = undefined;
});

async function made(format: 'v2' | 'hybrid', tracker: string): Promise<{ file: string; meta: Metainfo }> {
  const file = join(dir!, `${format}.torrent`);
  const r = await runCli(['create', join(dir!, 'seed', 'payload'), '-o', file, '-l', '64K', `--${format}`, '-t', tracker]);
  expect(r.code, r.stderr).toBe(0);
  return { file, meta: await readTorrentFile(file) };
}

const v2Hex = (m: Metainfo) => m.infoHashV2!.subarray(0, 20).toString('hex');

describe('the info hashes trackers and the DHT get for v2 torrents', () => {
  it('a hybrid seed announces both its hashes, a v2-only one its SHA-256 cut to 20 bytes', async () => {
    dir = await tempDir('sixswarm-v2-discovery-');
    await makeTree(join(dir, 'seed', 'payload'), TREE);
    const tracker = await builtInTracker(['--bind', '::1', '--http']);
    const url = `http://[::1]:${tracker.port}/announce`;
    dht = await localDht(4, 60);
    const lt = libtorrentDht({ host: '127.0.0.64', port: await freePort(), bootstrap: [dht.router], save: dir, lookup: [] });
    await lt.event('bootstrapped', 30_000);
    const seeds: SixswarmProcess[] = [];
    try {
      for (const format of ['hybrid', 'v2'] as const) {
        const { file, meta } = await made(format, url);
        const seed = sixswarm(['seed', file, join(dir, 'seed'), '--port', '0', '--json', '--state-dir', join(dir, `state-${format}`), '--dht-bootstrap', `${dht.router.host}:${dht.router.port}`], { label: `${format} seed` });
        seeds.push(seed);
        const port = (await seed.event('listening')).port as number;
        const expected = format === 'hybrid' ? [meta.infoHashHex, v2Hex(meta)].sort() : [v2Hex(meta)];
        // The tracker hears every hash from the seed's port.
        const announced = () => new Set(tracker.proc.events.filter((e) => e.type === 'announce' && String(e.peer).endsWith(`:${port}`)).map((e) => e.infoHash as string));
        await waitUntil(() => expected.every((h) => announced().has(h)) || undefined, 20_000, () => `announces of ${expected.join(', ')}, got ${[...announced()].join(', ')}`);
        expect([...announced()].sort()).toEqual(expected);
        // The DHT: a round under each hash, announced to nodes, where a libtorrent lookup finds the seed.
        await waitUntil(
          () => expected.every((h) => seed.events.some((e) => e.event === 'dht' && e.torrent === h && (e.announcedTo as number) > 0)) || undefined,
          30_000,
          () => `DHT rounds for ${expected.join(', ')}`,
        );
        for (const h of expected) {
          const finder = libtorrentDht({ host: `127.0.0.${format === 'hybrid' ? 65 : 66}`, port: await freePort(), bootstrap: [dht.router], save: dir, lookup: [h] });
          const found = await finder.waitFor((e) => e.event === 'peers' && e.infoHash === h && (e.peers as string[]).some((p) => p.endsWith(`:${port}`)), 30_000, `the seed under ${h}`);
          expect(found.peers).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`:${port}$`))]));
          finder.kill('SIGTERM');
          await finder.exited;
        }
      }
    } finally {
      for (const s of seeds) s.kill('SIGTERM');
      await Promise.all(seeds.map((s) => s.exited));
      tracker.proc.kill('SIGTERM');
    }
  });

  it("libtorrent with only a hybrid's btmh magnet finds the sixswarm seed at the tracker under the v2 hash", async () => {
    dir = await tempDir('sixswarm-v2-discovery-');
    await makeTree(join(dir, 'seed', 'payload'), TREE);
    const tracker = await builtInTracker(['--bind', '::1', '--http']);
    const url = `http://[::1]:${tracker.port}/announce`;
    const { file, meta } = await made('hybrid', url);
    const seed = sixswarm(['seed', file, join(dir, 'seed'), '--port', '0', '--no-ipv4', '--no-dht', '--json', '--state-dir', join(dir, 'state-seed')], { label: 'seed' });
    try {
      await seed.event('checked');
      const magnet = `magnet:?xt=urn:btmh:1220${meta.infoHashV2!.toString('hex')}&tr=${encodeURIComponent(url)}`;
      const lt = libtorrentPeer({ magnet, save: join(dir, 'leech'), port: await freePort() });
      await lt.event('complete', 60_000);
      expect(await treeDigest(join(dir, 'leech'))).toEqual(await treeDigest(join(dir, 'seed')));
      // Their connection ran under the v2 hash: the only one libtorrent knew.
      const connected = seed.events.filter((e) => e.event === 'peer-connected');
      expect(connected.length).toBeGreaterThan(0);
      for (const c of connected) expect(c.v2).toBe(true);
    } finally {
      seed.kill('SIGTERM');
      await seed.exited;
      tracker.proc.kill('SIGTERM');
    }
  });
});
