/**
 * One torrent runs once in an engine, whatever names it: a hybrid's .torrent, a magnet with its
 * v1 hash, one with its v2 hash (BEP 52's btmh, whose v1 hash nobody knows before the metadata
 * arrives), added one after the other or at the same time. Different torrents run side by side.
 * An engine on the in-memory network with in-memory stores.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { TorrentSource } from '../../src/engine/torrent.js';
import { createTorrent } from '../../src/metainfo/create.js';
import { parseMagnet } from '../../src/metainfo/magnet.js';
import { parseTorrent } from '../../src/metainfo/torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { MemoryInternet } from '../support/memory-network.js';
import { memoryStores } from '../support/memory-store.js';
import { cleanUpAfterEach, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function hybrid(name: string): Promise<Metainfo> {
  await writeFile(join(dir!, name), randomBytes(50_000));
  return parseTorrent(await createTorrent({ path: join(dir!, name), format: 'hybrid', pieceLength: 16 * 1024 }));
}

const btih = (m: Metainfo): TorrentSource => ({ magnet: parseMagnet(`magnet:?xt=urn:btih:${m.infoHashHex}`) });
const btmh = (m: Metainfo): TorrentSource => ({ magnet: parseMagnet(`magnet:?xt=urn:btmh:1220${m.infoHashV2!.toString('hex')}`) });

/** Each source of a pair added to a fresh engine, the first before the second (or both at once). */
async function addBoth(first: TorrentSource, second: TorrentSource, atOnce = false): Promise<PromiseSettledResult<unknown>[]> {
  const engine = new Engine({ port: 6881, ipv4: false, ipv6: true, stateDir: join(dir!, `state-${randomBytes(4).toString('hex')}`), store: memoryStores() }, new MemoryInternet().host({ 6: '2001:db8::30' }));
  try {
    const add = (s: TorrentSource, n: number) => engine.addTorrent(s, join(dir!, `out-${n}`), { writable: true });
    if (atOnce) return await Promise.allSettled([add(first, 1), add(second, 2)]);
    const one = await Promise.allSettled([add(first, 1)]);
    return [...one, ...(await Promise.allSettled([add(second, 2)]))];
  } finally {
    await engine.close();
  }
}

describe('adding a torrent that is already in the engine', () => {
  it('refuses a hybrid named a second time, by whichever of its hashes, one after the other or at once', async () => {
    dir = await tempDir('sixswarm-duplicate-add-');
    const meta = await hybrid('a.bin');
    const v1 = meta.infoHashHex, v2 = meta.infoHashV2!.subarray(0, 20).toString('hex');
    const cases: [string, TorrentSource, TorrentSource, RegExp][] = [
      // The btmh magnet has no metadata yet: it knows nothing of the v1 hash the .torrent is named by.
      ['btmh magnet, then the .torrent', btmh(meta), { meta }, new RegExp(`torrent ${v1} is already running \\(under its other info hash ${v2}\\)`)],
      ['the .torrent, then a btmh magnet', { meta }, btmh(meta), new RegExp(`torrent ${v2} is already running`)],
      ['the .torrent, then a btih magnet', { meta }, btih(meta), new RegExp(`torrent ${v1} is already running`)],
      ['btih magnet, then the .torrent', btih(meta), { meta }, new RegExp(`torrent ${v1} is already running`)],
    ];
    for (const [name, first, second, message] of cases) {
      for (const atOnce of [false, true]) {
        const [a, b] = await addBoth(first, second, atOnce);
        expect(a!.status, `${name}${atOnce ? ' (at once)' : ''}`).toBe('fulfilled');
        expect(b!.status, `${name}${atOnce ? ' (at once)' : ''}`).toBe('rejected');
        expect(String((b as PromiseRejectedResult).reason), name).toMatch(message);
      }
    }
  });

  it('runs two different torrents side by side', async () => {
    dir = await tempDir('sixswarm-duplicate-add-');
    const [a, b] = [await hybrid('a.bin'), await hybrid('b.bin')];
    for (const [x, y] of [[btmh(a), { meta: b }], [{ meta: a }, btmh(b)], [btih(a), btmh(b)]] as [TorrentSource, TorrentSource][]) {
      const results = await addBoth(x, y);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    }
  });
});
