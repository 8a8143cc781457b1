/**
 * BEP 52's hash messages against real sixswarm processes, from a raw-TCP peer that floods,
 * lies or breaks the rules: a seed answers every hash request (hashes or a reject), within a
 * budget, and drops a peer that floods; the hybrid upgrade is given only to a peer that offers
 * it; a hash request on a v1 connection closes it; a downloader drops a peer whose hashes do not
 * prove the file's root, or that pushes hashes nobody asked for, and still completes from an
 * honest seed; before the metadata is known, a hash request is rejected.
 *
 * Hostile peers live on 127.0.0.2, honest ones on 127.0.0.1.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BDict, decode, encode } from '../../src/bencode/index.js';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { ensureBuilt } from '../support/build.js';
import { waitUntil } from '../support/peers.js';
import { MSG, RawPeer, RawPeerServer, u32 } from '../support/raw-peer.js';
import { makeTree, removeDir, runCli, sixswarm, tempDir, treeDigest, type JsonEvent, type SixswarmProcess } from '../support/sixswarm.js';

const PIECE = 32 * 1024; // two leaves a piece
const TREE = { 'a.bin': 40 * PIECE + 123, 'sub/b.bin': 3 * PIECE + 7, 'sub/c.txt': 999 };
const HOSTILE_IP = '127.0.0.2';

let dir: string;
const torrents = {} as Record<'v2' | 'hybrid' | 'bare', string>;
const metas = {} as Record<'v2' | 'hybrid', Metainfo>;
const seeds = {} as Record<'v2' | 'hybrid', { proc: SixswarmProcess; port: number }>;
const perTest: SixswarmProcess[] = [];
const servers: RawPeerServer[] = [];
const raws: RawPeer[] = [];

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('sixswarm-v2-hostile-');
  await makeTree(join(dir, 'seed', 'payload'), TREE);
  for (const format of ['v2', 'hybrid'] as const) {
    torrents[format] = join(dir, `${format}.torrent`);
    const r = await runCli(['create', join(dir, 'seed', 'payload'), '-o', torrents[format], '--piece-length', String(PIECE), `--${format}`]);
    expect(r.code, r.stderr).toBe(0);
    metas[format] = await readTorrentFile(torrents[format]);
    const proc = sixswarm(['seed', torrents[format], join(dir, 'seed'), '--port', '0', '--no-ipv6', '--json'], { env: { SIXSWARM_STATE_DIR: join(dir, `seed-state-${format}`) }, label: `${format} seed` });
    expect((await proc.event('checked')).have).toBe(metas[format].pieceCount);
    seeds[format] = { proc, port: await proc.port() };
  }
  // The v2 torrent without its piece layers: a downloader must fetch them from peers.
  const root = decode(await readFile(torrents.v2)) as BDict;
  root.delete('piece layers');
  torrents.bare = join(dir, 'bare.torrent');
  await writeFile(torrents.bare, encode(root));
  expect((await readTorrentFile(torrents.bare)).pieceLayers.size).toBe(0);
});

afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  const procs = perTest.splice(0);
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
});

afterAll(async () => {
  for (const s of Object.values(seeds)) s.proc.kill('SIGKILL');
  await Promise.all(Object.values(seeds).map((s) => s.proc.exited));
  await removeDir(dir);
});

function start(args: string[], label: string): SixswarmProcess {
  const p = sixswarm(args, { env: { SIXSWARM_STATE_DIR: join(dir, `state-${perTest.length}-${label}`) }, label });
  perTest.push(p);
  return p;
}

async function dial(port: number): Promise<RawPeer> {
  const p = await RawPeer.connect('127.0.0.1', port, 5000, HOSTILE_IP);
  raws.push(p);
  return p;
}

/** A hash request, hashes or hash reject payload. */
function hashPayload(root: Buffer, base: number, index: number, count: number, proofLayers: number, hashes = Buffer.alloc(0)): Buffer {
  return Buffer.concat([root, u32(base, index, count, proofLayers), hashes]);
}

const big = () => metas.v2.files.find((f) => f.path.at(-1) === 'a.bin')!; // 41 pieces: a layer of 64, the piece level 1
const disconnectedFrom = (host: string) => (e: JsonEvent) => e.event === 'peer-disconnected' && String(e.address).startsWith(`${host}:`);

describe('a seed answering hash requests', () => {
  it('answers each one with hashes or a reject, 600 a minute at most, and drops a peer that floods', async () => {
    const p = await dial(seeds.v2.port);
    p.sendHandshake(metas.v2.infoHash, { fast: true });
    await p.readHandshake();
    const good = hashPayload(big().piecesRoot!, 1, 0, 64, 0);
    const bad = [
      hashPayload(Buffer.alloc(32, 9), 1, 0, 64, 0), // no such root
      hashPayload(big().piecesRoot!, 1, 3, 4, 0), // misaligned
      hashPayload(big().piecesRoot!, 1, 0, 2 ** 31, 0), // huge
      hashPayload(big().piecesRoot!, 2 ** 32 - 1, 0, 2, 0), // far above the root
      hashPayload(big().piecesRoot!, 1, 0, 64, 6), // proofs past the root
    ];
    for (const b of bad) p.sendMessage(MSG.hashRequest, b);
    for (let i = 0; i < 700; i++) p.sendMessage(MSG.hashRequest, good);
    const answered = () => p.messages.filter((m) => m.id === MSG.hashes || m.id === MSG.hashReject).length;
    await waitUntil(() => answered() >= 705, 10_000, () => `705 answers, got ${answered()}`);
    const hashes = p.messages.filter((m) => m.id === MSG.hashes);
    const rejects = p.messages.filter((m) => m.id === MSG.hashReject);
    expect(hashes.length).toBe(600 - bad.length);
    expect(rejects.length).toBe(705 - hashes.length);
    for (const b of bad) expect(rejects.some((r) => r.payload.equals(b))).toBe(true);
    expect(hashes[0]!.payload.length).toBe(48 + 64 * 32);
    expect(p.isClosed).toBe(false);
    // A flood past four times the budget costs the peer its connection.
    for (let i = 0; i < 2000; i++) p.sendMessage(MSG.hashRequest, good);
    await p.waitClosed(10_000);
    const gone = await seeds.v2.proc.waitFor(disconnectedFrom(HOSTILE_IP), 5000, 'the flooder to be dropped');
    expect(gone.reason).toMatch(/more than 2400 hash requests a minute \(request flood\)/);
  });

  it('upgrades a hybrid connection only when offered, and closes a v1 connection that asks for hashes', async () => {
    const v1Hash = metas.hybrid.infoHash;
    const v2Hash = metas.hybrid.infoHashV2!.subarray(0, 20);
    const offered = await dial(seeds.hybrid.port);
    offered.send(Buffer.concat([encodeUpgradeHandshake(v1Hash)]));
    expect((await offered.readHandshake()).infoHash).toEqual(v2Hash);
    const plain = await dial(seeds.hybrid.port);
    plain.sendHandshake(v1Hash, { fast: true });
    expect((await plain.readHandshake()).infoHash).toEqual(v1Hash);
    plain.sendMessage(MSG.hashRequest, hashPayload(metas.hybrid.files[0]!.piecesRoot!, 1, 0, 64, 0));
    await plain.waitClosed(5000);
    const gone = await seeds.hybrid.proc.waitFor(disconnectedFrom(HOSTILE_IP), 5000, 'the v1 peer to be dropped');
    expect(gone.reason).toMatch(/protocol error: a hash request on a connection that is not v2/);
    // The upgraded one is served.
    offered.sendMessage(MSG.hashRequest, hashPayload(metas.hybrid.files[0]!.piecesRoot!, 1, 0, 64, 0));
    expect((await offered.waitForMessage(MSG.hashes)).payload.length).toBe(48 + 64 * 32);
  });
});

describe('a hybrid whose halves disagree', () => {
  it('is checked by its v1 hashes alone once a piece matches its SHA-1 and not its merkle hash, and completes', async () => {
    // A hybrid of one small file whose v2 root was replaced: its data matches the v1 half only.
    await makeTree(join(dir, 'odd', 'payload'), { 'x.bin': 20_000 });
    const made = join(dir, 'odd.torrent');
    expect((await runCli(['create', join(dir, 'odd', 'payload'), '-o', made, '--piece-length', String(PIECE), '--hybrid'])).code).toBe(0);
    const top = decode(await readFile(made)) as BDict;
    const info = top.get('info') as BDict;
    const entry = ((info.get('file tree') as BDict).get('x.bin') as BDict).get('') as BDict;
    entry.set('pieces root', Buffer.alloc(32, 0x77));
    const odd = join(dir, 'odd-v2-root.torrent');
    await writeFile(odd, encode(top));
    const meta = await readTorrentFile(odd);
    const data = Buffer.alloc(meta.totalLength);
    (await readFile(join(dir, 'odd', 'payload', 'x.bin'))).copy(data);
    const peer = await RawPeerServer.listen('127.0.0.1');
    servers.push(peer);
    peer.seed(meta.infoHash, data, PIECE);
    const out = join(dir, 'leech-odd');
    const leech = start(['download', odd, '-o', out, '--peer', peer.address, '--port', '0', '--no-ipv6', '--exit-on-complete', '--json'], 'leech');
    const warned = await leech.waitFor((e) => e.event === 'warning' && /two halves disagree/.test(String(e.message)), 15_000, 'the warning');
    expect(warned.message).toMatch(/only the v1 hashes are checked from now on/);
    await leech.event('complete', 15_000);
    expect(await leech.exited).toBe(0);
    expect(leech.events.filter((e) => e.event === 'warning' && /disagree/.test(String(e.message)))).toHaveLength(1);
    expect(leech.events.filter((e) => e.event === 'peer-banned')).toEqual([]);
    expect(await treeDigest(join(out, 'payload'))).toEqual(await treeDigest(join(dir, 'odd', 'payload')));
  });
});

describe('a downloader fetching piece layers', () => {
  it('drops a peer whose hashes do not prove the root, and gets the layers from an honest seed', async () => {
    const hostile = await RawPeerServer.listen(HOSTILE_IP);
    servers.push(hostile);
    hostile.onPeer(async (p) => {
      await p.readHandshake();
      p.sendHandshake(metas.v2.infoHash, { fast: true });
      p.sendMessage(MSG.haveAll);
      p.onMessage((m) => {
        if (m.id !== MSG.hashRequest) return;
        const count = m.payload.readUInt32BE(40);
        // The right size, the wrong hashes.
        p.sendMessage(MSG.hashes, Buffer.concat([m.payload, Buffer.alloc(32 * (count + 64), 0x42).subarray(0, 32 * count)]));
      });
    });
    const out = join(dir, 'leech-lying-hashes');
    const leech = start(['download', torrents.bare, '-o', out, '--peer', hostile.address, '--port', '0', '--no-ipv6', '--json'], 'leech');
    const gone = await leech.waitFor(disconnectedFrom(HOSTILE_IP), 15_000, 'the liar to be dropped');
    expect(gone.reason).toMatch(/protocol error: hashes that do not prove the file's merkle root/);
    expect(leech.events.filter((e) => e.event === 'piece-verified')).toEqual([]);
    // An honest seed joins: the layers come from it, and then the data.
    const honest = start(['seed', torrents.v2, join(dir, 'seed'), '--port', '0', '--no-ipv6', '--json', '--peer', `127.0.0.1:${await leech.port()}`], 'honest');
    await leech.event('complete', 30_000);
    expect(await treeDigest(join(out, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
    honest.kill('SIGTERM');
  });

  it('drops a peer that pushes hashes nobody asked for', async () => {
    const hostile = await RawPeerServer.listen(HOSTILE_IP);
    servers.push(hostile);
    hostile.onPeer(async (p) => {
      await p.readHandshake();
      p.sendHandshake(metas.v2.infoHash, { fast: true });
      p.sendMessage(MSG.haveNone);
      for (let i = 0; i < 17; i++) p.sendMessage(MSG.hashes, hashPayload(big().piecesRoot!, 1, 0, 2, 0, Buffer.alloc(64, i)));
    });
    const leech = start(['download', torrents.v2, '-o', join(dir, 'leech-unsolicited'), '--peer', hostile.address, '--port', '0', '--no-ipv6', '--json'], 'leech');
    const gone = await leech.waitFor(disconnectedFrom(HOSTILE_IP), 15_000, 'the pusher to be dropped');
    expect(gone.reason).toMatch(/protocol error: too many hashes we never asked for/);
  });

  it('rejects a hash request that comes before the metadata', async () => {
    const magnet = (await runCli(['info', torrents.v2, '--magnet'])).stdout.trim();
    const leech = start(['download', magnet, '-o', join(dir, 'leech-magnet'), '--port', '0', '--no-ipv6', '--json'], 'leech');
    const p = await dial(await leech.port());
    p.sendHandshake(metas.v2.infoHash, { fast: true });
    await p.readHandshake();
    const asked = hashPayload(big().piecesRoot!, 1, 0, 64, 0);
    p.sendMessage(MSG.hashRequest, asked);
    expect((await p.waitForMessage(MSG.hashReject)).payload).toEqual(asked);
    expect(p.isClosed).toBe(false);
  });
});

/** A plaintext handshake naming `infoHash` with BEP 52's upgrade bit (and the fast extension). */
function encodeUpgradeHandshake(infoHash: Buffer): Buffer {
  const b = Buffer.alloc(68);
  b[0] = 19;
  Buffer.from('BitTorrent protocol', 'latin1').copy(b, 1);
  b[27] = 0x04 | 0x10;
  infoHash.copy(b, 28);
  Buffer.from('-RP0001-hostile-peer', 'latin1').copy(b, 48);
  return b;
}
