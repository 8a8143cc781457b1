/**
 * Magnet metadata against hostile peers, over real sockets: raw-TCP peers that announce the
 * metadata and then stay silent, trickle their answer, or answer with another total size, all
 * connected before the honest seed, cost the honest fetch nothing but their requests; a peer whose
 * metadata failed the hash and that comes back from new ports is never asked again.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BDict, decode, encode } from '../../src/bencode/index.js';
import { RawPeer, RawPeerServer, MSG } from '../support/raw-peer.js';
import { cleanUpAfterEach, seedPayload, sixswarm, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

const TREE = { 'a.bin': 700_000, 'b.bin': 90_000 };

type Behaviour = 'silent' | 'trickle' | 'wrong-size' | 'garbage';

/**
 * A raw peer that handshakes, offers ut_metadata of `size` bytes (BEP 10) and answers requests
 * as its behaviour says; every request it gets is counted.
 */
function hostilePeer(p: RawPeer, infoHash: Buffer, size: number, how: Behaviour, requests: number[]): void {
  p.sendHandshake(infoHash, { extended: true });
  p.sendMessage(MSG.extended, Buffer.concat([Buffer.from([0]), encode({ m: { ut_metadata: 7 }, metadata_size: size, v: how })]));
  let theirId = 0;
  p.onMessage((m) => {
    if (m.id !== MSG.extended) return;
    if (m.payload[0] === 0) {
      theirId = ((decode(m.payload.subarray(1)) as BDict).get('m') as BDict).get('ut_metadata') as number;
      return;
    }
    if (m.payload[0] !== 7) return;
    const piece = (decode(m.payload.subarray(1)) as BDict).get('piece') as number;
    requests.push(piece);
    const len = Math.min(16384, size - piece * 16384);
    const reply = (totalSize: number) => Buffer.concat([Buffer.from([theirId]), encode({ msg_type: 1, piece, total_size: totalSize }), Buffer.alloc(len, 0x5a)]);
    if (how === 'wrong-size') p.sendMessage(MSG.extended, reply(size + 1));
    if (how === 'garbage') p.sendMessage(MSG.extended, reply(size));
    if (how === 'trickle') {
      // The reply one byte every 200 ms: it would take an hour.
      const bytes = Buffer.concat([Buffer.alloc(4), Buffer.from([MSG.extended]), reply(size)]);
      bytes.writeUInt32BE(bytes.length - 4, 0);
      let at = 0;
      const t = setInterval(() => (p.isClosed || at >= bytes.length ? clearInterval(t) : p.send(bytes.subarray(at, ++at))), 200);
    }
  });
}

describe('magnet metadata against hostile peers', () => {
  it('twenty silent, trickling and wrong-size peers connected first: the honest seed\'s metadata still arrives in seconds', async () => {
    dir = await tempDir();
    const { torrent, meta } = await seedPayload(dir, TREE, 16 * 1024);
    const seed = sixswarm(['seed', torrent, join(dir, 'seed'), '--port', '0', '--no-ipv4', '--no-trackers', '--no-dht', '--json'], { env: { SIXSWARM_STATE_DIR: join(dir, 'seed-state') }, label: 'seed' });
    await seed.event('checked');
    const servers: RawPeerServer[] = [];
    const requests: number[] = [];
    const kinds: Behaviour[] = ['silent', 'trickle', 'wrong-size'];
    try {
      // Each hostile peer on a loopback address of its own (as distinct hosts on a network would be).
      for (let i = 0; i < 20; i++) {
        const s = await RawPeerServer.listen(`127.0.0.${10 + i}`);
        s.onPeer(async (p) => {
          await p.readHandshake();
          hostilePeer(p, meta.infoHash, meta.infoBuffer.length, kinds[i % 3]!, requests);
        });
        servers.push(s);
      }
      const peers = [...servers.map((s) => s.address), `[::1]:${await seed.port()}`];
      const magnet = `magnet:?xt=urn:btih:${meta.infoHashHex}${peers.map((p) => `&x.pe=${encodeURIComponent(p)}`).join('')}`;
      const t0 = Date.now();
      const leech = sixswarm(['download', magnet, '-o', join(dir, 'leech'), '--port', '0', '--no-trackers', '--no-dht', '--exit-on-complete', '--json'], { env: { SIXSWARM_STATE_DIR: join(dir, 'leech-state') }, label: 'leech' });
      const got = await leech.event('metadata', 15_000);
      const ms = Date.now() - t0;
      process.stdout.write(`[metadata-hostile] metadata from the honest seed behind 20 hostile peers in ${ms} ms (${requests.length} requests to them)\n`);
      expect(got.sources).toBe(1);
      // Thirty seconds a hostile peer cost before; all of them together now cost less than the check allows.
      expect(ms).toBeLessThan(10_000);
      // One request per hostile peer at most (one piece of metadata, one request per peer at a time).
      expect(requests.length).toBeLessThanOrEqual(20);
      await leech.event('complete', 30_000);
      expect(await leech.exited).toBe(0);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('a peer whose metadata failed the hash, coming back from new ports, is never asked again', async () => {
    dir = await tempDir();
    const { meta } = await seedPayload(dir, TREE, 16 * 1024);
    const leech = sixswarm(['download', `magnet:?xt=urn:btih:${meta.infoHashHex}`, '-o', join(dir, 'leech'), '--port', '0', '--no-ipv6', '--no-trackers', '--no-dht', '--json'], { env: { SIXSWARM_STATE_DIR: join(dir, 'leech-state') }, label: 'leech' });
    const port = await leech.port();
    const requests: number[] = [];
    let firstCopy = 0;
    for (let round = 0; round < 8; round++) {
      // Each time from a new port of one host (127.0.0.9).
      const p = await RawPeer.connect('127.0.0.1', port, 5000, '127.0.0.9');
      hostilePeer(p, meta.infoHash, meta.infoBuffer.length, 'garbage', requests);
      await p.readHandshake();
      if (round === 0) {
        await leech.event('metadata-failed', 10_000);
        firstCopy = requests.length;
        expect(firstCopy).toBe(Math.ceil(meta.infoBuffer.length / 16384));
      } else await new Promise((r) => setTimeout(r, 300));
      p.close();
    }
    // Seven more connections from new ports of the same host: not one request.
    expect(requests.length).toBe(firstCopy);
    leech.proc.kill('SIGTERM');
    expect(await leech.exited).toBe(143);
  });
});
