/**
 * The engine's seams, in memory: handshakes both ways through one Handshaker, the connection
 * half of the swarm before any metadata, the extension registry (a test extension, the private
 * torrent rule), and a transfer attached later, all over pairs of in-memory transports, also
 * delivering one byte at a time and through an overwritten read buffer.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/metainfo/create.js';
import { parseTorrent } from '../../src/metainfo/torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { Req2Index } from '../../src/mse/handshake.js';
import type { DialTarget } from '../../src/transport/network.js';
import { HashPool } from '../../src/storage/hash-pool.js';
import { TorrentStorage } from '../../src/storage/torrent-storage.js';
import type { SwarmEvent } from '../../src/swarm/events.js';
import { Swarm } from '../../src/swarm/swarm.js';
import type { ExtensionFactory, ExtensionPeer } from '../../src/wire/extensions.js';
import { KernelNetwork } from '../../src/transport/kernel/kernel-network.js';
import { Handshaker } from '../../src/wire/handshaker.js';
import { PeerWire } from '../../src/wire/peer-wire.js';
import { samePort } from '../support/ports.js';
import { memoryPair, type MemoryPairOptions, type MemoryTransport } from '../support/memory-transport.js';

const PIECE = 32 * 1024;

/** A little network of in-memory hosts: dialing an address connects to that host's handshaker. */
class MemoryNet {
  readonly hosts = new Map<string, Node>();
  constructor(readonly pair: MemoryPairOptions = {}) {}

  node(host: string, family: 4 | 6 = 6): Node {
    const n = new Node(this, host, family);
    this.hosts.set(host, n);
    return n;
  }
}

class Node {
  readonly peerId = Buffer.concat([Buffer.from('-SX0100-', 'latin1'), randomBytes(12)]);
  readonly swarms = new Map<string, Swarm>();
  private readonly req2 = new Req2Index();
  readonly events: SwarmEvent[] = [];
  readonly transports: MemoryTransport[] = [];
  readonly handshaker: Handshaker;

  constructor(
    private readonly net: MemoryNet,
    readonly host: string,
    readonly family: 4 | 6,
  ) {
    this.handshaker = new Handshaker({
      peerId: this.peerId,
      directory: { find: (h) => this.swarms.get(h.toString('hex')), findByReq2: (r) => this.req2.find(r) },
      network: {
        dial: async (target: DialTarget) => {
          const to = this.net.hosts.get(target.host);
          if (!to) throw new Error('connection refused');
          const [mine, theirs] = memoryPair({ ...this.net.pair, a: { host: this.host, port: 6881, family: this.family }, b: { host: to.host, port: 6881, family: to.family } });
          this.transports.push(mine);
          to.transports.push(theirs);
          to.handshaker.incoming(theirs);
          return mine;
        },
      },
    });
  }

  swarm(infoHash: Buffer, opts: { private?: boolean } = {}): Swarm {
    const s = new Swarm(infoHash, {
      peerId: this.peerId,
      clientName: `memory ${this.host}`,
      handshaker: this.handshaker,
      ports: samePort(6881),
      ownAddresses: () => ({}),
      families: { 4: true, 6: true },
      private: opts.private ?? false,
    });
    s.on('event', (e) => this.events.push(e));
    this.swarms.set(infoHash.toString('hex'), s);
    this.req2.add(infoHash);
    s.start();
    return s;
  }
}

/** Resolves once `check` holds, polling; fails the test with `what` after `ms`. */
async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A test extension: says hello on the extended handshake and records what it hears. */
function echoExtension(heard: string[], opts: { discovery?: boolean; name?: string } = {}): ExtensionFactory & { attached: ExtensionPeer[] } {
  const attached: ExtensionPeer[] = [];
  return {
    name: opts.name ?? 'sx_echo',
    discovery: opts.discovery,
    attached,
    handshakeKeys: () => ({ sx_echo_version: 3 }),
    attach(peer, send) {
      attached.push(peer);
      return {
        onExtendedHandshake: () => void send(Buffer.from(`hello from ${peer.outgoing ? 'dialer' : 'listener'}`)),
        onMessage: (payload) => void heard.push(payload.toString()),
      };
    },
  };
}

let dir: string;
let pool: HashPool;
let meta: Metainfo;
let payload: Buffer;
const swarms: Swarm[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sixswarm-memory-'));
  pool = new HashPool(2);
  payload = randomBytes(20 * PIECE + 999);
  await mkdir(join(dir, 'seed'));
  await writeFile(join(dir, 'seed', 'data.bin'), payload);
  meta = parseTorrent(await createTorrent({ path: join(dir, 'seed', 'data.bin'), pieceLength: PIECE }));
});

afterEach(async () => {
  await Promise.all(swarms.splice(0).map((s) => s.stop()));
});

afterAll(async () => {
  await pool.close();
  await rm(dir, { recursive: true, force: true });
});

function track(s: Swarm): Swarm {
  swarms.push(s);
  return s;
}

async function seedOn(node: Node): Promise<Swarm> {
  const storage = new TorrentStorage(meta, join(dir, 'seed'), pool, { writable: false, stateDir: join(dir, `state-${node.host}`) });
  await storage.check(true);
  const s = track(node.swarm(meta.infoHash));
  s.attach(storage);
  return s;
}

describe('handshakes through one Handshaker, both directions', () => {
  it('routes an incoming handshake to its torrent and refuses an unknown info hash', async () => {
    const net = new MemoryNet();
    const a = net.node('2001:db8::a');
    const b = net.node('2001:db8::b');
    const sa = track(a.swarm(meta.infoHash));
    track(b.swarm(meta.infoHash));
    sa.addPeers([{ host: b.host, port: 6881 }], { kind: 'manual' });
    await until(() => sa.connections.peers.size === 1, 'A connected to B');
    const peer = [...sa.connections.peers][0]!;
    expect(peer.id.equals(b.peerId)).toBe(true);
    expect(peer.source).toEqual({ kind: 'manual' });
    expect(a.events).toContainEqual(expect.objectContaining({ event: 'peer-connected', address: '[2001:db8::b]:6881', direction: 'out', source: 'manual', encrypted: true }));
    expect(b.events).toContainEqual(expect.objectContaining({ event: 'peer-connected', direction: 'in', source: 'incoming' }));

    // A torrent B does not have: B closes the connection after reading the handshake.
    const other = randomBytes(20);
    const so = track(a.swarm(other));
    so.addPeers([{ host: b.host, port: 6881 }], { kind: 'tracker', from: 'http://tracker.test/announce' });
    await until(() => a.events.some((e) => e.event === 'peer-unreachable'), 'the dial for an unknown torrent to fail');
    // Hung up on without a byte: what a peer that requires encryption does too, hence the hint.
    expect(a.events.find((e) => e.event === 'peer-unreachable')).toMatchObject({
      address: '[2001:db8::b]:6881',
      source: 'tracker',
      reason: 'closed the connection during the handshake (it may require encryption)',
    });
    expect(so.stats().unreachable).toBe(1);
  });

  it('times out a silent incoming connection and bounds unfinished handshakes per host, evicting the heaviest host first', async () => {
    const hs = new Handshaker({ peerId: randomBytes(20), network: new KernelNetwork(), directory: { find: () => undefined, findByReq2: () => undefined }, maxUnfinished: 4, maxUnfinishedPerHost: 3, timeoutMs: 300 });
    const from = (host: string) => {
      const [theirs, mine] = memoryPair({ a: { host, port: 1000, family: 6 } });
      theirs.start({ data: () => {}, drain: () => {}, close: () => {} });
      hs.incoming(mine);
      return theirs;
    };
    const flood = [from('2001:db8:1::1'), from('2001:db8:1::2'), from('2001:db8:1::3'), from('2001:db8:1::4')];
    // One /64 is one host: at its limit it loses its own oldest, not the newcomer.
    await until(() => flood[0]!.closed, 'the oldest connection of one /64 to make room');
    expect(flood.slice(1).every((t) => !t.closed)).toBe(true);
    const honest = from('2001:db8:2::1');
    expect(hs.pending).toBe(4);
    // The table is full now: a newcomer from yet another host pushes out the flood's oldest.
    const late = from('2001:db8:3::1');
    await until(() => flood[1]!.closed, 'the heaviest host to lose its oldest handshake');
    expect(honest.closed || late.closed).toBe(false);
    expect(hs.pending).toBe(4);
    // Nobody said hello: all go after the timeout.
    await until(() => hs.pending === 0 && [honest, late, ...flood].every((t) => t.closed), 'silent handshakes to time out', 3000);
    hs.close();
  });
});

describe('the connection half before the metadata, then the transfer', () => {
  for (const [name, pair] of [
    ['whole writes', {}],
    ['one byte at a time', { chunkBytes: 1 }],
    ['a read buffer overwritten after each delivery', { transient: true, chunkBytes: 1000 }],
  ] as [string, MemoryPairOptions][]) {
    it(`a leecher without metadata connects, remembers the seed's pieces, and downloads once the transfer attaches (${name})`, async () => {
      const net = new MemoryNet(pair);
      const seedNode = net.node('2001:db8::5');
      const leechNode = net.node('192.0.2.7', 4);
      const seed = await seedOn(seedNode);
      const leech = track(leechNode.swarm(meta.infoHash));
      leech.addPeers([{ host: seedNode.host, port: 6881 }], { kind: 'magnet' });
      await until(() => leech.connections.peers.size === 1 && [...leech.connections.peers][0]!.early.pieces !== undefined, 'the seed to tell a leecher without metadata what it has', 20_000);
      const early = [...leech.connections.peers][0]!.early;
      expect(early.pieces?.type).toBe('have-all'); // both speak the fast extension
      expect(leech.transfer).toBeUndefined();

      const out = join(dir, `leech-${Math.random().toString(36).slice(2)}`);
      const storage = new TorrentStorage(meta, out, pool, { writable: true, stateDir: join(dir, 'leech-state') });
      await storage.check(false);
      leech.attach(storage);
      await until(() => leech.complete, 'the download to complete', 60_000);
      expect((await readFile(join(out, 'data.bin'))).equals(payload)).toBe(true);
      expect(leechNode.events.filter((e) => e.event === 'piece-verified')).toHaveLength(meta.pieceCount);
      expect(seed.stats().uploaded).toBe(meta.totalLength);
      await leech.stop();
      await storage.close();
    });
  }

  it('closes a peer that sends a piece or a request before we announced anything, and only that peer', async () => {
    const net = new MemoryNet();
    const a = net.node('2001:db8::a');
    const sa = track(a.swarm(meta.infoHash));
    const [theirs, mine] = memoryPair({ a: { host: '2001:db8::66', port: 7000, family: 6 } });
    a.handshaker.incoming(mine);
    const rogue = new PeerWire(theirs, true);
    const closed = new Promise<string>((resolve) =>
      rogue.attach({ onHandshake: () => true, onMessage: () => {}, onClose: resolve }),
    );
    rogue.sendHandshake(meta.infoHash, randomBytes(20));
    rogue.startMessages({ bitfieldBytes: 0, maxBlock: 16384, maxExtended: 1 << 20 });
    await until(() => sa.connections.peers.size === 1, 'the rogue to be admitted');
    rogue.send.requests([{ index: 0, begin: 0, length: 16384 }]);
    await closed;
    await until(() => sa.connections.peers.size === 0, 'the rogue to be dropped');
    expect(a.events.find((e) => e.event === 'peer-disconnected')).toMatchObject({ reason: 'protocol error: request before we announced any piece' });
  });
});

describe('torrent-level hooks (swarm plugins)', () => {
  it('tell a plugin of peers joining and leaving, failed dials with their source, verified pieces and the tick; a throwing plugin is a warning', async () => {
    const net = new MemoryNet();
    const seedNode = net.node('2001:db8::5');
    const leechNode = net.node('2001:db8::7');
    await seedOn(seedNode);
    const leech = track(leechNode.swarm(meta.infoHash));
    const heard: string[] = [];
    let ticks = 0;
    leech.plugins.add({
      peerAdded: (p) => heard.push(`added ${p.label} ${p.direction} ${p.source.kind}`),
      peerRemoved: (p, reason) => heard.push(`removed ${p.label}: ${reason}`),
      dialFailed: (f) => heard.push(`failed ${f.targets.map((t) => `${t.host}:${t.port}`).join(',')} from ${f.source.kind} ${f.source.from}: ${f.reason}`),
      pieceVerified: (i) => heard.push(`verified ${i}`),
      tick: () => void ticks++,
    });
    const undo = leech.plugins.add({ peerAdded: () => { throw new Error('plugin bug'); } });
    leech.addPeers([{ host: '2001:db8::99', port: 6881 }], { kind: 'pex', from: '[2001:db8::5]:6881' });
    leech.addPeers([{ host: seedNode.host, port: 6881 }], { kind: 'manual' });
    await until(() => heard.includes('added [2001:db8::5]:6881 out manual'), 'the seed to join');
    expect(heard).toContain('failed 2001:db8::99:6881 from pex [2001:db8::5]:6881: connection refused');
    expect(leechNode.events).toContainEqual(expect.objectContaining({ event: 'warning', message: "a swarm plugin's peerAdded failed: plugin bug" }));
    undo();
    const out = join(dir, `hooks-${Math.random().toString(36).slice(2)}`);
    const storage = new TorrentStorage(meta, out, pool, { writable: true, stateDir: join(dir, 'hooks-state') });
    await storage.check(false);
    leech.attach(storage);
    await until(() => leech.complete, 'the download to complete', 60_000);
    expect(heard.filter((h) => h.startsWith('verified ')).map((h) => Number(h.slice(9))).sort((a, b) => a - b)).toEqual([...Array(meta.pieceCount).keys()]);
    // Both complete, the seed and the leecher part.
    await until(() => heard.some((h) => h.startsWith('removed [2001:db8::5]:6881')), 'the seed to leave');
    await until(() => ticks >= 1, 'a tick', 3000);
    await leech.stop();
    await storage.close();
  });
});

describe('the extension registry', () => {
  it('builds m from the registered extensions, attaches a handler per peer that speaks it, and ignores ids we never gave', async () => {
    const net = new MemoryNet({ chunkBytes: 1 });
    const a = net.node('2001:db8::a');
    const b = net.node('2001:db8::b');
    const heardA: string[] = [];
    const heardB: string[] = [];
    const sa = track(a.swarm(meta.infoHash));
    const sb = track(b.swarm(meta.infoHash));
    const extA = echoExtension(heardA);
    sa.extensions.register(extA);
    sb.extensions.register(echoExtension(heardB));
    expect(sa.extensions.m()).toEqual({ sx_echo: 1 });
    sa.addPeers([{ host: b.host, port: 6881 }], { kind: 'manual' });
    await until(() => heardA.length === 1 && heardB.length === 1, 'both sides to hear the other through the extension');
    expect(heardA).toEqual(['hello from listener']);
    expect(heardB).toEqual(['hello from dialer']);
    const peerOfA = [...sa.connections.peers][0]!;
    expect(peerOfA.ext?.m.get('sx_echo')).toBe(1);
    expect(extA.attached[0]!.ext?.client).toBe('memory 2001:db8::b');

    // An extended message on an id A never advertised is ignored; the connection stays.
    const peerOfB = [...sb.connections.peers][0]!;
    peerOfB.wire.send.extended(77, Buffer.from('stray'));
    peerOfB.wire.send.extended(1, Buffer.from('after the stray one'));
    await until(() => heardA.length === 2, 'the message after the stray one');
    expect(heardA[1]).toBe('after the stray one');
    expect(sa.connections.peers.size).toBe(1);
  });

  it('never attaches a discovery extension on a private torrent, even when the peer offers it', async () => {
    const net = new MemoryNet();
    const a = net.node('2001:db8::a');
    const b = net.node('2001:db8::b');
    const heardA: string[] = [];
    const heardB: string[] = [];
    const sa = track(a.swarm(meta.infoHash, { private: true }));
    const sb = track(b.swarm(meta.infoHash));
    const pexA = echoExtension(heardA, { discovery: true, name: 'ut_pex' });
    sa.extensions.register(pexA);
    sb.extensions.register(echoExtension(heardB, { discovery: true, name: 'ut_pex' }));
    expect(sa.extensions.m()).toEqual({ ut_pex: 0 });
    expect(sa.extensions.handshakeKeys()).toEqual({});
    sa.addPeers([{ host: b.host, port: 6881 }], { kind: 'manual' });
    await until(() => sb.connections.peers.size === 1 && [...sb.connections.peers][0]!.ext !== undefined, 'B to have A\'s extended handshake');
    // A tells B it does not speak ut_pex; B offers it, and A still attaches nothing.
    expect([...sb.connections.peers][0]!.ext!.m.get('ut_pex')).toBe(0);
    await until(() => [...sa.connections.peers][0]?.ext !== undefined, 'A to have B\'s extended handshake');
    expect([...sa.connections.peers][0]!.ext!.m.get('ut_pex')).toBe(1);
    expect(pexA.attached).toHaveLength(0);
    expect(heardB).toEqual([]);
    // Peers from discovery sources are refused too (BEP 27); manual ones are not.
    expect(sa.addPeers([{ host: '2001:db8::99', port: 1 }], { kind: 'pex', from: 'x' })).toBe(0);
    expect(sa.addPeers([{ host: '2001:db8::99', port: 1 }], { kind: 'dht' })).toBe(0);
    expect(sa.addPeers([{ host: '2001:db8::99', port: 1 }], { kind: 'manual' })).toBe(1);
  });

  it('withdraws a discovery extension from connected peers when the metadata says the torrent is private', async () => {
    const net = new MemoryNet();
    const a = net.node('2001:db8::a');
    const b = net.node('2001:db8::b');
    const heardB: string[] = [];
    const closedA: string[] = [];
    const sa = track(a.swarm(meta.infoHash));
    const sb = track(b.swarm(meta.infoHash));
    sa.extensions.register({
      name: 'ut_pex',
      discovery: true,
      attach: () => ({ onMessage: () => {}, onClose: () => void closedA.push('closed') }),
    });
    sb.extensions.register(echoExtension(heardB, { discovery: true, name: 'ut_pex' }));
    sa.addPeers([{ host: b.host, port: 6881 }], { kind: 'manual' });
    await until(() => [...sb.connections.peers][0]?.ext?.m.get('ut_pex') === 1, 'B to see that A speaks ut_pex');
    await until(() => [...sa.connections.peers][0]?.ext !== undefined, 'A to have B\'s extended handshake');
    const privateMeta: Metainfo = { ...meta, private: true };
    const storage = new TorrentStorage(privateMeta, join(dir, 'seed'), pool, { writable: false, stateDir: join(dir, 'private-state') });
    await storage.check(true);
    sa.attach(storage);
    expect(closedA).toEqual(['closed']);
    // A's new extended handshake turns ut_pex off on B's side.
    await until(() => [...sb.connections.peers][0]?.ext?.m.get('ut_pex') === 0, 'B to learn that ut_pex is off');
  });
});
