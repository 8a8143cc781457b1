/**
 * BEP 10 `ipv4`/`ipv6`: a peer that tells us its address in the other family. A raw peer in a
 * namespace of our own (both families on one link) is dialed over IPv6 and says its IPv4 address
 * in its extended handshake: sixswarm must not dial that while the peer is connected (one
 * connection per peer), and must dial it, over IPv4, once the IPv6 connection is gone.
 */
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../src/bencode/index.js';
import { ipToBytes } from '../src/net/address.js';
import { createNetns, netnsUnavailable, veth, type Netns } from './support/netns.js';
import { MSG, RawPeer } from './support/raw-peer.js';
import { cleanUpAfterEach, seedPayload, sixswarm, tempDir } from './support/sixswarm.js';

const unavailable = netnsUnavailable();
const PORT = 16900; // the namespace's ports are all ours
const V4 = '192.0.2.9';
const V6 = '2001:db8:9::9';

let dir: string | undefined;
let ns: Netns | undefined;
cleanUpAfterEach(() => dir);
afterEach(async () => {
  await ns?.destroy();
  ns = undefined;
});

describe.skipIf(unavailable !== undefined)('BEP 10 ipv4/ipv6 (a network namespace)', () => {
  it('the other family\'s address is a candidate, never dialed while the peer is connected, dialed once it is gone', async () => {
    dir = await tempDir('sixswarm-ltep-');
    const { torrent, meta } = await seedPayload(dir, { 'a.bin': 300_000 }, 32 * 1024);
    ns = await createNetns('ltep');
    await veth(ns, 'd0', ns, 'd1');
    await ns.ip(['addr', 'add', '192.0.2.1/24', 'dev', 'd0']);
    await ns.ip(['addr', 'add', `${V4}/24`, 'dev', 'd0']);
    await ns.ip(['-6', 'addr', 'add', '2001:db8:9::1/64', 'dev', 'd0', 'nodad']);
    await ns.ip(['-6', 'addr', 'add', `${V6}/64`, 'dev', 'd0', 'nodad']);
    const over6 = await ns.listen(V6, PORT);
    const over4 = await ns.listen(V4, PORT);
    const peerId = Buffer.concat([Buffer.from('-RP0001-', 'latin1'), Buffer.alloc(12, 7)]);
    const v4Dials: RawPeer[] = [];
    over4.server.on('connection', (s: Socket) => {
      const p = new RawPeer(s);
      v4Dials.push(p);
      void p.readHandshake().then(() => p.sendHandshake(meta.infoHash, { peerId, extended: true }), () => {});
    });
    const v6Conns: RawPeer[] = [];
    over6.server.on('connection', (s: Socket) => {
      const p = new RawPeer(s);
      v6Conns.push(p);
      // Only the first: a redial over IPv6 is turned away, so only the IPv4 address can work.
      if (v6Conns.length > 1) return p.close();
      void p.readHandshake().then(() => {
        p.sendHandshake(meta.infoHash, { peerId, extended: true });
        p.sendMessage(MSG.extended, Buffer.concat([Buffer.from([0]), encode({ m: {}, p: PORT, v: 'raw dual-stack', ipv4: ipToBytes(V4)! })]));
      }, () => {});
    });

    const leech = sixswarm(['download', torrent, '-o', join(dir, 'out'), '--port', '0', '--no-trackers', '--json', '--state-dir', join(dir, 'state'), '--peer', `[${V6}]:${PORT}`], {
      label: 'leech',
      wrap: ['ip', 'netns', 'exec', ns.name],
    });
    const first = await leech.event('peer-connected', 15_000);
    expect(first).toMatchObject({ address: `[${V6}]:${PORT}`, family: 6, source: 'manual' });
    await v6Conns[0]!.waitForMessage(MSG.extended);
    // Connected over IPv6: its IPv4 address waits, tick after tick.
    await new Promise((r) => setTimeout(r, 3000));
    expect(v4Dials).toHaveLength(0);

    v6Conns[0]!.close();
    await leech.waitFor((e) => e.event === 'peer-disconnected', 5000, 'the IPv6 connection gone');
    const viaV4 = await leech.waitFor((e) => e.event === 'peer-connected' && e.family === 4, 15_000, 'a connection over IPv4');
    expect(viaV4).toMatchObject({ address: `${V4}:${PORT}`, source: 'ltep', direction: 'out' });
    expect(v4Dials).toHaveLength(1);
    expect(v4Dials[0]!.handshake!.infoHash.equals(meta.infoHash)).toBe(true);
    for (const p of [...v4Dials, ...v6Conns]) p.close();
    await Promise.all([over4.close(), over6.close()]);
  });
});
