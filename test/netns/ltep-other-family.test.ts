/**
 * BEP 10 `ipv4`/`ipv6`: a peer that tells us its address in the other family. A raw peer in a
 * namespace of its own (one link with both families to sixswarm's) is dialed over IPv6 and says its IPv4 address
 * in its extended handshake: sixswarm must not dial that while the peer is connected (one
 * connection per peer), and must dial it, over IPv4, once the IPv6 connection is gone.
 */
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../../src/bencode/index.js';
import { ipToBytes } from '../../src/net/address.js';
import { createNetns, netnsUnavailable, veth, type Netns } from '../support/netns.js';
import { MSG, RawPeer } from '../support/raw-peer.js';
import { cleanUpAfterEach, seedPayload, sixswarm, tempDir } from '../support/sixswarm.js';

const unavailable = netnsUnavailable();
const PORT = 16900; // the namespace's ports are all ours
const V4 = '192.0.2.9';
const V6 = '2001:db8:9::9';

let dir: string | undefined;
const spaces: Netns[] = [];
cleanUpAfterEach(() => dir);
afterEach(async () => {
  await Promise.all(spaces.splice(0).map((n) => n.destroy()));
});

const OUR_V4 = '192.0.2.1';

/**
 * sixswarm's host and the raw peer's host on one link with both families; the raw peer listens
 * on its IPv6 address (answering the first connection only, with `ipv4` in its BEP 10 handshake)
 * and on `listen4`, recording who dials there; sixswarm dials its IPv6 address.
 */
async function dualStackPeer(claimedV4: string, listen4: 'ours' | 'theirs') {
  dir = await tempDir('sixswarm-ltep-');
  const { torrent, meta } = await seedPayload(dir, { 'a.bin': 300_000 }, 32 * 1024);
  const ours = await createNetns('ltep-us');
  spaces.push(ours);
  const theirs = await createNetns('ltep-peer');
  spaces.push(theirs);
  await veth(ours, 'd0', theirs, 'd1');
  await ours.ip(['addr', 'add', `${OUR_V4}/24`, 'dev', 'd0']);
  await ours.ip(['-6', 'addr', 'add', '2001:db8:9::1/64', 'dev', 'd0', 'nodad']);
  await theirs.ip(['addr', 'add', `${V4}/24`, 'dev', 'd1']);
  await theirs.ip(['-6', 'addr', 'add', `${V6}/64`, 'dev', 'd1', 'nodad']);
  const over6 = await theirs.listen(V6, PORT);
  const over4 = listen4 === 'ours' ? await ours.listen(OUR_V4, PORT) : await theirs.listen(V4, PORT);
  const peerId = Buffer.concat([Buffer.from('-RP0001-', 'latin1'), Buffer.alloc(12, 7)]);
  // sixswarm dials encrypted first (--encryption prefer): closing on what is not a BitTorrent
  // handshake makes it redial in plaintext (and remember to).
  const v4Dials: RawPeer[] = [];
  over4.server.on('connection', (s: Socket) => {
    const p = new RawPeer(s);
    v4Dials.push(p);
    void p.readHandshake().then(() => p.sendHandshake(meta.infoHash, { peerId, extended: true }), () => p.close());
  });
  const v6Dials: RawPeer[] = [];
  const v6Served: RawPeer[] = [];
  over6.server.on('connection', (s: Socket) => {
    const p = new RawPeer(s);
    v6Dials.push(p);
    void p.readHandshake().then(() => {
      // Only the first: a redial over IPv6 is turned away, so only the IPv4 address can work.
      if (v6Served.length > 0) return p.close();
      v6Served.push(p);
      p.sendHandshake(meta.infoHash, { peerId, extended: true });
      p.sendMessage(MSG.extended, Buffer.concat([Buffer.from([0]), encode({ m: {}, p: PORT, v: 'raw dual-stack', ipv4: ipToBytes(claimedV4)! })]));
    }, () => p.close());
  });
  const leech = sixswarm(['download', torrent, '-o', join(dir, 'out'), '--port', '0', '--no-trackers', '--json', '--state-dir', join(dir, 'state'), '--peer', `[${V6}]:${PORT}`], {
    label: 'leech',
    wrap: ['ip', 'netns', 'exec', ours.name],
  });
  const first = await leech.event('peer-connected', 15_000);
  expect(first).toMatchObject({ address: `[${V6}]:${PORT}`, family: 6, source: 'manual' });
  await v6Served[0]!.waitForMessage(MSG.extended);
  const close = async () => {
    for (const p of [...v4Dials, ...v6Dials]) p.close();
    await Promise.all([over4.close(), over6.close()]);
  };
  return { meta, leech, v4Dials, v6Dials, served: v6Served[0]!, close };
}

describe.skipIf(unavailable !== undefined)('BEP 10 ipv4/ipv6 (network namespaces)', () => {
  it('the other family\'s address is a candidate, never dialed while the peer is connected, dialed once it is gone', async () => {
    const { meta, leech, v4Dials, served, close } = await dualStackPeer(V4, 'theirs');
    // Connected over IPv6: its IPv4 address waits, tick after tick.
    await new Promise((r) => setTimeout(r, 3000));
    expect(v4Dials).toHaveLength(0);

    served.close();
    await leech.waitFor((e) => e.event === 'peer-disconnected', 5000, 'the IPv6 connection gone');
    const viaV4 = await leech.waitFor((e) => e.event === 'peer-connected' && e.family === 4, 15_000, 'a connection over IPv4');
    expect(viaV4).toMatchObject({ address: `${V4}:${PORT}`, source: 'ltep', direction: 'out' });
    const handshaken = v4Dials.filter((p) => p.handshake);
    expect(handshaken).toHaveLength(1);
    expect(handshaken[0]!.handshake!.infoHash.equals(meta.infoHash)).toBe(true);
    await close();
  });

  it('an address of our own host is never a candidate (the peer runs here: its connection is the way to it)', async () => {
    const { leech, v4Dials, v6Dials, served, close } = await dualStackPeer(OUR_V4, 'ours');
    served.close();
    await leech.waitFor((e) => e.event === 'peer-disconnected', 5000, 'the IPv6 connection gone');
    // Past the 5 s a candidate of a peer that left waits: two redials of the IPv6 address.
    const before = v6Dials.length;
    await leech.waitFor(() => v6Dials.length >= before + 2, 20_000, 'two redials over IPv6');
    expect(v4Dials).toHaveLength(0);
    expect(leech.events.filter((e) => e.event === 'peer-unreachable' && e.source === 'ltep')).toEqual([]);
    await close();
  });
});
