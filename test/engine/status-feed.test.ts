/**
 * Only changes travel: the status feed's `progress` events go out for a torrent whose summary
 * changed, or that has said nothing for 5 s, and all at once for the last word. Two engines on the
 * in-memory network with in-memory stores: a seed idles, then a leecher connects and downloads.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { createTorrent } from '../../src/metainfo/create.js';
import { parseTorrent } from '../../src/metainfo/torrent.js';
import { StatusFeed, type TorrentSummary } from '../../src/status/feed.js';
import { MemoryInternet } from '../support/memory-network.js';
import { memoryStores } from '../support/memory-store.js';
import { waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);
afterEach(() => vi.restoreAllMocks());

describe('the status feed', () => {
  it('publishes progress when a summary changed, at least every 5 s, and everything for the last word', async () => {
    dir = await tempDir();
    const payload = randomBytes(100_000);
    await writeFile(join(dir, 'blob.bin'), payload);
    const meta = parseTorrent(await createTorrent({ path: join(dir, 'blob.bin'), pieceLength: 16 * 1024 }));
    const internet = new MemoryInternet();
    const seed = new Engine({ port: 6881, ipv4: false, ipv6: true, stateDir: join(dir, 'state-seed'), store: memoryStores(new Map([[meta.infoHashHex, payload]])) }, internet.host({ 6: '2001:db8::25' }));
    const leech = new Engine({ port: 6881, ipv4: false, ipv6: true, stateDir: join(dir, 'state-leech'), store: memoryStores() }, internet.host({ 6: '2001:db8::26' }));
    try {
      await Promise.all([seed.listen(), leech.listen()]);
      const seeding = await seed.addTorrent({ meta }, join(dir, 'seed'), { writable: false });
      await seeding.start();
      const feed = new StatusFeed(seed);
      const progress: TorrentSummary[] = [];
      feed.on('event', (e) => e.event === 'progress' && progress.push(e));
      feed.watch(seeding);

      feed.publishProgress();
      feed.publishProgress();
      feed.publishProgress();
      expect(progress).toHaveLength(1);
      expect(progress[0]).toMatchObject({ state: 'seeding', peers: 0, uploaded: 0 });

      // Nothing changed, but 5 s passed: a sign of life.
      const now = Date.now();
      vi.spyOn(Date, 'now').mockReturnValue(now + 5_000);
      feed.publishProgress();
      expect(progress).toHaveLength(2);
      vi.restoreAllMocks();

      // A leecher downloads everything: the seed's summary changes (a peer, bytes uploaded).
      const downloading = await leech.addTorrent({ meta }, join(dir, 'leech'), { writable: true });
      const done = new Promise<void>((resolve) => downloading.on('event', (e) => e.event === 'complete' && resolve()));
      await downloading.start();
      downloading.addManualPeers([{ host: '2001:db8::25', port: 6881, family: 6 }]);
      await done;
      await waitUntil(() => (feed.publishProgress(), progress.at(-1)!.uploaded >= payload.length), 10_000, () => `the seed's progress counts the upload (last: ${JSON.stringify(progress.at(-1))})`);
      const count = progress.length;
      expect(count).toBeGreaterThan(2);

      // The last word goes out whether or not anything changed.
      feed.publishProgress(true);
      expect(progress).toHaveLength(count + 1);
      // A torrent no longer followed says nothing more.
      feed.unwatch(seeding);
      feed.publishProgress(true);
      expect(progress).toHaveLength(count + 1);
    } finally {
      await Promise.all([seed.close(), leech.close()]);
    }
  });
});
