/**
 * Peer exchange between real processes over [::1]: C is told only of A; A is connected to B; C
 * learns B's IPv6 address from A's ut_pex message and connects to it. Then a seed that only B
 * knows joins (a raw peer without BEP 10: it passes nothing on, and nobody can pass it on), and C
 * completes from the peers PEX gave it, every connection its own. With
 * three sixswarm processes, with python3-libtorrent as A (it sends `added6`), and with libtorrent
 * as C (it dials what sixswarm's PEX tells it).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { libtorrentPeer, libtorrentPeers, libtorrentPeersNow, waitUntil } from '../support/peers.js';
import { heardPex } from '../support/pex.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { decode, encode, type BDict, type Encodable } from '../../src/bencode/index.js';
import { encodeCompactPeer } from '../../src/net/compact.js';
import { MSG, RawPeer, RawPeerServer } from '../support/raw-peer.js';
import { cleanUpAfterEach, freePort, runCli, seedPayload, sixswarm, tempDir, treeDigest, type JsonEvent, type SixswarmProcess } from '../support/sixswarm.js';

const TREE = { 'a.bin': 3 * 1024 * 1024 + 123, 'b/c.bin': 200_001 };
const PIECE = 64 * 1024;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** A sixswarm process of this test, with a state folder of its own, trackers off. */
function peer(label: string, args: string[]): SixswarmProcess {
  return sixswarm([...args, '--port', '0', '--no-trackers', '--json', '--state-dir', join(dir!, `state-${label}`)], { label });
}
const connected = (p: SixswarmProcess) => p.events.filter((e) => e.event === 'peer-connected');
const connectedTo = (address: string) => (e: JsonEvent) => e.event === 'peer-connected' && e.address === address;

async function setup() {
  dir = await tempDir('sixswarm-pex-');
  const { torrent, meta, payload } = await seedPayload(dir, TREE, PIECE);
  return { d: dir, torrent, meta, payload, digest: await treeDigest(join(dir, 'seed')) };
}

/**
 * Leechers with nothing yet (connections between leechers last), dialing A: D, then B. When B
 * joins, A's first PEX message to B names D, B's and D's name each other's partners, and so on;
 * the next ones wait a minute, so no one hears of C and dials C while C dials it: every connection
 * C makes is its own (the caller waits for those first messages with heardPex).
 */
async function leechersDialing(d: string, torrent: string, a: SixswarmProcess, portA: number, inAt: (p: SixswarmProcess) => Promise<unknown>, pex = true) {
  const leecher = async (label: string) => {
    const p = peer(label, ['download', torrent, '-o', join(d, label.toLowerCase()), '--peer', `[::1]:${portA}`]);
    await p.waitFor(connectedTo(`[::1]:${portA}`), 15_000, `${label} connected to A`);
    await inAt(p);
    return p;
  };
  const dd = await leecher('D');
  const b = await leecher('B');
  // B heard of D from A and connected to it: A's first message to B is out.
  if (pex) await b.waitFor(() => connected(b).length >= 2, 15_000, 'B connected to D');
  return { b, dd, portB: await b.port(), portD: await dd.port() };
}

/**
 * The seed joins, dialing B only: a raw peer that speaks no BEP 10, so it tells nobody of anyone
 * and nobody can pass it on (it never said where it listens).
 */
async function seedDialing(port: number, meta: Metainfo, payload: Buffer): Promise<RawPeer> {
  const s = await RawPeer.connect('::1', port);
  await s.seed(meta.infoHash, payload, meta.pieceLength);
  return s;
}

/** How long after C's connection to A its connection to a peer A told it of came up. */
function logLatency(what: string, c: SixswarmProcess, viaPex: JsonEvent): void {
  const ms = Date.parse(String(viaPex.time)) - Date.parse(String(connected(c)[0]!.time));
  console.info(`[pex] ${what}: C connected to B ${ms} ms after connecting to A`);
}

/** C completed with the seed's data over IPv6 only, every connection its own (so never one from the seed). */
async function expectCompleted(c: SixswarmProcess, out: string, digest: Record<string, string>) {
  await c.event('complete', 40_000);
  expect(await c.exitCode(), c.stderr).toBe(0);
  expect(await treeDigest(out)).toEqual(digest);
  expect(c.events.filter((e) => e.event === 'piece-failed' || e.event === 'error')).toEqual([]);
  // Each peer also told C its IPv4 address (BEP 10 ipv4): never dialed while that peer was connected.
  for (const e of connected(c)) expect(e, JSON.stringify(e)).toMatchObject({ family: 6, direction: 'out' });
}

describe('PEX over [::1] between real processes', () => {
  it('three sixswarm peers: C learns B from A and connects to it, then completes without knowing the seed', async () => {
    const { d, torrent, meta, payload, digest } = await setup();
    const a = peer('A', ['download', torrent, '-o', join(d, 'a')]);
    const portA = await a.port();
    const { b, dd, portB, portD } = await leechersDialing(d, torrent, a, portA, (p) => a.waitFor(() => connected(a).length >= (p.label === 'D' ? 1 : 2), 5000, `${p.label} at A`));
    await heardPex([a, b, dd], 2);

    const c = peer('C', ['download', torrent, '-o', join(d, 'c'), '--peer', `[::1]:${portA}`, '--exit-on-complete']);
    const viaPex = await c.waitFor(connectedTo(`[::1]:${portB}`), 10_000, 'C connected to B');
    expect(viaPex).toMatchObject({ source: 'pex', direction: 'out', family: 6 });
    logLatency('sixswarm A', c, viaPex);
    expect(await c.waitFor(connectedTo(`[::1]:${portD}`), 10_000, 'C connected to D')).toMatchObject({ source: 'pex', direction: 'out' });
    expect(connected(c)[0]).toMatchObject({ address: `[::1]:${portA}`, source: 'manual' });
    // B saw C come in.
    await b.waitFor((e) => e.event === 'peer-connected' && e.direction === 'in' && connected(b).length >= 3, 5000, 'C at B');

    const s = await seedDialing(portB, meta, payload);
    await expectCompleted(c, join(d, 'c'), digest);
    s.close();
    const pex = c.events.filter((e) => e.event === 'progress').at(-1)!.pex as Record<string, unknown>;
    expect(pex).toMatchObject({ filtered: 0, capped: 0, ignored: 0, littering: [] });
    expect(pex.taken).toBeGreaterThanOrEqual(2);
  });

  it('a private torrent: no PEX either way, so C stays with A alone', async () => {
    const { d } = await setup();
    const torrent = join(d, 'private.torrent');
    const made = await runCli(['create', join(d, 'seed', 'payload'), '-o', torrent, '--private', '--piece-length', String(PIECE)]);
    expect(made.code, made.stderr).toBe(0);
    const a = peer('A', ['download', torrent, '-o', join(d, 'a')]);
    const portA = await a.port();
    await leechersDialing(d, torrent, a, portA, (p) => a.waitFor(() => connected(a).length >= (p.label === 'D' ? 1 : 2), 5000, `${p.label} at A`), false);
    const c = peer('C', ['download', torrent, '-o', join(d, 'c'), '--peer', `[::1]:${portA}`]);
    await c.waitFor(connectedTo(`[::1]:${portA}`), 10_000, 'C connected to A');
    await c.waitFor((e) => e.event === 'progress' && Date.parse(String(e.time)) - Date.parse(String(connected(c)[0]!.time)) > 3000, 10_000, 'three seconds with A');
    expect(connected(c)).toHaveLength(1);
    expect(c.events.filter((e) => e.event === 'progress').at(-1)!.pex).toMatchObject({ partners: 0, messagesIn: 0, messagesOut: 0 });
  });

  it('libtorrent as A: its added6 entries bring C to B', async () => {
    const { d, torrent, meta, payload, digest } = await setup();
    const portA = await freePort();
    const a = libtorrentPeer({ torrent, save: join(d, 'a'), port: portA, pex: true });
    await a.event('checked', 30_000);
    const now = () => (a.events.filter((e) => e.event === 'peers').at(-1)?.peers ?? []) as string[];
    const inAtA = (n: number) => waitUntil(() => now().length >= n, 5000, () => `${n} peers at libtorrent: ${now().join(', ')}`);
    const { b, dd, portB } = await leechersDialing(d, torrent, a, portA, (p) => inAtA(p.label === 'D' ? 1 : 2));
    await heardPex([b, dd], 2);

    const c = peer('C', ['download', torrent, '-o', join(d, 'c'), '--peer', `[::1]:${portA}`, '--exit-on-complete']);
    // libtorrent sends its first PEX message on a tick, at most one every 3 s over all its peers.
    const viaPex = await c.waitFor(connectedTo(`[::1]:${portB}`), 20_000, 'C connected to B');
    expect(viaPex).toMatchObject({ source: 'pex', direction: 'out', family: 6 });
    logLatency('libtorrent A', c, viaPex);
    // libtorrent's list names C itself too: C refuses its own address.
    const first = await c.waitFor((e) => e.event === 'progress' && (e.pex as { messagesIn: number }).messagesIn >= 1, 5000, 'a progress event after the PEX message');
    expect((first.pex as { filtered: number }).filtered).toBeGreaterThanOrEqual(1);

    const s = await seedDialing(portB, meta, payload);
    await expectCompleted(c, join(d, 'c'), digest);
    s.close();
  });

  it('libtorrent as C: sixswarm A\'s PEX brings it to B, and it completes', async () => {
    const { d, torrent, meta, payload, digest } = await setup();
    const a = peer('A', ['download', torrent, '-o', join(d, 'a')]);
    const portA = await a.port();
    const { b, dd, portB } = await leechersDialing(d, torrent, a, portA, (p) => a.waitFor(() => connected(a).length >= (p.label === 'D' ? 1 : 2), 5000, `${p.label} at A`));
    await heardPex([a, b, dd], 2);

    const c = libtorrentPeer({ torrent, save: join(d, 'c'), port: await freePort(), connect: [`[::1]:${portA}`], pex: true });
    await waitUntil(
      () => c.events.some((e) => e.event === 'peers' && (e.pex as string[]).includes(`::1:${portB}`)),
      15_000,
      () => `libtorrent to connect to B (${portB}) as a PEX peer\n${c.stdoutRaw.slice(-2000)}${c.stderr}`,
    );
    // One connection to B, never two at once (each list libtorrent prints names all its connections).
    const toB = (list: string[]) => list.filter((p) => p.startsWith(`out ::1:${portB} `)).length;
    expect(toB(libtorrentPeersNow(c))).toBe(1);
    expect(c.events.filter((e) => e.event === 'peers').map((e) => toB(e.peers as string[])).filter((n) => n > 1)).toEqual([]);

    const s = await seedDialing(portB, meta, payload);
    await c.event('complete', 40_000);
    expect(await treeDigest(join(d, 'c'))).toEqual(digest);
    expect(c.events.filter((e) => e.event === 'hash-failed')).toEqual([]);
    // Only sixswarm peers (named by their BEP 10 `v`, or by their peer id before it): the seed never reached it.
    for (const p of libtorrentPeers(c)) expect(p).toMatch(/ (sixswarm|SX) 0\.1\.0$/);
    s.close();
  });
});

describe('PEX entries for peers we already have', () => {
  it('an incoming peer\'s listening address, passed on by a partner, is not dialed while that peer is connected', async () => {
    const { d, torrent, meta } = await setup();
    const leech = peer('L', ['download', torrent, '-o', join(d, 'l')]);
    const port = await leech.port();
    await leech.event('progress'); // running: its swarm takes connections
    // R listens, connects in to the leecher and tells it where it listens.
    const listener = await RawPeerServer.listen('127.0.0.1');
    const dialedR: RawPeer[] = [];
    listener.onPeer((p) => void dialedR.push(p));
    const extended = (p: RawPeer, d: Record<string, Encodable>) => p.sendMessage(MSG.extended, Buffer.concat([Buffer.from([0]), encode(d)]));
    const r = await RawPeer.connect('127.0.0.1', port);
    r.sendHandshake(meta.infoHash, { extended: true });
    await r.readHandshake();
    extended(r, { m: {}, p: listener.port });
    await leech.waitFor((e) => e.event === 'peer-connected', 5000, 'R connected');
    // A PEX partner names R's listening address.
    const partner = await RawPeer.connect('127.0.0.1', port);
    partner.sendHandshake(meta.infoHash, { extended: true });
    await partner.readHandshake();
    extended(partner, { m: { ut_pex: 1 } });
    const theirs = await partner.waitForMessage(MSG.extended);
    const id = ((decode(theirs.payload.subarray(1)) as BDict).get('m') as BDict).get('ut_pex') as number;
    partner.sendMessage(MSG.extended, Buffer.concat([Buffer.from([id]), encode({ added: encodeCompactPeer({ host: '127.0.0.1', port: listener.port }), 'added.f': Buffer.from([0]) })]));
    await leech.waitFor((e) => e.event === 'progress' && (e.pex as { taken: number }).taken === 1, 5000, 'the entry taken');
    await new Promise((res) => setTimeout(res, 2500));
    expect(dialedR).toHaveLength(0);
    // R gone, its address is a candidate like any other.
    r.close();
    await waitUntil(() => dialedR.length > 0, 10_000, () => 'the leecher dialing R');
    await listener.close();
    partner.close();
  });
});
