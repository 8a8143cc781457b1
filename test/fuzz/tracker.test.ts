/**
 * Fuzz tests of tracker replies (HTTP and UDP) and of the built-in tracker's requests (see
 * replay.ts); then the request corpus again, and hostile request heads and datagrams, sent to a
 * real TrackerServer over loopback: every one is answered (or, for datagrams without a
 * transaction id, ignored), none is an internal error, and the tracker still serves after them.
 */
import dgram from 'node:dgram';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BDict, decode } from '../../src/bencode/index.js';
import { TrackerServer, type BadRequestEvent } from '../../src/tracker/server/tracker-server.js';
import { announceRequest, connectRequest } from '../../src/tracker/udp-protocol.js';
import { corpusOf, fuzzSuite } from './replay.js';
import { trackerHttpTarget, trackerRequestTarget, trackerUdpTarget } from './targets/tracker.js';

fuzzSuite(trackerHttpTarget, { mutations: 3000 });
fuzzSuite(trackerUdpTarget, { mutations: 4000 });
fuzzSuite(trackerRequestTarget, { mutations: 1500 });

/** Sends raw bytes on a fresh connection; resolves to everything the server sent before it closed. */
function exchange(port: number, bytes: Buffer, ms = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(bytes));
    const parts: Buffer[] = [];
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no reply within ${ms} ms to ${JSON.stringify(bytes.subarray(0, 80).toString('latin1'))}`));
    }, ms);
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(parts));
    });
  });
}

/** Status and bencoded body of one HTTP reply. */
function reply(raw: Buffer): { status: number; body: BDict } {
  const end = raw.indexOf('\r\n\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(raw.toString('latin1', 0, Math.max(0, end)));
  if (!m || end < 0) throw new Error(`not an HTTP reply: ${JSON.stringify(raw.subarray(0, 120).toString('latin1'))}`);
  return { status: Number(m[1]), body: decode(raw.subarray(end + 4)) as BDict };
}

describe('fuzz: the built-in tracker over loopback', () => {
  let server: TrackerServer;
  const bad: BadRequestEvent[] = [];
  beforeAll(async () => {
    server = new TrackerServer({ bind: ['127.0.0.1'] });
    server.on('bad-request', (e) => bad.push(e));
    await server.listen();
  });
  afterAll(() => server.close());

  it('answers every request target of the corpus over HTTP, and hostile heads with 400 or 431', async () => {
    const heads = [
      ...corpusOf(trackerRequestTarget).map((e) => Buffer.concat([Buffer.from('GET '), e.bytes, Buffer.from(' HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')])),
      Buffer.from('\r\n\r\n'),
      Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), // a TLS ClientHello's first bytes
      Buffer.from(`GET /announce?${'a'.repeat(9000)} HTTP/1.1\r\n\r\n`),
      Buffer.from('GET /announce HTTP/1.1\r\nno colon here\r\n\r\n'),
      Buffer.from('GET /announce HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello'),
      Buffer.from('POST /announce HTTP/1.1\r\nConnection: close\r\n\r\n'),
      Buffer.from('GET /scrape HTTP/1.0\r\n\r\nGET /scrape HTTP/1.0\r\n\r\n'),
      Buffer.from('get /announce HTTP/1.1\r\n\r\n'),
      Buffer.from('GET /announce HTTP/2.0\r\n\r\n'),
    ];
    for (const head of heads) {
      const r = reply(await exchange(server.port, head));
      expect([200, 400, 404, 431], `status for ${JSON.stringify(head.subarray(0, 60).toString('latin1'))}`).toContain(r.status);
      expect(r.body).toBeInstanceOf(BDict);
    }
    expect(bad.filter((e) => /internal error/.test(e.reason))).toEqual([]);
  });

  it('answers or ignores every datagram of the UDP corpus, and still serves a client after them', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    for (const e of corpusOf(trackerUdpTarget)) sock.send(e.bytes, server.port, '127.0.0.1');
    // A client after the flood: connect, then announce with the connection id it got.
    const ask = (packet: Buffer) => new Promise<Buffer>((resolve) => {
      const tx = packet.readUInt32BE(12);
      const look = () => {
        const m = replies.find((x) => x.length >= 8 && x.readUInt32BE(4) === tx);
        if (m) resolve(m);
        else setTimeout(look, 10);
      };
      sock.send(packet, server.port, '127.0.0.1');
      look();
    });
    const conn = await ask(connectRequest(0x7777));
    const ann = await ask(announceRequest(conn.subarray(8, 16), 0x8888, { infoHash: Buffer.alloc(20, 9), peerId: Buffer.alloc(20, 8), downloaded: 0, left: 1, uploaded: 0, ip: 0, key: 1, numwant: 10, port: 6881 }));
    sock.close();
    expect(ann.readUInt32BE(0), 'an announce reply').toBe(1);
    expect(bad.filter((e) => /internal error/.test(e.reason))).toEqual([]);
  });
});
