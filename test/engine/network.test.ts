/**
 * The engine over a Network that is not the kernel's: two engines on an in-memory network (no
 * socket at all, see support/memory-network.ts) find each other, and one downloads a multi-file
 * torrent from the other, encrypted, with real files on both sides. The process's TCP sockets
 * are counted from /proc before and during the transfer: none is opened. Then the same with the
 * data in memory too (support/memory-store.ts): the engine end to end with neither sockets nor files.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { createTorrent } from '../../src/metainfo/create.js';
import { parseTorrent } from '../../src/metainfo/torrent.js';
import { MemoryInternet } from '../support/memory-network.js';
import { memoryStores } from '../support/memory-store.js';
import { waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** TCP sockets (any state) held by this process: its socket descriptors found in /proc/net/tcp and tcp6. */
function tcpSocketsHeld(): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const link = readlinkSync(`/proc/self/fd/${fd}`);
      if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
    } catch {
      // the descriptor closed while we listed them
    }
  }
  let n = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode && inodes.has(inode)) n++;
    }
  }
  return n;
}

describe('the engine over another Network', () => {
  it('downloads a torrent over an in-memory network with no TCP socket at all', async () => {
    dir = await tempDir();
    const files = { 'a.bin': randomBytes(300_000), 'sub/b.bin': randomBytes(70_001) };
    await mkdir(join(dir, 'seed', 'album', 'sub'), { recursive: true });
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, 'seed', 'album', name), bytes);
    const meta = parseTorrent(await createTorrent({ path: join(dir, 'seed', 'album'), pieceLength: 32 * 1024 }));

    const before = tcpSocketsHeld();
    const internet = new MemoryInternet({ chunkBytes: 1500, transient: true });
    const seedNet = internet.host({ 6: '2001:db8::5', 4: '192.0.2.5' });
    const seed = new Engine({ port: 6881, ipv4: true, ipv6: true, stateDir: join(dir, 'state-seed') }, seedNet);
    const leech = new Engine({ port: 6881, ipv4: false, ipv6: true, stateDir: join(dir, 'state-leech') }, internet.host({ 6: '2001:db8::6' }));
    try {
      expect(await seed.listen()).toEqual([
        { family: 6, address: '2001:db8::5', port: 6881 },
        { family: 4, address: '192.0.2.5', port: 6881 },
      ]);
      await leech.listen();
      const seeding = await seed.addTorrent({ meta }, join(dir, 'seed'), { writable: false });
      await seeding.start();
      expect(seeding.state).toBe('seeding');
      const downloading = await leech.addTorrent({ meta }, join(dir, 'leech'), { writable: true });
      const events: string[] = [];
      const connected: unknown[] = [];
      downloading.on('event', (e) => {
        events.push(e.event);
        if (e.event === 'peer-connected') connected.push(e);
      });
      await downloading.start();
      // Both of the seed's addresses: the leecher reaches it over the family it has (IPv6).
      downloading.swarm!.addPeers([{ host: '192.0.2.5', port: 6881 }, { host: '2001:db8::5', port: 6881 }], { kind: 'manual' });
      await waitUntil(() => events.includes('complete'), 30_000, () => `the download completes (events: ${[...new Set(events)].join(', ')})`);
      expect(tcpSocketsHeld()).toBe(before);
      expect(internet.dials).toBeGreaterThan(0);
      // Complete, the two seeds part; the connection was made over IPv6, encrypted (MSE over the memory transport).
      expect(connected).toEqual([expect.objectContaining({ address: '[2001:db8::5]:6881', family: 6, direction: 'out', encrypted: true })]);
    } finally {
      await Promise.all([seed.close(), leech.close()]);
    }
    for (const [name, bytes] of Object.entries(files)) expect((await readFile(join(dir, 'leech', 'album', name))).equals(bytes)).toBe(true);
  });

  it('downloads over the in-memory network into an in-memory store: no socket, no data file', async () => {
    dir = await tempDir();
    const payload = randomBytes(200_000);
    await writeFile(join(dir, 'blob.bin'), payload);
    const meta = parseTorrent(await createTorrent({ path: join(dir, 'blob.bin'), pieceLength: 16 * 1024 }));
    const internet = new MemoryInternet();
    const seedStores = memoryStores(new Map([[meta.infoHashHex, payload]]));
    const leechStores = memoryStores();
    const seed = new Engine({ port: 6881, ipv4: false, ipv6: true, stateDir: join(dir, 'state-seed'), store: seedStores }, internet.host({ 6: '2001:db8::15' }));
    const leech = new Engine({ port: 6881, ipv4: false, ipv6: true, stateDir: join(dir, 'state-leech'), store: leechStores }, internet.host({ 6: '2001:db8::16' }));
    try {
      await Promise.all([seed.listen(), leech.listen()]);
      const seeding = await seed.addTorrent({ meta }, join(dir, 'nowhere-seed'), { writable: false });
      await seeding.start();
      expect(seeding.state).toBe('seeding');
      const downloading = await leech.addTorrent({ meta }, join(dir, 'nowhere-leech'), { writable: true });
      const done = new Promise<void>((resolve) => downloading.on('event', (e) => e.event === 'complete' && resolve()));
      await downloading.start();
      downloading.addManualPeers([{ host: '2001:db8::15', port: 6881, family: 6 }]);
      await done;
    } finally {
      await Promise.all([seed.close(), leech.close()]);
    }
    expect(leechStores.stores[0]!.data.equals(payload)).toBe(true);
    expect(leechStores.stores[0]!.writes).toBe(meta.pieceCount);
    // Only the state folders (locks come and go); no data anywhere.
    expect((await readdir(dir)).sort()).toEqual(['blob.bin', 'state-leech', 'state-seed']);
  });
});
