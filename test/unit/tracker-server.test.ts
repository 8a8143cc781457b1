/**
 * The built-in tracker server with raw HTTP requests and raw BEP 15 datagrams: replies of both
 * families, the dictionary model, bad input refused without hurting anyone else, limits, expiry.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { asBytes, asDict, asInt, asList, BDict, decode } from '../../src/bencode/index.js';
import { decodeCompactPeers } from '../../src/net/compact.js';
import { escapeBytes } from '../../src/tracker/http-announce.js';
import { SwarmStore } from '../../src/tracker/server/swarm-store.js';
import { TrackerServer, type ServerAnnounceEvent, type TrackerServerOptions } from '../../src/tracker/server/tracker-server.js';
import { announceRequest, connectRequest } from '../../src/tracker/udp-protocol.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(opts: TrackerServerOptions = {}) {
  const server = new TrackerServer({ bind: ['127.0.0.1', '::1'], intervalSec: 60, ...opts });
  const seen: ServerAnnounceEvent[] = [];
  const bad: string[] = [];
  server.on('announce', (e) => seen.push(e));
  server.on('bad-request', (e) => bad.push(e.reason));
  await server.listen();
  cleanups.push(() => server.close());
  return { server, seen, bad, port: server.port };
}

function get(host: string, port: number, path: string, method = 'GET'): Promise<{ status: number; body: BDict }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: asDict(decode(Buffer.concat(chunks)), 'reply') }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Ann {
  ih: Buffer;
  id: Buffer;
  port: number;
  left?: number;
  key?: string;
  event?: string;
  extra?: string;
}
const annPath = (a: Ann) =>
  `/announce?info_hash=${escapeBytes(a.ih)}&peer_id=${escapeBytes(a.id)}&port=${a.port}&uploaded=0&downloaded=0&left=${a.left ?? 10}` +
  `${a.key ? `&key=${a.key}` : ''}${a.event ? `&event=${a.event}` : ''}${a.extra ?? ''}`;

const failure = (d: BDict) => d.get('failure reason')?.toString();

describe('HTTP', () => {
  it('gives peers of both families to every requester, never the requester itself', async () => {
    const { port } = await startServer();
    const ih = randomBytes(20);
    const a = { ih, id: randomBytes(20), port: 5001, key: 'aaaa0001' };
    await get('127.0.0.1', port, annPath(a));
    await get('::1', port, annPath(a));
    const b = { ih, id: randomBytes(20), port: 5002, key: 'bbbb0002' };
    const r = (await get('127.0.0.1', port, annPath(b))).body;
    expect(decodeCompactPeers(asBytes(r.get('peers'), 'peers'), 4)).toEqual([{ host: '127.0.0.1', port: 5001, family: 4 }]);
    expect(decodeCompactPeers(asBytes(r.get('peers6'), 'peers6'), 6)).toEqual([{ host: '::1', port: 5001, family: 6 }]);
    expect(asInt(r.get('interval'), 'interval')).toBe(60);
    expect(asInt(r.get('min interval'), 'min interval')).toBe(30);
    expect(asInt(r.get('incomplete'), 'incomplete')).toBe(2);
    // A over IPv6 again: it sees B, not its own IPv4 address (same key = same client).
    const again = (await get('::1', port, annPath(a))).body;
    expect(decodeCompactPeers(asBytes(again.get('peers'), 'peers'), 4)).toEqual([{ host: '127.0.0.1', port: 5002, family: 4 }]);
    expect(asBytes(again.get('peers6'), 'peers6').length).toBe(0);
  });

  it('compact=0: dictionary model with both families; no_peer_id drops the ids', async () => {
    const { port } = await startServer();
    const ih = randomBytes(20);
    const a = { ih, id: Buffer.from('-XX0001-aaaaaaaaaaaa'), port: 5003, key: '1' };
    await get('127.0.0.1', port, annPath(a));
    await get('::1', port, annPath(a));
    const r = (await get('::1', port, annPath({ ih, id: randomBytes(20), port: 5004, extra: '&compact=0' }))).body;
    const peers = asList(r.get('peers'), 'peers').map((p) => asDict(p, 'peer'));
    expect(peers.map((p) => [p.get('ip')!.toString(), asInt(p.get('port'), 'port'), p.get('peer id')!.toString()]).sort()).toEqual([
      ['127.0.0.1', 5003, '-XX0001-aaaaaaaaaaaa'],
      ['::1', 5003, '-XX0001-aaaaaaaaaaaa'],
    ]);
    const r2 = (await get('::1', port, annPath({ ih, id: randomBytes(20), port: 5005, extra: '&compact=0&no_peer_id=1' }))).body;
    expect(asList(r2.get('peers'), 'peers').every((p) => !asDict(p, 'peer').has('peer id'))).toBe(true);
  });

  it('bad requests get a failure reason and do not disturb the others', async () => {
    const { port, bad, seen } = await startServer();
    const ih = randomBytes(20);
    const id = randomBytes(20);
    const cases: [string, RegExp][] = [
      ['/announce?peer_id=x&port=1', /missing info_hash/],
      [`/announce?info_hash=abc&peer_id=${escapeBytes(id)}&port=1`, /info_hash must be 20 bytes, got 3/],
      [`/announce?info_hash=${escapeBytes(ih)}&peer_id=${escapeBytes(id)}&port=0`, /port must be between 1 and 65535/],
      [`/announce?info_hash=${escapeBytes(ih)}&peer_id=${escapeBytes(id)}&port=99999`, /port must be between/],
      [`/announce?info_hash=${escapeBytes(ih)}&peer_id=${escapeBytes(id)}`, /missing port/],
      [`/announce?info_hash=${escapeBytes(ih)}&peer_id=${escapeBytes(id)}&port=5&left=-1`, /left must be a non-negative integer/],
      [`/announce?info_hash=%zz${escapeBytes(ih)}&peer_id=x&port=1`, /bad percent escape/],
      [`/announce?info_hash=${escapeBytes(ih)}&peer_id=${escapeBytes(id)}&port=5&event=exploded`, /unknown event/],
      [`/announce?${'a=1&'.repeat(300)}`, /more than 256 parameters/],
      ['/scrape', /at least one info_hash/],
      ['/scrape?info_hash=short', /info_hash must be 20 bytes/],
    ];
    for (const [path, re] of cases) {
      const r = await get('127.0.0.1', port, path);
      expect(r.status).toBe(200);
      expect(failure(r.body)).toMatch(re);
    }
    expect((await get('127.0.0.1', port, '/nothing')).status).toBe(404);
    expect(failure((await get('127.0.0.1', port, annPath({ ih, id, port: 5 }), 'POST')).body)).toBe('only GET is supported');
    expect(bad.length).toBe(cases.length + 2);
    expect(seen.length).toBe(0);
    const ok = await get('127.0.0.1', port, annPath({ ih, id, port: 5006 }));
    expect(failure(ok.body)).toBeUndefined();
    expect(seen.length).toBe(1);
  });

  it('scrape counts seeds, leechers and completions (once per client)', async () => {
    const { port } = await startServer();
    const ih = randomBytes(20);
    const other = randomBytes(20);
    const seed = { ih, id: randomBytes(20), port: 5010, key: 'c0ffee00', left: 0 };
    await get('127.0.0.1', port, annPath(seed));
    await get('127.0.0.1', port, annPath({ ...seed, event: 'completed' }));
    await get('::1', port, annPath({ ...seed, event: 'completed' }));
    await get('::1', port, annPath({ ih, id: randomBytes(20), port: 5011 }));
    const r = (await get('::1', port, `/scrape?info_hash=${escapeBytes(ih)}&info_hash=${escapeBytes(other)}`)).body;
    const files = asDict(r.get('files'), 'files');
    const e = asDict(files.get(ih.toString('latin1')), 'entry');
    expect([e.get('complete'), e.get('incomplete'), e.get('downloaded')]).toEqual([1, 1, 1]);
    expect(asDict(files.get(other.toString('latin1')), 'entry').get('complete')).toBe(0);
    // stopped removes the peer
    await get('127.0.0.1', port, annPath({ ...seed, event: 'stopped' }));
    const r2 = asDict(asDict((await get('::1', port, `/scrape?info_hash=${escapeBytes(ih)}`)).body.get('files'), 'files').get(ih.toString('latin1')), 'e');
    expect([r2.get('complete'), r2.get('incomplete')]).toEqual([0, 1]);
  });

  it('seeds are not given other seeds', async () => {
    const { port } = await startServer();
    const ih = randomBytes(20);
    await get('127.0.0.1', port, annPath({ ih, id: randomBytes(20), port: 5020, left: 0 }));
    await get('127.0.0.1', port, annPath({ ih, id: randomBytes(20), port: 5021, left: 5 }));
    const r = (await get('127.0.0.1', port, annPath({ ih, id: randomBytes(20), port: 5022, left: 0 }))).body;
    expect(decodeCompactPeers(asBytes(r.get('peers'), 'peers'), 4).map((p) => p.port)).toEqual([5021]);
  });

  it('--honor-ip-params stores only global unicast ipv4=/ipv6=', async () => {
    const { port, seen } = await startServer({ honorIpParams: true });
    const ih = randomBytes(20);
    const tries = ['fe80::1', 'fd00::1', '::1', '::ffff:192.0.2.1', 'ff02::1', 'junk', '192.0.2.1', '2001:db8::1'];
    for (const [i, v6] of tries.entries()) await get('127.0.0.1', port, annPath({ ih, id: randomBytes(20), port: 5030 + i, extra: `&ipv6=${encodeURIComponent(v6)}` }));
    expect(seen.map((e) => e.extra)).toEqual([[], [], [], [], [], [], [], ['[2001:db8::1]:5037']]);
    await get('::1', port, annPath({ ih, id: randomBytes(20), port: 5040, extra: '&ipv4=192.0.2.9:7000' }));
    expect(seen.at(-1)!.extra).toEqual(['192.0.2.9:7000']);
    const r = (await get('::1', port, annPath({ ih, id: randomBytes(20), port: 5041 }))).body;
    expect(decodeCompactPeers(asBytes(r.get('peers6'), 'peers6'), 6)).toContainEqual({ host: '2001:db8::1', port: 5037, family: 6 });
    expect(decodeCompactPeers(asBytes(r.get('peers'), 'peers'), 4)).toContainEqual({ host: '192.0.2.9', port: 7000, family: 4 });
  });

  it('limits: a full torrent or a full table takes the newcomer and forgets the least recently announced peer', async () => {
    const { port } = await startServer({ limits: { maxPeersPerTorrent: 2, maxPeers: 3 } });
    const [t1, t2] = [randomBytes(20), randomBytes(20)];
    const ann = async (ih: Buffer, p: number) => (await get('127.0.0.1', port, annPath({ ih, id: randomBytes(20), port: p, key: `k${p}` }))).body;
    const ports = (d: BDict) => decodeCompactPeers(asBytes(d.get('peers'), 'peers'), 4).map((p) => p.port).sort();
    expect((await ann(t1, 1)).get('warning message')).toBeUndefined();
    await ann(t1, 2);
    const third = await ann(t1, 3); // t1 is full: its oldest peer (1) makes room
    expect(third.get('warning message')).toBeUndefined();
    expect(ports(third)).toEqual([2]);
    await ann(t2, 4); // three peers in all now
    expect(ports(await ann(t2, 5))).toEqual([4]); // the table is full: peer 2, the oldest, goes
    await ann(t1, 3); // 3 announces again: 4 is now the least recently announced
    expect(ports(await ann(t1, 6))).toEqual([3]);
    expect(ports(await ann(t2, 5))).toEqual([]); // 4 went
  });
});

describe('UDP (BEP 15)', () => {
  async function udpClient(family: 4 | 6, port: number) {
    const sock = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    const inbox: Buffer[] = [];
    sock.on('message', (m) => inbox.push(m));
    await new Promise<void>((r) => sock.connect(port, family === 4 ? '127.0.0.1' : '::1', r));
    cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
    const request = async (b: Buffer, expectReply = true): Promise<Buffer | undefined> => {
      const before = inbox.length;
      sock.send(b);
      const end = Date.now() + (expectReply ? 2000 : 300);
      while (inbox.length === before && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      return inbox[before];
    };
    return { request };
  }
  const fields = (ih: Buffer, port: number, left = 10) => ({ infoHash: ih, peerId: randomBytes(20), downloaded: 0, left, uploaded: 0, ip: 0, key: port, numwant: -1, port });

  it('18-byte entries to IPv6 clients, 6-byte entries to IPv4 clients', async () => {
    const { port } = await startServer();
    const ih = randomBytes(20);
    const c6 = await udpClient(6, port);
    const c4 = await udpClient(4, port);
    const conn6 = (await c6.request(connectRequest(1)))!.subarray(8, 16);
    const conn4 = (await c4.request(connectRequest(2)))!.subarray(8, 16);
    const f6 = fields(ih, 6001);
    const f4 = fields(ih, 6002);
    await c6.request(announceRequest(conn6, 3, f6));
    await c4.request(announceRequest(conn4, 4, f4));
    await get('::1', port, annPath({ ih, id: randomBytes(20), port: 6003 }));
    await get('127.0.0.1', port, annPath({ ih, id: randomBytes(20), port: 6004 }));
    const r6 = (await c6.request(announceRequest(conn6, 5, f6)))!;
    expect(r6.readUInt32BE(0)).toBe(1);
    expect(r6.readUInt32BE(4)).toBe(5);
    expect(r6.readUInt32BE(12)).toBe(4); // leechers
    expect((r6.length - 20) % 18).toBe(0);
    expect(decodeCompactPeers(r6.subarray(20), 6)).toEqual([{ host: '::1', port: 6003, family: 6 }]);
    const r4 = (await c4.request(announceRequest(conn4, 6, f4)))!;
    expect(decodeCompactPeers(r4.subarray(20), 4).map((p) => p.port).sort()).toEqual([6004]);
  });

  it('garbage is ignored, bad requests get an error action, the server keeps serving', async () => {
    const { port, seen } = await startServer();
    const c = await udpClient(4, port);
    expect(await c.request(Buffer.from('l-3:e'), false)).toBeUndefined();
    expect(await c.request(randomBytes(15), false)).toBeUndefined();
    const wrongMagic = connectRequest(7).fill(1, 0, 8);
    expect(await c.request(wrongMagic, false)).toBeUndefined();
    const errText = (b: Buffer | undefined) => (b && b.readUInt32BE(0) === 3 ? b.subarray(8).toString() : `not an error reply: ${b?.toString('hex')}`);
    expect(errText(await c.request(announceRequest(Buffer.alloc(8), 9, fields(randomBytes(20), 1))))).toBe('unknown or expired connection id');
    const conn = (await c.request(connectRequest(10)))!.subarray(8, 16);
    expect(errText(await c.request(announceRequest(conn, 11, fields(randomBytes(20), 1)).subarray(0, 60)))).toBe('announce request too short');
    const unknown = connectRequest(12);
    unknown.writeUInt32BE(9, 8);
    expect(errText(await c.request(unknown))).toBe('unknown action 9');
    expect(errText(await c.request(announceRequest(conn, 13, fields(randomBytes(20), 0))))).toBe('port 0');
    expect(seen.length).toBe(0);
    const ok = (await c.request(announceRequest(conn, 14, fields(randomBytes(20), 6010))))!;
    expect(ok.readUInt32BE(0)).toBe(1);
    expect(seen.length).toBe(1);
  });
});

describe('swarm store expiry', () => {
  it('forgets addresses after the TTL and empty torrents on sweep', () => {
    const store = new SwarmStore({ maxPeersPerTorrent: 10, maxPeersPerSource: 10, maxPeers: 10, maxPeersPerHost: 10, maxTorrents: 10, peerTtlMs: 1000 });
    const ih = randomBytes(20);
    const ann = (port: number, now: number, host = '192.0.2.1') =>
      store.announce({ infoHash: ih, peerId: randomBytes(20), identity: `id${port}`, source: { host, port, family: 4 }, extra: [], left: 5, numwant: 50 }, now);
    ann(1, 0);
    expect(ann(2, 900).peers4.map((p) => p.port)).toEqual([1]);
    expect(ann(3, 1500).peers4.map((p) => p.port)).toEqual([2]); // 1 expired
    expect(store.peerCount).toBe(3);
    store.sweep(1500);
    expect(store.peerCount).toBe(2);
    store.sweep(5000);
    expect(store.peerCount).toBe(0);
    expect(store.torrentCount).toBe(0);
  });

  it('completion counts outlive their torrent, in a table of at most maxTorrents', () => {
    const store = new SwarmStore({ maxPeersPerTorrent: 10, maxPeersPerSource: 10, maxPeers: 10, maxPeersPerHost: 10, maxTorrents: 1, peerTtlMs: 1000 });
    const [done, next] = [randomBytes(20), randomBytes(20)];
    const ann = (ih: Buffer, now: number, event?: 'completed') =>
      store.announce({ infoHash: ih, peerId: randomBytes(20), identity: 'one', source: { host: '192.0.2.1', port: 1, family: 4 }, extra: [], left: 0, numwant: 50, ...(event ? { event } : {}) }, now);
    expect(ann(done, 0, 'completed').stored).toBe(true);
    store.sweep(5000); // the seed's address expired
    expect(store.torrentCount).toBe(0);
    expect(store.scrape(done, 5000)).toEqual({ complete: 0, incomplete: 0, downloaded: 1 });
    ann(next, 5001, 'completed');
    expect(store.scrape(next, 5001).downloaded).toBe(1);
    expect(store.scrape(done, 5001).downloaded).toBe(0); // pushed out: one table entry at most
  });

  it('a full table takes the newcomer, and a torrent its eviction empties is gone', () => {
    const store = new SwarmStore({ maxPeersPerTorrent: 10, maxPeersPerSource: 10, maxPeers: 1, maxPeersPerHost: 10, maxTorrents: 10, peerTtlMs: 1000 });
    const ann = (ih: Buffer, port: number) =>
      store.announce({ infoHash: ih, peerId: randomBytes(20), identity: `id${port}`, source: { host: '192.0.2.1', port, family: 4 }, extra: [], left: 5, numwant: 50 }, 0);
    const first = randomBytes(20);
    expect(ann(first, 1).stored).toBe(true);
    expect(ann(randomBytes(20), 2).stored).toBe(true);
    expect(store.torrentCount).toBe(1);
    expect(store.scrape(first, 0)).toMatchObject({ complete: 0, incomplete: 0 });
  });
});

describe('peers per source host', () => {
  it('one IPv4 address or one IPv6 /64 holds at most maxPeersPerSource peers of a torrent', () => {
    const store = new SwarmStore({ maxPeersPerTorrent: 100, maxPeersPerSource: 3, maxPeers: 100, maxPeersPerHost: 100, maxTorrents: 10, peerTtlMs: 1000 });
    const ih = randomBytes(20);
    const ann = (identity: string, host: string, now = 0) =>
      store.announce({ infoHash: ih, peerId: randomBytes(20), identity, source: { host, port: 7000, family: host.includes(':') ? 6 : 4 }, extra: [], left: 5, numwant: 50 }, now);
    for (const id of ['a', 'b', 'c']) expect(ann(id, '192.0.2.1').stored).toBe(true);
    expect(ann('d', '192.0.2.1')).toMatchObject({ stored: false, reason: 'too many peers from this address' });
    expect(ann('a', '192.0.2.1').stored).toBe(true); // one already listed re-announces as usual
    expect(ann('d', '192.0.2.2').stored).toBe(true); // another host
    // IPv6: the /64 is the host.
    for (const [id, host] of [['e', '2001:db8:0:1::1'], ['f', '2001:db8:0:1::2'], ['g', '2001:db8:0:1:ffff::9']]) expect(ann(id!, host!).stored).toBe(true);
    expect(ann('h', '2001:db8:0:1::77')).toMatchObject({ stored: false, reason: 'too many peers from this address' });
    expect(ann('h', '2001:db8:0:2::77').stored).toBe(true);
    // An identity listed elsewhere cannot add an address in a full group either.
    expect(ann('d', '2001:db8:0:1::99')).toMatchObject({ stored: false, reason: 'too many peers from this address' });
    // Expired peers no longer count.
    expect(ann('i', '192.0.2.1', 2000).stored).toBe(true);
  });

  it('over HTTP: the 17th peer from one address gets a warning and is not listed; other addresses still are', async () => {
    const { port, seen } = await startServer();
    const ih = randomBytes(20);
    const ann = async (host: string, p: number) => (await get(host, port, annPath({ ih, id: randomBytes(20), port: p, key: `k${p}` }))).body;
    for (let i = 0; i < 16; i++) expect((await ann('127.0.0.1', 8000 + i)).get('warning message')).toBeUndefined();
    const refused = await ann('127.0.0.1', 8016);
    expect(refused.get('warning message')?.toString()).toBe('too many peers from your address for this torrent: you are not listed');
    expect(seen.at(-1)).toMatchObject({ stored: false, notStored: 'too many peers from this address' });
    expect((await ann('::1', 8017)).get('warning message')).toBeUndefined();
    expect(asInt(refused.get('incomplete'), 'incomplete')).toBe(16);
  });
});
