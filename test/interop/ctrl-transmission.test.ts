/**
 * @ctrl/transmission (the npm client many *arr tools and dashboards use), unchanged, drives
 * `sixswarm daemon`: it adds a .torrent, lists it, sees it complete from a libtorrent seed over
 * IPv4, pauses, resumes, verifies and removes it with its data; adds a magnet link with a label;
 * reads the session, its stats and the free space; and reads sixswarm's own fields.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transmission } from '@ctrl/transmission';
import { describe, expect, it } from 'vitest';
import { toMagnet } from '../../src/metainfo/magnet.js';
import { startDaemon } from '../support/daemon.js';
import { libtorrentPeer, waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, freePort, seedPayload, tempDir, treeDigest } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

describe('@ctrl/transmission', () => {
  it('adds, lists, completes, pauses, resumes, verifies and removes a torrent; adds a magnet with a label', async () => {
    dir = await tempDir();
    const { torrent, meta } = await seedPayload(dir, { 'a.bin': 2_500_000, 'b.bin': 700_000 }, 32 * 1024);
    const d = await startDaemon(dir, ['--max-down', '2M']);
    const client = new Transmission({ baseUrl: d.url, timeout: 15_000 });

    const session = await client.getSession();
    expect(session.arguments['rpc-version']).toBe(17);
    expect(session.arguments['download-dir']).toBe(d.dirs.download);

    const added = await client.addTorrent(await readFile(torrent), { 'download-dir': d.dirs.download });
    expect(added.result).toBe('success');
    const hash = added.arguments['torrent-added'].hashString;
    expect(hash).toBe(meta.infoHashHex);
    const all = await client.getAllData();
    expect(all.torrents.map((t) => [t.id, t.name, t.isCompleted])).toEqual([[hash, 'payload', false]]);

    // libtorrent as an IPv4 peer this time: it listens on 127.0.0.1 and dials the daemon there.
    const seed = libtorrentPeer({ torrent, save: join(dir, 'seed'), port: await freePort(), listen: ['127.0.0.1'], connect: [`127.0.0.1:${d.peerPort}`] });
    await seed.event('checked');
    const families = await waitUntil(async () => {
      const t = (await client.listTorrents(hash, ['sixswarm-families', 'sixswarm-peers'])).arguments.torrents[0] as unknown as Record<string, { ipv4: number } & unknown[]>;
      return t['sixswarm-families']!.ipv4 > 0 && t;
    }, 30_000, () => 'an IPv4 peer in sixswarm-families');
    const peers = families['sixswarm-peers'] as unknown as { family: number; via: string; source: string }[];
    expect(peers).toEqual([expect.objectContaining({ family: 4, via: 'ipv4', source: 'incoming' })]);

    const complete = await waitUntil(async () => {
      const t = await client.getTorrent(hash);
      return t.isCompleted && t.state === 'seeding' && t;
    }, 60_000, () => 'complete and seeding');
    expect(complete.progress).toBe(1);
    expect(complete.savePath).toBe(d.dirs.download);
    expect(complete.totalSize).toBe(meta.totalLength);
    expect(await treeDigest(join(d.dirs.download, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));

    await client.pauseTorrent(hash);
    expect((await client.getTorrent(hash)).state).toBe('paused');
    await client.resumeTorrent(hash);
    await waitUntil(async () => (await client.getTorrent(hash)).state === 'seeding', 15_000, () => 'seeding after resume');
    await client.verifyTorrent(hash);
    await d.proc.waitFor((e) => e.event === 'checked' && e.hashed === meta.pieceCount, 30_000, 'the verify');
    await waitUntil(async () => {
      const t = await client.getTorrent(hash);
      return t.state === 'seeding' && t.isCompleted;
    }, 15_000, () => 'seeding after the verify');

    const stats = await client.request('session-stats');
    expect((stats._data as { arguments: { torrentCount: number } }).arguments.torrentCount).toBe(1);
    const free = await client.freeSpace(d.dirs.download);
    expect(free.arguments['size-bytes']).toBeGreaterThan(0);
    expect(free.arguments.path).toBe(d.dirs.download);

    // A magnet link: first into the client's default folder (/downloads), which the daemon does not allow.
    const other = await seedPayload(join(dir, 'other'), { 'c.bin': 100_000 }, 16 * 1024);
    const magnet = toMagnet(other.meta);
    const refused = await client.addMagnet(magnet);
    expect(refused.result).toMatch(/^download-dir "\/downloads" is outside the folders this daemon may write; allowed: /);
    // Into a folder inside the download folder, unstarted, then labelled (torrent-set).
    const into = join(d.dirs.download, 'magnets');
    const mag = await client.addMagnet(magnet, { 'download-dir': into, paused: true });
    expect(mag.arguments['torrent-added'].hashString).toBe(other.meta.infoHashHex);
    await client.setTorrent(other.meta.infoHashHex, { labels: ['ipv6'] });
    const labelled = await client.getTorrent(other.meta.infoHashHex);
    expect(labelled.savePath).toBe(into);
    expect(labelled.label).toBe('ipv6');
    expect(labelled.state).toBe('paused');

    await client.removeTorrent(hash, true);
    expect((await client.getAllData()).torrents.map((t) => t.id)).toEqual([other.meta.infoHashHex]);
    await expect(stat(join(d.dirs.download, 'payload', 'a.bin'))).rejects.toThrow(/ENOENT/);
    // The log names the one refusal, and why.
    expect(d.proc.events.filter((e) => e.event === 'refused').map((e) => [e.method, e.from])).toEqual([['torrent-add', '127.0.0.1']]);
  });
});
