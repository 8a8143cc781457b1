/**
 * The DHT's parts in memory: the KRPC codec refuses what it must (1 MB, wrong types) and
 * round-trips what it sends; the routing table, the peer store and the source limiter stay
 * within their bounds whatever is fed to them; tokens live for one to two rotation periods.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/bencode/index.js';
import { bep42Id, bep42Valid } from '../../src/dht/bep42.js';
import { KrpcError, encodeQuery, encodeResponse, parseMessage } from '../../src/dht/krpc.js';
import { ID_BITS, randomIdInBucket, sharedPrefixBits } from '../../src/dht/node-id.js';
import { PeerStore } from '../../src/dht/peer-store.js';
import { RoutingTable } from '../../src/dht/routing-table.js';
import { SourceLimiter } from '../../src/net/source-limiter.js';
import { Tokens } from '../../src/dht/tokens.js';

/** A global address in a /24 of its own for each n. */
const ip = (n: number) => `${1 + ((n >> 16) & 127)}.${(n >> 8) & 255}.${n & 255}.1`;

describe('KRPC codec', () => {
  it('refuses 1 MB and l-3:e with a KrpcError, never anything else', () => {
    expect(() => parseMessage(Buffer.alloc(1 << 20, 0x6c))).toThrow(KrpcError);
    expect(() => parseMessage(Buffer.from('l-3:e'))).toThrow(KrpcError);
    expect(() => parseMessage(encode({ t: 'aa', y: 'r', r: { id: 5 } }))).toThrow(/r.id/);
  });

  it('round-trips a query and a response with nodes, values and a token', () => {
    const id = randomBytes(20);
    const q = parseMessage(encodeQuery(Buffer.from('xy'), id, { q: 'announce_peer', infoHash: id, port: 6881, impliedPort: false, token: Buffer.from('tok') }));
    expect(q).toMatchObject({ y: 'q', id, query: { q: 'announce_peer', port: 6881, impliedPort: false } });
    const nodes = [{ id: randomBytes(20), host: '203.0.113.5', port: 1234 }];
    const values = [{ host: '198.51.100.7', port: 51413, family: 4 as const }];
    const r = parseMessage(encodeResponse(Buffer.from('xy'), { id, nodes, values, token: Buffer.from('t') }));
    expect(r).toEqual({ y: 'r', t: Buffer.from('xy'), id, nodes, values, token: Buffer.from('t') });
  });
});

describe('routing table', () => {
  it('holds at most K nodes per bucket and K spares, for any number of nodes heard', () => {
    const own = randomBytes(20);
    const table = new RoutingTable(own, 8);
    // Ids spread over every bucket, 200 per bucket, half of them verified.
    for (let b = 0; b < ID_BITS; b++) for (let i = 0; i < 200; i++) table.heard({ id: randomIdInBucket(own, b), host: ip(b * 200 + i), port: 6881 }, i % 2 === 0);
    // Bucket b holds ids sharing exactly b bits with ours: the last three have only 4, 2 and 1.
    const possible = (b: number) => 2 ** Math.min(30, ID_BITS - 1 - b);
    let nodes = 0, spares = 0;
    for (let b = 0; b < ID_BITS; b++) {
      nodes += Math.min(8, possible(b));
      spares += Math.min(8, Math.max(0, possible(b) - 8));
    }
    const c = table.counts();
    expect(c.nodes).toBe(nodes);
    expect(nodes).toBe(157 * 8 + 4 + 2 + 1);
    expect(c.replacements).toBeLessThanOrEqual(spares);
    expect(c.replacements).toBeGreaterThanOrEqual(150 * 8);
    // Verified nodes pushed the unverified out wherever there were more ids than slots.
    expect(c.verified).toBeGreaterThanOrEqual(150 * 8);
  });

  it('never lets a node take over an address or an id, and replaces a failing node by a spare', () => {
    const own = Buffer.alloc(20);
    const table = new RoutingTable(own, 2);
    const ids = [1, 2, 3].map((n) => randomIdInBucket(own, 0).fill(n, 19));
    expect(table.heard({ id: ids[0]!, host: '1.1.1.1', port: 1 }, true)).toBe('added');
    expect(table.heard({ id: ids[1]!, host: '1.1.1.1', port: 1 }, true)).toBe('refused'); // same address, other id
    expect(table.heard({ id: ids[0]!, host: '2.2.2.2', port: 1 }, true)).toBe('refused'); // same id, other address
    expect(table.heard({ id: ids[1]!, host: '2.2.2.2', port: 1 }, true)).toBe('added');
    expect(table.heard({ id: ids[2]!, host: '3.3.3.3', port: 1 }, true)).toBe('replacement');
    table.failed('1.1.1.1', 1);
    expect(table.has('1.1.1.1', 1)).toBe(true); // one timeout is not enough
    table.failed('1.1.1.1', 1);
    expect(table.has('1.1.1.1', 1)).toBe(false);
    expect(table.has('3.3.3.3', 1)).toBe(true);
    expect(table.heard({ id: own, host: '4.4.4.4', port: 1 }, true)).toBe('refused');
  });

  it('keeps one node per IP and per /24 in a bucket, serves only verified nodes, drops one that never answered at its first timeout, and prefers BEP 42 ids', () => {
    const own = Buffer.alloc(20);
    const table = new RoutingTable(own, 4);
    const id = (n: number) => randomIdInBucket(own, 0).fill(n, 16);
    // 200 ports of one IP: one node.
    for (let p = 1; p <= 200; p++) table.heard({ id: id(p), host: '203.0.113.9', port: p }, true);
    expect(table.size).toBe(1);
    expect(table.counts().replacements).toBe(0);
    // Another address in the same /24: a spare, not a second node in the bucket.
    expect(table.heard({ id: id(201), host: '203.0.113.10', port: 1 }, true)).toBe('replacement');
    expect(table.heard({ id: id(202), host: '203.0.113.11', port: 1 }, true)).toBe('replacement');
    expect(table.counts().replacements).toBe(1); // one spare per /24 too
    // Nodes that only queried us: in the table, but never handed out.
    expect(table.heard({ id: id(203), host: '198.51.100.1', port: 1 }, false)).toBe('added');
    expect(table.closest(own, 8, true).map((n) => n.host)).toEqual(['203.0.113.9']);
    expect(table.closest(own, 8).map((n) => n.host)).toEqual(['203.0.113.9', '198.51.100.1']);
    table.failed('198.51.100.1', 1);
    expect(table.has('198.51.100.1', 1)).toBe(false);
    // Another port of a known IP: refused while its node answers; taken when it stopped and the new one answers.
    expect(table.heard({ id: id(204), host: '203.0.113.9', port: 999 }, true)).toBe('refused');
    table.failed('203.0.113.9', 1);
    expect(table.heard({ id: id(204), host: '203.0.113.9', port: 999 }, true)).toBe('added');
    expect(table.has('203.0.113.9', 999)).toBe(true);
    // A full bucket of verified nodes without BEP 42 ids: a verified BEP 42 newcomer takes a slot, a plain one waits.
    const good = bep42Id('4.4.4.4');
    const other = Buffer.alloc(20, good[0]! & 0x80 ? 0x00 : 0xff); // an own id that puts `good` in bucket 0
    const full = new RoutingTable(other, 2);
    const plain = (n: number) => randomIdInBucket(other, 0).fill(n, 16);
    full.heard({ id: plain(1), host: '1.1.1.1', port: 1 }, true);
    full.heard({ id: plain(2), host: '2.2.2.2', port: 1 }, true);
    expect(full.heard({ id: plain(3), host: '3.3.3.3', port: 1 }, true)).toBe('replacement');
    expect(full.heard({ id: good, host: '4.4.4.4', port: 1 }, true)).toBe('added');
    expect(full.counts()).toMatchObject({ nodes: 2, bep42: 1 });
  });

  it('randomIdInBucket shares exactly that many leading bits', () => {
    const own = randomBytes(20);
    for (let b = 0; b < ID_BITS; b++) expect(sharedPrefixBits(own, randomIdInBucket(own, b))).toBe(b);
  });
});

describe('peer store', () => {
  it('bounds entries per announcing host, per info hash and overall, and expires them', () => {
    let now = 0;
    const store = new PeerStore({ perInfoHash: 10, total: 50, perSource: 3, ttlMs: 1000 }, () => now);
    for (let i = 0; i < 100; i++) store.add(randomBytes(20), '9.9.9.9', 1000 + i);
    expect(store.size).toBe(3);
    const hash = randomBytes(20);
    for (let i = 0; i < 30; i++) store.add(hash, ip(i), 6881);
    expect(store.get(hash, 100)).toHaveLength(10);
    for (let i = 0; i < 200; i++) store.add(randomBytes(20), ip(1000 + i), 6881);
    expect(store.size).toBe(50);
    // A new port from the same host replaces its entry.
    store.add(hash, '8.8.8.8', 1);
    store.add(hash, '8.8.8.8', 2);
    expect(store.get(hash, 100).filter((p) => p.host === '8.8.8.8')).toEqual([{ host: '8.8.8.8', port: 2, family: 4 }]);
    now = 1001;
    expect(store.get(hash, 100)).toEqual([]);
    expect(store.size).toBe(0);
  });
});

describe('tokens and source limits', () => {
  it('a token is valid for its IP during its period and the next, not after', () => {
    let now = 0;
    const tokens = new Tokens(1000, () => now);
    const t = tokens.issue('1.2.3.4');
    expect(tokens.valid('1.2.3.4', t)).toBe(true);
    expect(tokens.valid('1.2.3.5', t)).toBe(false);
    now = 1500;
    expect(tokens.valid('1.2.3.4', t)).toBe(true);
    now = 2500;
    expect(tokens.valid('1.2.3.4', t)).toBe(false);
  });

  it('the source limiter tracks a bounded number of hosts and limits each on its own', () => {
    const limiter = new SourceLimiter(1, 5, 100);
    let allowed = 0;
    for (let i = 0; i < 1000; i++) if (limiter.allow('6.6.6.6')) allowed++;
    expect(allowed).toBe(5);
    expect(limiter.allow('7.7.7.7')).toBe(true);
    for (let i = 0; i < 1000; i++) limiter.allow(ip(i));
    expect(limiter.sources).toBe(100);
  });
});

describe('BEP 42 node ids', () => {
  it('match the BEP\'s test vectors, and only their own IP', () => {
    // IP, the id's last byte, the id's first three bytes (the last 3 bits of the third are random).
    const vectors: [string, number, string][] = [
      ['124.31.75.21', 1, '5fbfbf'],
      ['21.75.31.124', 86, '5a3ce9'],
      ['65.23.51.170', 22, 'a5d432'],
      ['84.124.73.14', 65, '1b0321'],
      ['43.213.53.83', 90, 'e56f6c'],
    ];
    for (const [ip, r, prefix] of vectors) {
      const id = bep42Id(ip, r);
      expect(id.subarray(0, 2).toString('hex'), ip).toBe(prefix.slice(0, 4));
      expect(id[2]! & 0xf8, ip).toBe(parseInt(prefix.slice(4), 16) & 0xf8);
      expect(id[19]).toBe(r);
      expect(bep42Valid(id, ip)).toBe(true);
      expect(bep42Valid(id, '84.124.73.15')).toBe(false);
      const other = Buffer.from(id);
      other[19] = (r + 1) & 0xff; // another random number: another prefix
      expect(bep42Valid(other, ip)).toBe(false);
    }
    // Local addresses are exempt: any id will do there.
    for (const ip of ['127.3.0.1', '10.1.2.3', '192.168.0.7']) expect(bep42Valid(randomBytes(20), ip)).toBe(true);
  });
});
