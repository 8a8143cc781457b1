/**
 * One host must not lock others out of the built-in tracker: a flood of announces with random
 * info hashes costs the flooding host its own oldest entries, never others' room (the store's
 * policy in-process, then with real announces to `sixswarm tracker` and a real seed and leecher),
 * and on HTTP a malformed request is answered at once while idle connections of one host, or of
 * many under load, make way for others.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asBytes, asDict, decode, type BDict } from '../../src/bencode/index.js';
import { escapeBytes } from '../../src/tracker/http-announce.js';
import { HTTP_SLOTS } from '../../src/tracker/server/http-connections.js';
import { SwarmStore, type StoreLimits } from '../../src/tracker/server/swarm-store.js';
import { TrackerServer } from '../../src/tracker/server/tracker-server.js';
import { announceRequest, connectRequest } from '../../src/tracker/udp-protocol.js';
import { builtInTracker, ensureBuilt, removeDir, seedPayload, sixswarm, stopAll, tempDir } from '../support/sixswarm.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await stopAll(); // first: a process still saving resume state would refill its folder under removeDir
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the swarm store under a flood', () => {
  const limits: StoreLimits = { maxPeersPerTorrent: 50, maxPeersPerSource: 16, maxPeers: 300, maxPeersPerHost: 100, maxTorrents: 100, peerTtlMs: 60_000 };
  let now = 0;
  const announce = (store: SwarmStore, ih: Buffer, host: string, identity: string, left = 5) =>
    store.announce({ infoHash: ih, peerId: randomBytes(20), identity, source: { host, port: 7000, family: host.includes(':') ? 6 : 4 }, extra: [], left, numwant: 50 }, ++now);

  it('a host announcing random torrents keeps only its share, its most recent; a newcomer elsewhere finds its swarm at once', () => {
    const store = new SwarmStore(limits);
    for (let i = 0; i < 10_000; i++) expect(announce(store, randomBytes(20), '192.0.2.66', `flood${i}`).stored).toBe(true);
    expect(store.peersOfHost('192.0.2.66')).toBe(100);
    expect(store.torrentCount).toBe(100);
    const ih = randomBytes(20);
    expect(announce(store, ih, '198.51.100.1', 'seed', 0).stored).toBe(true);
    const leech = announce(store, ih, '198.51.100.2', 'leech');
    expect(leech.stored).toBe(true);
    expect(leech.peers4.map((p) => p.host)).toEqual(['198.51.100.1']);
  });

  it('a full table loses the oldest entry of the host holding the most: hosts with few entries keep theirs', () => {
    const store = new SwarmStore(limits);
    const light = randomBytes(20);
    for (let h = 0; h < 3; h++) for (let i = 0; i < 100; i++) announce(store, randomBytes(20), `192.0.2.${h + 1}`, `h${h}-${i}`);
    expect(store.peerCount).toBe(300); // full
    expect(announce(store, light, '203.0.113.7', 'light').stored).toBe(true);
    expect(store.peersOfHost('203.0.113.7')).toBe(1);
    expect(store.peerCount).toBe(300);
    // The heavy hosts go on announcing new torrents: they only ever push each other out.
    for (let i = 0; i < 1000; i++) announce(store, randomBytes(20), `192.0.2.${(i % 3) + 1}`, `more${i}`);
    expect(store.peersOfHost('203.0.113.7')).toBe(1);
    expect(store.scrape(light, now).incomplete).toBe(1);
  });

  it('an IPv6 /64 is one host, and announcing again keeps an entry', () => {
    const store = new SwarmStore(limits);
    const kept = randomBytes(20);
    announce(store, kept, '2001:db8:0:1::1', 'kept');
    for (let i = 0; i < 500; i++) {
      announce(store, randomBytes(20), `2001:db8:0:1::${(i % 9000) + 2}`, `v6-${i}`);
      if (i % 50 === 0) announce(store, kept, '2001:db8:0:1::1', 'kept'); // still announcing: recent
    }
    expect(store.peersOfHost('2001:db8:0:1:ffff::1')).toBe(100);
    expect(store.scrape(kept, now).incomplete).toBe(1);
    expect(store.peersOfHost('2001:db8:0:2::1')).toBe(0);
  });
});

/** 10,000 UDP announces of random info hashes from `local`, each retried until answered. */
async function udpFlood(port: number, local: string, count: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, local, r));
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  const waiting = new Map<number, () => void>();
  sock.on('message', (m) => waiting.get(m.readUInt32BE(4))?.());
  const exchange = (tx: number, packet: Buffer) =>
    new Promise<void>((resolve) => {
      const send = () => sock.send(packet, port, '127.0.0.1');
      const retry = setInterval(send, 300);
      waiting.set(tx, () => {
        clearInterval(retry);
        waiting.delete(tx);
        resolve();
      });
      send();
    });
  let connId = Buffer.alloc(0);
  sock.on('message', (m) => {
    if (m.readUInt32BE(0) === 0) connId = Buffer.from(m.subarray(8, 16));
  });
  await exchange(1, connectRequest(1));
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const tx = 1000 + i;
      await exchange(tx, announceRequest(connId, tx, { infoHash: randomBytes(20), peerId: randomBytes(20), downloaded: 0, left: 1, uploaded: 0, ip: 0, key: i, numwant: 0, port: 6000 + (i % 1000) }));
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
}

describe('sixswarm tracker after a flood from one address', () => {
  beforeAll(ensureBuilt);

  it('a seed and a leecher of a new torrent on another address still find each other at once', async () => {
    const dir = await tempDir();
    cleanups.push(() => removeDir(dir));
    const { torrent } = await seedPayload(dir, { 'data.bin': 300_000 }, 16384);
    const { proc, port } = await builtInTracker(['--udp', '--http', '--bind', '127.0.0.1']);
    await udpFlood(port, '127.0.0.2', 10_000);
    await proc.waitFor((e) => e.type === 'announce' && e.peer === '127.0.0.2:6999', 10_000, 'the last announces of the flood');
    const url = `http://127.0.0.1:${port}/announce`;
    const seed = sixswarm(['seed', torrent, `${dir}/seed`, '--port', '0', '--json', '--no-ipv6', '--tracker', url], { env: { SIXSWARM_STATE_DIR: `${dir}/s1` }, label: 'seed' });
    await seed.waitFor((e) => e.event === 'tracker' && e.announce === 'started', 10_000, 'the seed announced');
    const started = Date.now();
    const leech = sixswarm(['download', torrent, '-o', `${dir}/leech`, '--port', '0', '--json', '--no-ipv6', '--tracker', url, '--exit-on-complete'], {
      env: { SIXSWARM_STATE_DIR: `${dir}/s2` },
      label: 'leech',
    });
    const tracker = await leech.waitFor((e) => e.event === 'tracker', 10_000, 'the leecher announced');
    expect(tracker.error, JSON.stringify(tracker)).toBeUndefined();
    expect(tracker.warning, JSON.stringify(tracker)).toBeUndefined();
    await leech.event('complete', 20_000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('the tracker over HTTP, with connections that do not finish a request', () => {
  async function startServer() {
    const server = new TrackerServer({ bind: ['127.0.0.1'], http: true, intervalSec: 60 });
    const bad: string[] = [];
    server.on('bad-request', (e) => bad.push(e.reason));
    await server.listen();
    cleanups.push(() => server.close());
    return { port: server.port, bad };
  }

  /** Connect from `local`, write `bytes`; resolves with the connection, what came back and when it closed. */
  function rawConnection(port: number, bytes: string, local = '127.0.0.1') {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: local });
    const state = { reply: '', closedAt: 0 };
    socket.on('data', (d) => (state.reply += d.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.on('close', () => ((state.closedAt = Date.now()), r())));
    const ready = new Promise<void>((r) => socket.on('connect', () => (socket.write(bytes), r())));
    cleanups.push(() => void socket.destroy());
    return { socket, state, closed, ready };
  }

  async function announce(port: number): Promise<{ ms: number; body: BDict }> {
    const started = Date.now();
    const path = `/announce?info_hash=${escapeBytes(randomBytes(20))}&peer_id=${escapeBytes(randomBytes(20))}&port=6881&left=1`;
    const c = rawConnection(port, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    await c.closed;
    const body = c.state.reply.slice(c.state.reply.indexOf('\r\n\r\n') + 4);
    return { ms: Date.now() - started, body: asDict(decode(Buffer.from(body, 'latin1')), 'reply') };
  }

  it('a request of only "\\r\\n\\r\\n", or binary, is answered 400 at once and closed', async () => {
    const { port, bad } = await startServer();
    for (const junk of ['\r\n\r\n', '\x16\x03\x01\x02\x00', 'GET\r\n\r\n']) {
      const started = Date.now();
      const c = rawConnection(port, junk);
      await c.closed;
      expect(c.state.closedAt - started).toBeLessThan(1000);
      expect(c.state.reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(c.state.reply).toContain('failure reason');
    }
    expect(bad).toEqual(['malformed HTTP request: empty line before the request line', 'malformed HTTP request: not a request line', 'malformed HTTP request: bad request line']);
    expect(asBytes((await announce(port)).body.get('peers'), 'peers')).toBeDefined();
  });

  it('500 idle connections from one address: it keeps its share, others are answered at once', async () => {
    const { port } = await startServer();
    const idle = Array.from({ length: 500 }, () => rawConnection(port, 'GET /announce?info_hash=', '127.0.0.2'));
    await Promise.all(idle.map((c) => c.ready));
    // Accepted one by one, each past its host's share closing that host's oldest.
    const open = () => idle.filter((c) => c.state.closedAt === 0).length;
    for (const end = Date.now() + 5000; open() > HTTP_SLOTS.perHost && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
    expect(open()).toBe(HTTP_SLOTS.perHost);
    const r = await announce(port);
    expect(r.ms).toBeLessThan(1000);
    expect(r.body.get('failure reason')).toBeUndefined();
  });

  it('partial request heads time out after 2 s while more than half of the slots are taken, not 10 s', async () => {
    const { port } = await startServer();
    const calm = rawConnection(port, 'GET /announce HTTP/1.1\r\nHost: t\r\n');
    await calm.ready;
    await new Promise((r) => setTimeout(r, 2500));
    expect(calm.state.closedAt).toBe(0); // calm: a head may take its time
    const hosts = Math.ceil((HTTP_SLOTS.total / 2 + 100) / 60);
    const load = Array.from({ length: hosts * 60 }, (_, i) => rawConnection(port, 'GET /announce HTTP/1.1\r\nHost: t\r\n', `127.0.1.${1 + (i % hosts)}`));
    await Promise.all(load.map((c) => c.ready));
    const started = Date.now();
    await Promise.all(load.map((c) => c.closed));
    expect(Date.now() - started).toBeLessThan(3500);
    await calm.closed;
    expect(calm.state.closedAt - started).toBeLessThan(3500);
  });
});
