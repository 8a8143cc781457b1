/**
 * Magnet links (BEP 9, ut_metadata) end to end: sixswarm fetches the metadata from a sixswarm
 * seed and from a libtorrent seed and then downloads; libtorrent fetches it from a sixswarm seed;
 * a peer serving corrupt metadata is dropped while an honest one completes it; a restart after
 * the metadata arrived does not fetch it again; `info --magnet` and `create --magnet` print links.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode, encode, BDict } from '../../src/bencode/index.js';
import { metadataPath } from '../../src/storage/metadata-store.js';
import { libtorrentPeer, waitUntil } from '../support/peers.js';
import { RawPeerServer, MSG, type RawPeer } from '../support/raw-peer.js';
import { cleanUpAfterEach, freePort, makeTree, runCli, seedPayload, sixswarm, tempDir, treeDigest, type SixswarmProcess } from '../support/sixswarm.js';

const MiB = 1024 * 1024;
const TREE = { 'a.bin': 2 * MiB + 321, 'sub/b.bin': 300_000, 'sub/c.txt': 777 };

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function setup() {
  dir = await tempDir('sixswarm-magnet-');
  const { torrent, meta } = await seedPayload(dir, TREE, 32 * 1024);
  return { d: dir, torrent, meta };
}

async function sixswarmSeed(d: string, torrent: string): Promise<{ seed: SixswarmProcess; port: number }> {
  const seed = sixswarm(['seed', torrent, join(d, 'seed'), '--port', '0', '--no-ipv4', '--json'], { env: { SIXSWARM_STATE_DIR: join(d, 'seed-state') }, label: 'seed' });
  await seed.event('checked');
  return { seed, port: await seed.port() };
}

function magnetDownload(d: string, magnet: string, extra: string[] = [], label = 'magnet leech'): SixswarmProcess {
  return sixswarm(['download', magnet, '-o', join(d, 'leech'), '--port', '0', '--exit-on-complete', '--json', ...extra], { env: { SIXSWARM_STATE_DIR: join(d, 'leech-state') }, label });
}

async function magnetOf(torrent: string, peers: string[] = []): Promise<string> {
  const r = await runCli(['info', torrent, '--magnet', ...peers.flatMap((p) => ['--x-pe', p])]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('magnet links', () => {
  it('downloads from a sixswarm seed given only the x.pe peer, keeps the metadata, and a restart does not fetch it again', async () => {
    const { d, torrent, meta } = await setup();
    const { port } = await sixswarmSeed(d, torrent);
    const magnet = await magnetOf(torrent, [`[::1]:${port}`]);
    expect(magnet).toBe(`magnet:?xt=urn:btih:${meta.infoHashHex}&dn=payload&x.pe=${encodeURIComponent(`[::1]:${port}`)}`);
    const leech = magnetDownload(d, magnet);
    const got = await leech.event('metadata', 20_000);
    expect(got).toMatchObject({ size: meta.infoBuffer.length, sources: 1, torrent: meta.infoHashHex });
    expect(got.saved).toBe(metadataPath(join(d, 'leech-state'), meta.infoHashHex));
    expect(leech.events.find((e) => e.event === 'peer-connected')).toMatchObject({ source: 'magnet', family: 6 });
    await leech.event('complete', 30_000);
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(await treeDigest(join(d, 'leech', 'payload'))).toEqual(await treeDigest(join(d, 'seed', 'payload')));
    expect(existsSync(got.saved as string)).toBe(true);

    // The same magnet again: the saved metadata is used, nothing is fetched, the data is trusted.
    const again = magnetDownload(d, magnet, [], 'restart');
    const checked = await again.event('checked');
    expect(checked).toMatchObject({ have: meta.pieceCount, pieces: meta.pieceCount });
    await again.event('complete');
    expect(await again.exited).toBe(0);
    expect(again.events.filter((e) => e.event === 'metadata' || e.event === 'metadata-waiting')).toEqual([]);
  });

  it('a magnet stopped after its metadata arrived resumes from its x.pe peer alone (no tracker, no DHT)', async () => {
    const { d, torrent, meta } = await setup();
    const seed = sixswarm(['seed', torrent, join(d, 'seed'), '--port', '0', '--no-ipv4', '--json', '--max-up', '512K'], { env: { SIXSWARM_STATE_DIR: join(d, 'seed-state') }, label: 'slow seed' });
    await seed.event('checked');
    const magnet = await magnetOf(torrent, [`[::1]:${await seed.port()}`]);
    const first = magnetDownload(d, magnet, ['--no-trackers', '--no-dht']);
    await first.event('metadata', 20_000);
    await first.event('piece-verified', 20_000);
    first.proc.kill('SIGINT');
    expect(await first.exited).toBe(130);
    // The metadata is saved; the link still names the seed, and that is all the restart has.
    const again = magnetDownload(d, magnet, ['--no-trackers', '--no-dht'], 'restart');
    expect(await again.event('peer-connected', 20_000)).toMatchObject({ source: 'magnet', family: 6 });
    await again.event('complete', 60_000);
    expect(await again.exited).toBe(0);
    expect(again.events.some((e) => e.event === 'metadata')).toBe(false);
    expect(await treeDigest(join(d, 'leech', 'payload'))).toEqual(await treeDigest(join(d, 'seed', 'payload')));
    expect(meta.pieceCount).toBeGreaterThan(1);
  });

  it('says so while no peer has the metadata, as an event and on stderr', async () => {
    const { d, meta } = await setup();
    const leech = magnetDownload(d, `magnet:?xt=urn:btih:${meta.infoHashHex}`, ['--no-trackers']);
    const waiting = await leech.event('metadata-waiting', 15_000);
    expect(waiting).toMatchObject({ peers: 0, offering: 0 });
    await waitUntil(() => /fetching metadata: no peer yet/.test(leech.stderr), 5000, () => leech.stderr);
    const progress = leech.events.filter((e) => e.event === 'progress').at(-1);
    expect(progress).toMatchObject({ state: 'fetching-metadata', name: meta.infoHashHex, totalBytes: 0 });
    leech.kill('SIGTERM');
    // Stopped before it finished: 143, as the shell reports SIGTERM.
    expect(await leech.exited).toBe(143);
  });

  it('downloads from a libtorrent seed given with --peer', async () => {
    const { d, torrent, meta } = await setup();
    const port = await freePort();
    const lt = libtorrentPeer({ torrent, save: join(d, 'seed'), port });
    expect((await lt.event('checked')).seeding).toBe(true);
    const leech = magnetDownload(d, `magnet:?xt=urn:btih:${meta.infoHashHex}`, ['--peer', `[::1]:${port}`]);
    await leech.event('metadata', 20_000);
    await leech.event('complete', 30_000);
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(leech.events.find((e) => e.event === 'peer-connected')?.client).toMatch(/^(-LT20|libtorrent)/i);
    expect(await treeDigest(join(d, 'leech', 'payload'))).toEqual(await treeDigest(join(d, 'seed', 'payload')));
  });

  it('serves its metadata to a libtorrent magnet download', async () => {
    const { d, torrent, meta } = await setup();
    const { seed, port } = await sixswarmSeed(d, torrent);
    const lt = libtorrentPeer({ magnet: `magnet:?xt=urn:btih:${meta.infoHashHex}`, save: join(d, 'lt'), port: await freePort(), connect: [`[::1]:${port}`] });
    expect((await lt.event('metadata', 20_000)).pieces).toBe(meta.pieceCount);
    const done = await lt.event('complete', 30_000);
    expect(done.failed).toBe(0);
    expect(await treeDigest(join(d, 'lt', 'payload'))).toEqual(await treeDigest(join(d, 'seed', 'payload')));
    seed.kill('SIGTERM');
    expect(await seed.exited).toBe(0);
  });

  it('drops a peer that serves corrupt metadata, never asks it again, and completes from an honest seed', async () => {
    const { d, torrent, meta } = await setup();
    const size = meta.infoBuffer.length;
    // Blame sticks to a host (a loopback address on its own), so the liar has an address of its own.
    const liar = await RawPeerServer.listen('127.0.0.2');
    const requestsToLiar: number[] = [];
    liar.onPeer(async (p: RawPeer) => {
      await p.readHandshake();
      p.sendHandshake(meta.infoHash, { extended: true });
      p.sendMessage(MSG.extended, Buffer.concat([Buffer.from([0]), encode({ m: { ut_metadata: 7 }, metadata_size: size, v: 'liar' })]));
      let theirId = 0;
      p.onMessage((m) => {
        if (m.id !== MSG.extended) return;
        if (m.payload[0] === 0) {
          const h = decode(m.payload.subarray(1)) as BDict;
          theirId = (h.get('m') as BDict).get('ut_metadata') as number;
          return;
        }
        if (m.payload[0] !== 7) return;
        const req = decode(m.payload.subarray(1)) as BDict;
        const piece = req.get('piece') as number;
        requestsToLiar.push(piece);
        const len = Math.min(16384, size - piece * 16384);
        const head = encode({ msg_type: 1, piece, total_size: size });
        p.sendMessage(MSG.extended, Buffer.concat([Buffer.from([theirId]), head, Buffer.alloc(len, 0x5a)]));
      });
    });
    try {
      // The liar alone first, so it certainly sends a whole (bad) copy before the honest seed exists.
      const leech = magnetDownload(d, `magnet:?xt=urn:btih:${meta.infoHashHex}&x.pe=${encodeURIComponent(liar.address)}`);
      const failed = await leech.event('metadata-failed', 20_000);
      expect(failed.peers).toEqual([liar.address]);
      await leech.waitFor((e) => e.event === 'peer-disconnected' && e.address === liar.address && /metadata that does not match/.test(String(e.reason)), 5000, 'the liar dropped');
      const asked = requestsToLiar.length;
      expect(asked).toBe(Math.ceil(size / 16384));
      const leechPort = await leech.port();
      // The seed dials the leecher (a magnet's x.pe list does not change after start).
      const dialer = sixswarm(['seed', torrent, join(d, 'seed'), '--port', '0', '--no-ipv4', '--peer', `[::1]:${leechPort}`, '--json'], { env: { SIXSWARM_STATE_DIR: join(d, 'seed2-state') }, label: 'dialing seed' });
      const got = await leech.event('metadata', 20_000);
      expect(got.sources).toBe(1);
      await leech.event('complete', 30_000);
      expect(await leech.exited, leech.stderr).toBe(0);
      expect(await treeDigest(join(d, 'leech', 'payload'))).toEqual(await treeDigest(join(d, 'seed', 'payload')));
      expect(requestsToLiar.length, 'the liar was asked again').toBe(asked);
      dialer.kill('SIGTERM');
    } finally {
      await liar.close();
    }
  });
});

describe('printing magnet links', () => {
  it('create --magnet and info --magnet print the link with trackers and x.pe; bad combinations are usage errors', async () => {
    dir = await tempDir('sixswarm-magnet-cli-');
    await makeTree(join(dir, 'data'), { 'f.bin': 5000 });
    const made = await runCli(['create', join(dir, 'data'), '-o', join(dir, 'd.torrent'), '--tracker', 'udp://[2001:db8::1]:6969/announce', '--magnet', '--x-pe', '[2001:db8::7]:6881']);
    expect(made.code, made.stderr).toBe(0);
    const line = made.stdout.split('\n').find((l) => l.startsWith('magnet '))!;
    expect(line).toMatch(/^magnet magnet:\?xt=urn:btih:[0-9a-f]{40}&dn=data&tr=udp%3A%2F%2F%5B2001%3Adb8%3A%3A1%5D%3A6969%2Fannounce&x\.pe=%5B2001%3Adb8%3A%3A7%5D%3A6881$/);
    const info = await runCli(['info', join(dir, 'd.torrent'), '--magnet', '--x-pe', '[2001:db8::7]:6881']);
    expect(info.stdout.trim()).toBe(line.slice('magnet '.length));
    // The link parses back to the same thing.
    const back = await runCli(['info', info.stdout.trim(), '--json']);
    expect(JSON.parse(back.stdout)).toMatchObject({ type: 'magnet', trackers: ['udp://[2001:db8::1]:6969/announce'], peers: [{ host: '2001:db8::7', port: 6881, family: 6 }] });
    expect((await runCli(['info', join(dir, 'd.torrent'), '--x-pe', '[::1]:1'])).code).toBe(2);
    expect((await runCli(['info', join(dir, 'd.torrent'), '--magnet', '--x-pe', 'nope'])).code).toBe(2);
    const priv = await runCli(['create', join(dir, 'data'), '-o', join(dir, 'p.torrent'), '--private', '--magnet', '--x-pe', '[::1]:1']);
    expect(priv.code).toBe(2);
    expect(priv.stderr).toMatch(/private torrent gets its peers from its tracker only/);
  });
});
