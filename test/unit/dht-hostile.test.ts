/**
 * Hostile datagrams against a sixswarm DHT node, over real UDP on loopback: malformed bencode
 * (`l-3:e` and friends), the largest datagram UDP carries, queries and responses with fields of
 * the wrong type (a response whose `r.id` is an integer kills bittorrent-dht), and floods. The
 * node stays up, keeps answering honest nodes, and its memory and tables stay bounded.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { BDict, asBytes, asDict, asList, decode, encode, type Encodable } from '../../src/bencode/index.js';
import { Dht } from '../../src/dht/dht.js';
import { waitUntil } from '../support/peers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const sockets: Socket[] = [];
const nodes: Dht[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function udp(host: string, onMessage?: (buf: Buffer, from: RemoteInfo, s: Socket) => void): Promise<Socket> {
  const s = createSocket('udp4');
  sockets.push(s);
  if (onMessage) s.on('message', (buf, from) => onMessage(buf, from, s));
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  return s;
}

async function node(host: string, bootstrap: { host: string; port: number }[] = []): Promise<Dht> {
  const d = new Dht({ port: 0, host, bootstrap, queryTimeoutMs: 500 });
  nodes.push(d);
  await d.start();
  return d;
}

const send = (s: Socket, to: { host: string; port: number }, buf: Buffer) =>
  new Promise<Error | null>((r) => s.send(buf, to.port, to.host, (e) => r(e ?? null)));

const ping = (t: string) => encode({ t, y: 'q', q: 'ping', a: { id: randomBytes(20) } });

/** Pings `target` from a fresh socket on `host`; true when it answers within 500 ms. */
async function answers(host: string, target: { host: string; port: number }): Promise<boolean> {
  const s = await udp(host);
  const got = new Promise<boolean>((r) => {
    s.once('message', (buf) => r(asDict(decode(buf), 'reply').get('y')?.toString() === 'r'));
    setTimeout(() => r(false), 500);
  });
  await send(s, target, ping('pp'));
  return got;
}

describe('a DHT node under hostile datagrams', () => {
  it('drops malformed bencode and oversized datagrams, answers queries with wrong types with error 203, and stays up', async () => {
    const target = await node('127.70.0.1');
    const to = target.address();
    const errors: Buffer[] = [];
    const attacker = await udp('127.71.0.1', (buf) => errors.push(buf));
    const malformed = ['l-3:e', 'd1:t-3:abe', 'i-0e', 'l'.repeat(1000), 'd1:ti1e', 'd1:y1:q1:t2:aa1:q4:ping', '4294967296:x', 'de', ''];
    for (const m of malformed) await send(attacker, to, Buffer.from(m, 'latin1'));
    // The largest datagram UDP over IPv4 carries; 1 MB cannot even be sent as one.
    expect(await send(attacker, to, Buffer.alloc(65_507, 0x6c))).toBeNull();
    expect((await send(attacker, to, Buffer.alloc(1 << 20, 0x6c)))?.message).toMatch(/EMSGSIZE/);
    const id = randomBytes(20);
    const wrongTypes: Record<string, Encodable>[] = [
      { t: 'a1', y: 'q', q: 'ping', a: [1, 2] },
      { t: 'a2', y: 'q', q: 'ping', a: { id: 5 } },
      { t: 'a3', y: 'q', q: 'ping', a: { id: randomBytes(19) } },
      { t: 'a4', y: 'q', q: 'find_node', a: { id, target: { x: 1 } } },
      { t: 'a5', y: 'q', q: 'get_peers', a: { id, info_hash: ['x'] } },
      { t: 'a6', y: 'q', q: 'announce_peer', a: { id, info_hash: randomBytes(20), port: -1, token: 'x' } },
      { t: 'a7', y: 'q', q: 'announce_peer', a: { id, info_hash: randomBytes(20), port: 70_000, token: 'x' } },
      { t: 'a8', y: 'q', q: 'announce_peer', a: { id, info_hash: randomBytes(20), port: 'x', token: 'x' } },
      { t: 'a9', y: 'q', q: 'announce_peer', a: { id, info_hash: randomBytes(20), port: 1, token: randomBytes(1000) } },
      { t: 'b1', y: 'q', q: 7, a: { id } },
      { t: 'b2', y: 'z' },
      { t: randomBytes(100), y: 'q', q: 'ping', a: { id } },
      { t: 'b4', y: 'r', r: { id: 5 } },
      { t: 'b5', y: 'q', q: 'ping', a: { id: Buffer.alloc(20) }, extra: 'l'.repeat(1500) },
    ];
    for (const m of wrongTypes) await send(attacker, to, encode(m));
    await waitUntil(() => errors.length >= 11, 5000, () => `error replies: ${errors.length}`);
    for (const e of errors) {
      const d = asDict(decode(e), 'reply');
      expect(d.get('y')?.toString()).toBe('e');
      expect(asList(d.get('e'), 'e')[0]).toBe(203);
    }
    const s = target.stats();
    expect(s.dropped.malformed).toBe(malformed.length + wrongTypes.length - 1); // all but b5 (valid, only past 1500 bytes: oversize)
    expect(s.dropped.oversize).toBe(2);
    expect(s.nodes).toBe(0); // none of them entered the routing table
    expect(await answers('127.72.0.1', to)).toBe(true);
  });

  it('survives responses of the wrong type from a node it queries, and does not learn from them', async () => {
    const bad: Record<string, Encodable>[] = [
      { y: 'r', r: { id: 5 } }, // kills bittorrent-dht (k-rpc-socket calls Buffer.equals on it)
      { y: 'r', r: { id: randomBytes(20), nodes: 7 } },
      // One well-formed loopback entry and a stray byte: a length that is not a multiple of 26.
      { y: 'r', r: { id: randomBytes(20), nodes: Buffer.concat([randomBytes(20), Buffer.from([127, 99, 0, 1, 0x1a, 0xe1, 0])]) } },
      { y: 'r', r: { id: randomBytes(20), values: { a: 1 } } },
      { y: 'r', r: { id: randomBytes(20), values: [1, 2, 3] } },
      { y: 'r', r: { id: randomBytes(20), token: randomBytes(1000) } },
      { y: 'r', r: [1, 2] },
      { y: 'e', e: 'x' },
      { y: 'e', e: [[1], { a: 2 }] },
      { y: 7 },
    ];
    let answered = 0;
    let malformed = 0; // replies that are not well-formed errors
    const liar = await udp('127.75.0.1', (buf, from, s) => {
      const t = asBytes(asDict(decode(buf), 'query').get('t'), 't');
      const m = bad[answered++ % bad.length]!;
      if (m.y !== 'e') malformed++;
      s.send(encode({ t, ...m }), from.port, from.address);
    });
    const target = await node('127.76.0.1', [{ host: '127.75.0.1', port: liar.address().port }]);
    for (let i = 0; i < bad.length; i++) {
      const r = await target.lookup(randomBytes(20), () => expect.fail('no peer can come out of these replies'));
      expect(r.answers, `lookup ${i}: a reply of the wrong type counts as no answer`).toBe(0);
    }
    expect(answered).toBeGreaterThanOrEqual(bad.length);
    expect(target.stats().dropped.malformed).toBe(malformed);
    expect(target.stats().nodes).toBe(0);
    expect(await answers('127.77.0.1', target.address())).toBe(true);
  });

  it('a flood from one address does not lock others out, and memory and tables stay bounded', async () => {
    const target = await node('127.80.0.1');
    const to = target.address();
    const flooder = await udp('127.81.0.1');
    let token: Buffer | undefined;
    let flooderAnswers = 0;
    flooder.on('message', (buf) => {
      flooderAnswers++;
      const r = asDict(decode(buf), 'reply').get('r');
      if (r instanceof BDict && r.has('token')) token = asBytes(r.get('token'), 'token');
    });
    // A valid token first, so the announces below are ones the node would store.
    await send(flooder, to, encode({ t: 'gp', y: 'q', q: 'get_peers', a: { id: randomBytes(20), info_hash: randomBytes(20) } }));
    await waitUntil(() => token !== undefined, 2000, () => 'a token');
    gc();
    const heapBefore = process.memoryUsage().heapUsed;

    const honest = await udp('127.82.0.1');
    let honestAnswers = 0;
    honest.on('message', () => honestAnswers++);
    const FLOOD = 30_000;
    const flood = (async () => {
      for (let i = 0; i < FLOOD; i += 100) {
        for (let j = 0; j < 100; j++) {
          const a = { id: randomBytes(20), info_hash: randomBytes(20), port: 1 + ((i + j) % 65535), token: token! };
          flooder.send(j % 2 ? encode({ t: 'fl', y: 'q', q: 'announce_peer', a }) : ping('fp'), to.port, to.host);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const HONEST = 40;
    for (let i = 0; i < HONEST; i++) {
      await send(honest, to, ping(`h${i}`));
      await new Promise((r) => setTimeout(r, 25));
    }
    await flood;
    // The honest host is answered (a few of its datagrams may be lost in the kernel's receive
    // buffer during the flood's bursts); the flooder gets almost nothing out of the node.
    await waitUntil(() => honestAnswers >= HONEST * 0.9, 2000, () => `honest pings answered: ${honestAnswers} of ${HONEST}`);
    expect(flooderAnswers).toBeLessThan(FLOOD * 0.02);

    await waitUntil(() => target.stats().received >= FLOOD * 0.9, 5000, () => `datagrams received: ${target.stats().received}`);
    const s = target.stats();
    // At 50 datagrams/s from one host (burst 100), almost the whole flood is dropped unread.
    expect(s.dropped.rateLimited).toBeGreaterThan(s.received * 0.9);
    expect(s.storedPeers).toBeLessThanOrEqual(16); // one announcing host holds at most 16 entries
    expect(s.trackedSources).toBeLessThanOrEqual(3);
    gc();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    expect(grown, `heap grew by ${grown} bytes`).toBeLessThan(8 << 20);
  });
});
