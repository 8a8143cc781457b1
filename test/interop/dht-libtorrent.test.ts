/**
 * A local DHT on 127/8 (each node on its own 127.N.0.1): six sixswarm nodes and a python3-libtorrent node. A lookup finds a
 * peer that announced only into the DHT, whether a sixswarm node or libtorrent announced it;
 * libtorrent finds a peer that sixswarm announced; a node's routing table survives a restart.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decode, asDict, asBytes } from '../../src/bencode/index.js';
import { Dht } from '../../src/dht/dht.js';
import type { PeerAddress } from '../../src/net/compact.js';
import { libtorrentDht, localDht, type LocalDht } from '../support/dht.js';
import { waitUntil } from '../support/peers.js';
import { freePort, removeDir, stopAll, tempDir } from '../support/sixswarm.js';

let dht: LocalDht | undefined;
let extra: Dht[] = [];
let dir: string | undefined;

afterEach(async () => {
  await Promise.all(extra.map((n) => n.stop()));
  extra = [];
  await dht?.stop();
  dht = undefined;
  await stopAll();
  await removeDir(dir);
  dir = undefined;
});

/** Looks up `infoHash` from `node` until `want` is among the peers, or fails after `timeoutMs`. */
async function findPeer(node: Dht, infoHash: Buffer, want: (p: PeerAddress) => boolean, timeoutMs = 20_000): Promise<PeerAddress> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const found: PeerAddress[] = [];
    await node.lookup(infoHash, (peers) => found.push(...peers));
    const hit = found.find(want);
    if (hit) return hit;
    if (Date.now() > end) throw new Error(`no matching peer for ${infoHash.toString('hex')} within ${timeoutMs} ms; found ${JSON.stringify(found)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('a local DHT of sixswarm nodes and libtorrent', () => {
  it('a lookup finds a peer that a sixswarm node announced only into the DHT', async () => {
    dht = await localDht(6, 10);
    const [, announcer, , , , seeker] = dht.nodes;
    const infoHash = randomBytes(20);
    const r = await announcer!.announce(infoHash, 51413);
    expect(r.announcedTo).toBeGreaterThanOrEqual(3);
    const peer = await findPeer(seeker!, infoHash, (p) => p.port === 51413);
    // The peer is stored under the address the announce came from, with the port it announced.
    expect(peer).toEqual({ host: announcer!.address().host, port: 51413, family: 4 });
    // Nodes that hold the announce serve it: at least the closest ones stored it.
    expect(dht.nodes.reduce((n, d) => n + d.stats().storedPeers, 0)).toBeGreaterThanOrEqual(3);
  });

  it('sixswarm finds a peer that libtorrent announced, and libtorrent finds one that sixswarm announced', async () => {
    dir = await tempDir('sixswarm-dht-');
    dht = await localDht(5, 20);
    const fromLibtorrent = randomBytes(20);
    const fromSixswarm = randomBytes(20);
    const ltPort = await freePort();
    const lt = libtorrentDht({ host: '127.30.0.1', port: ltPort, bootstrap: [dht.router], save: dir, announce: [fromLibtorrent.toString('hex')], lookup: [fromSixswarm.toString('hex')] });
    await lt.event('listening', 15_000);
    await lt.event('bootstrapped', 30_000);

    // libtorrent announces its listen port for the torrent it has (no tracker, DHT only).
    const peer = await findPeer(dht.nodes[4]!, fromLibtorrent, (p) => p.host === '127.30.0.1', 40_000);
    expect(peer.port).toBe(ltPort);

    // A sixswarm node announces; libtorrent's own get_peers lookups find it.
    const announcer = dht.nodes[2]!;
    await waitUntil(() => announcer.stats().nodes >= 5, 15_000, () => 'the announcer knows libtorrent');
    const r = await announcer.announce(fromSixswarm, 40404);
    expect(r.announcedTo).toBeGreaterThanOrEqual(3);
    const got = await lt.waitFor((e) => e.event === 'peers' && (e.peers as string[]).includes(`${announcer.address().host}:40404`), 30_000, 'libtorrent finding the sixswarm announce');
    expect(got.infoHash).toBe(fromSixswarm.toString('hex'));
  });

  it('a restarted node reloads its routing table and finds peers without any bootstrap node', async () => {
    dir = await tempDir('sixswarm-dht-');
    const stateFile = join(dir, 'dht.state');
    dht = await localDht(5, 40);
    const first = new Dht({ port: 0, host: '127.50.0.1', bootstrap: [dht.router], stateFile });
    await first.start();
    await waitUntil(() => first.stats().nodes >= 5, 15_000, () => `the node joins: ${first.stats().nodes} nodes`);
    const id = first.stats().id;
    await first.stop();

    const saved = asDict(decode(await readFile(stateFile)), 'state');
    expect(asBytes(saved.get('id'), 'id').toString('hex')).toBe(id);
    expect(asBytes(saved.get('nodes'), 'nodes').length).toBe(5 * 26);

    const infoHash = randomBytes(20);
    await dht.nodes[3]!.announce(infoHash, 6969);
    const again = new Dht({ port: 0, host: '127.50.0.1', bootstrap: [], stateFile });
    extra.push(again);
    await again.start();
    expect(again.stats().id).toBe(id);
    expect(again.stats().nodes).toBe(5);
    const peer = await findPeer(again, infoHash, (p) => p.port === 6969);
    expect(peer.host).toBe(dht.nodes[3]!.address().host);
    expect(again.stats().verifiedNodes).toBe(5);
  });
});
