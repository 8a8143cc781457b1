/**
 * Hostile PEX senders against a real sixswarm leecher (raw-TCP peers of test/support/raw-peer.ts
 * on 127.0.0.2, an honest sixswarm seed on [::1]):
 *   - a flood: 5,000 entries, then a second message one second later;
 *   - a litterer: IPv6 addresses in `added`, link-local, multicast, unspecified, port 0 and our
 *     own address, a second message one second later;
 *   - garbage: `l-3:e` as its PEX message.
 * The leecher takes at most 200 from the flood and counts the rest, ignores both second messages,
 * refuses and counts the litter and names its sender, closes the garbage sender only, stays up,
 * dials nothing it was not allowed to, and completes from the seed.
 */
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BDict, decode, encode } from '../../src/bencode/index.js';
import { encodeCompactPeer } from '../../src/net/compact.js';
import { ensureBuilt } from '../support/build.js';
import { MSG, type RawPeer, RawPeerServer } from '../support/raw-peer.js';
import { waitUntil } from '../support/peers.js';
import { removeDir, seedPayload, sixswarm, stopAll, tempDir, treeDigest, type JsonEvent } from '../support/sixswarm.js';

const HOSTILE_IP = '127.0.0.2';
const PIECE = 64 * 1024;
const TREE = { 'a.bin': 2 * 1024 * 1024 + 99 };

let dir: string | undefined;
const servers: RawPeerServer[] = [];

beforeAll(ensureBuilt);
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await stopAll();
  await removeDir(dir);
});

const blob = (list: { host: string; port: number }[]) => Buffer.concat(list.map(encodeCompactPeer));

/** A raw peer that answers the handshake, speaks BEP 10 with ut_pex on id 1, and then runs `script` with our ut_pex id. */
async function pexSender(infoHash: Buffer, script: (peer: RawPeer, send: (payload: Buffer) => void) => Promise<void>): Promise<RawPeerServer> {
  const server = await RawPeerServer.listen(HOSTILE_IP);
  servers.push(server);
  server.onPeer(async (peer) => {
    await peer.readHandshake();
    peer.sendHandshake(infoHash, { extended: true });
    peer.sendMessage(MSG.extended, Buffer.concat([Buffer.from([0]), encode({ m: { ut_pex: 1 }, p: server.port, v: 'hostile pex' })]));
    const theirs = await peer.waitForMessage(MSG.extended);
    const m = (decode(theirs.payload.subarray(1)) as BDict).get('m') as BDict;
    const id = m.get('ut_pex') as number;
    await script(peer, (payload) => peer.sendMessage(MSG.extended, Buffer.concat([Buffer.from([id]), payload])));
  });
  return server;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('hostile PEX senders', () => {
  it('caps, filters and counts what they send, closes only the broken one, and the download completes from the honest seed', async () => {
    dir = await tempDir('sixswarm-pex-hostile-');
    const { torrent, meta } = await seedPayload(dir, TREE, PIECE);
    const seed = sixswarm(['seed', torrent, join(dir, 'seed'), '--port', '0', '--no-ipv4', '--no-trackers', '--json', '--state-dir', join(dir, 'state-seed')], { label: 'seed' });
    const seedPort = await seed.port();
    await seed.event('checked');

    let leechPort = 0;
    const done: Promise<void>[] = [];
    const finished = (p: Promise<void>) => done.push(p);
    // 5,000 loopback entries (the sender is on loopback, so they are fair): 200 are taken.
    const flood = await pexSender(meta.infoHash, async (_peer, send) => {
      const entries = Array.from({ length: 5000 }, (_, i) => ({ host: `127.77.${i >> 8}.${i & 255}`, port: 9 }));
      send(encode({ added: blob(entries), 'added.f': Buffer.alloc(5000) }));
      await sleep(1000);
      send(encode({ added: blob([{ host: '127.78.0.1', port: 9 }]), 'added.f': Buffer.alloc(1) }));
    });
    const litter = await pexSender(meta.infoHash, async (_peer, send) => {
      await waitUntil(() => leechPort !== 0, 5000, () => 'the leecher\'s port');
      const v6InAdded = Array.from({ length: 20 }, (_, i) => ({ host: `2001:db8:66::${i + 1}`, port: 6881 }));
      const bad6 = [
        ...Array.from({ length: 10 }, (_, i) => ({ host: `fe80::${i + 1}`, port: 6881 })),
        ...Array.from({ length: 10 }, (_, i) => ({ host: `ff02::${i + 1}`, port: 6881 })),
        { host: '::', port: 6881 },
        ...Array.from({ length: 10 }, (_, i) => ({ host: `::1:${i}`, port: 0 })),
        { host: '::1', port: leechPort }, // ourselves
      ];
      const fine = [{ host: '127.88.0.1', port: 9 }, { host: '127.88.0.2', port: 9 }];
      send(encode({ added: blob(v6InAdded), 'added.f': Buffer.alloc(20), added6: blob([...bad6, { host: '::1', port: 9 }]), 'added6.f': Buffer.alloc(bad6.length + 1) }));
      await sleep(1000);
      send(encode({ added: blob(fine), 'added.f': Buffer.alloc(2) }));
    });
    const garbage = await pexSender(meta.infoHash, async (peer, send) => {
      send(Buffer.from('l-3:e'));
      finished(peer.closed);
    });

    const out = join(dir, 'leech');
    const leech = sixswarm(
      ['download', torrent, '-o', out, '--port', '0', '--no-trackers', '--json', '--state-dir', join(dir, 'state-leech'),
        '--peer', `[::1]:${seedPort}`, '--peer', flood.address, '--peer', litter.address, '--peer', garbage.address],
      { label: 'leech' },
    );
    leechPort = await leech.port();
    await leech.event('complete', 30_000);
    expect(await treeDigest(out)).toEqual(await treeDigest(join(dir, 'seed')));
    expect(leech.events.filter((e) => e.event === 'piece-failed' || e.event === 'error')).toEqual([]);

    // The garbage sender is closed with a reason; the others stay connected.
    const closed = await leech.waitFor((e) => e.event === 'peer-disconnected' && e.address === garbage.address, 5000, 'the garbage sender closed');
    expect(closed.reason).toMatch(/^protocol error: bad PEX message: bad bencode/);
    await Promise.all(done);
    const warning = await leech.waitFor((e) => e.event === 'warning' && String(e.message).includes(litter.address), 5000, 'a warning naming the litterer');
    expect(warning.message).toMatch(/sends unusable peer addresses \(20 wrong-family, 21 unusable, 10 port-0, 1 self\): its 0 candidates were dropped and its PEX is ignored from now on/);

    // Both second messages came a second after the first, and were ignored.
    const summary = async () => (await leech.waitFor((e) => e.event === 'progress' && (e.pex as { ignored: number }).ignored >= 2, 10_000, 'both second messages ignored')).pex;
    expect(await summary()).toEqual({
      partners: 2, // the flood and the litterer; the garbage sender is gone, the seed too once we were complete
      messagesIn: 2,
      messagesOut: expect.any(Number),
      taken: 200,
      filtered: 52,
      capped: 4800,
      ignored: 2,
      littering: [litter.address],
    });
    const disconnected = leech.events.filter((e) => e.event === 'peer-disconnected').map((e) => e.address);
    expect(disconnected).not.toContain(flood.address);
    expect(disconnected).not.toContain(litter.address);

    // Only the flood's first 200 were ever dialed; nothing of the litterer's, nothing past the cap.
    await waitUntil(() => leech.events.filter((e) => e.event === 'peer-unreachable').length >= 100, 20_000, () => 'dials of the flood entries failing');
    const dialed = leech.events.filter((e: JsonEvent) => e.event === 'peer-unreachable' || e.event === 'peer-connected').map((e) => String(e.address));
    const taken = new Set(Array.from({ length: 200 }, (_, i) => `127.77.${i >> 8}.${i & 255}:9`));
    for (const a of dialed) expect(taken.has(a) || a === `[::1]:${seedPort}` || a === flood.address || a === litter.address || a === garbage.address, a).toBe(true);
    for (const e of leech.events.filter((x) => x.event === 'peer-unreachable')) expect(e.source).toBe('pex');

    expect(leech.proc.exitCode).toBeNull();
    leech.kill('SIGTERM');
    expect(await leech.exitCode(), leech.stderr).toBe(0);
  });
});

describe('a PEX partner aiming our dials at a third party', () => {
  it('one message of 200 ports at one host: that host sees a handful of connection attempts a minute, not hundreds', async () => {
    dir = await tempDir('sixswarm-pex-aim-');
    const { meta } = await seedPayload(dir, TREE, PIECE);
    // The target: listens on every port the partner names, counts what reaches it.
    const TARGET = '127.0.0.99';
    const ports = Array.from({ length: 200 }, (_, i) => 20000 + i);
    const targetServers = await Promise.all(ports.slice(0, 20).map(() => RawPeerServer.listen(TARGET)));
    servers.push(...targetServers);
    let attempts = 0;
    for (const s of targetServers) s.onPeer((p) => (attempts++, p.close()));
    const aimed = [...targetServers.map((s) => s.port), ...ports.slice(20)];
    const partner = await pexSender(meta.infoHash, async (_peer, send) => {
      send(encode({ added: blob(aimed.map((port) => ({ host: TARGET, port }))), 'added.f': Buffer.alloc(aimed.length) }));
    });
    const leech = sixswarm(['download', `magnet:?xt=urn:btih:${meta.infoHashHex}&x.pe=${encodeURIComponent(partner.address)}`, '-o', join(dir, 'leech'), '--port', '0', '--no-trackers', '--no-dht', '--json', '--state-dir', join(dir, 'state-leech')], { label: 'leech' });
    const start = Date.now();
    await leech.waitFor((e) => e.event === 'progress' && ((e.pex as { taken: number } | undefined)?.taken ?? 0) > 0, 15_000, 'the entries taken');
    await sleep(20_000 - (Date.now() - start));
    process.stdout.write(`[pex-aim] ${attempts} connections reached the target in 20 s from 200 entries at it\n`);
    // At most four of its ports kept, one dial to it at a time, 15 s apart and longer after failures.
    expect(attempts).toBeGreaterThan(0);
    expect(attempts).toBeLessThanOrEqual(3);
    // The refused share is reported: 196 of the 200 entries were not taken as candidates.
    const last = leech.events.filter((e) => e.event === 'progress').at(-1)!;
    expect(last.refusedCandidates).toBeGreaterThanOrEqual(196);
    leech.kill();
  }, 60_000);
});
