/**
 * Hostile trackers: a raw HTTP server and a raw UDP server scripted per request. Every bad reply
 * must become an announce event with a clear error (or warning), nothing may throw, and the
 * session must keep announcing and accept the next good reply.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../../src/bencode/index.js';
import { encodeCompactPeers } from '../../src/net/compact.js';
import type { PeerAddress } from '../../src/net/compact.js';
import { Announcer, type AnnouncerOptions } from '../../src/tracker/announcer.js';
import type { AnnounceEvent } from '../../src/tracker/types.js';
import { samePort } from '../support/ports.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const FLOOR = 250;
const PEER6: PeerAddress = { host: '2001:db8::77', port: 7777, family: 6 };
const PEER4: PeerAddress = { host: '192.0.2.77', port: 7777, family: 4 };

function goodBody(extra: Record<string, unknown> = {}): Buffer {
  return encode({ interval: 60, peers: encodeCompactPeers([PEER4], 4), peers6: encodeCompactPeers([PEER6], 6), ...(extra as object) });
}

function httpResponse(body: Buffer | string, headers = ''): string | Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\n${headers}Connection: close\r\n\r\n`), b]);
}

type HttpScript = (sock: net.Socket, requestLine: string) => void;

/** Serves the n-th request with script[n] (the last one repeats); records requests and times. With `tlsCert`: HTTPS. */
async function rawHttpTracker(family: 4 | 6, script: HttpScript[], tlsCert?: { key: Buffer; cert: Buffer }) {
  const requests: { line: string; head: string; at: number }[] = [];
  const sockets = new Set<net.Socket>();
  const onConnection = (sock: net.Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let head = '';
    sock.on('data', (d) => {
      if (head.includes('\r\n\r\n')) return;
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const line = head.slice(0, head.indexOf('\r\n'));
      requests.push({ line, head, at: Date.now() });
      script[Math.min(requests.length - 1, script.length - 1)]!(sock, line);
    });
  };
  const server = tlsCert ? tls.createServer(tlsCert, onConnection) : net.createServer(onConnection);
  server.on('tlsClientError', () => undefined);
  const host = family === 4 ? '127.0.0.1' : '::1';
  await new Promise<void>((r) => server.listen(0, host, r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const port = (server.address() as net.AddressInfo).port;
  return { url: `${tlsCert ? 'https' : 'http'}://${family === 4 ? host : `[${host}]`}:${port}/announce`, port, requests };
}

/** A self-signed certificate for "localhost" (openssl), removed after the test. */
function localhostCert(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'sixswarm-tls-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'),
    '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
  return { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) };
}

type UdpScript = (msg: Buffer, reply: (b: Buffer) => void) => void;

/** Raw BEP 15 tracker: each datagram goes to script[n] (the last one repeats). */
async function rawUdpTracker(family: 4 | 6, script: UdpScript[]) {
  const packets: { action: number; tx: number; at: number }[] = [];
  const sock = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
  sock.on('message', (msg, rinfo) => {
    packets.push({ action: msg.readUInt32BE(8), tx: msg.readUInt32BE(12), at: Date.now() });
    script[Math.min(packets.length - 1, script.length - 1)]!(msg, (b) => sock.send(b, rinfo.port, rinfo.address));
  });
  const host = family === 4 ? '127.0.0.1' : '::1';
  await new Promise<void>((r) => sock.bind(0, host, r));
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  return { url: `udp://${family === 4 ? host : `[${host}]`}:${sock.address().port}`, packets };
}

// BEP 15 reply builders.
const CONN_ID = Buffer.from('0011223344556677', 'hex');
const txOf = (msg: Buffer) => msg.readUInt32BE(12);
function connectOk(msg: Buffer, tx = txOf(msg)): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0, 0);
  b.writeUInt32BE(tx, 4);
  CONN_ID.copy(b, 8);
  return b;
}
function announceOk(msg: Buffer, peers: Buffer, interval = 60): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32BE(1, 0);
  b.writeUInt32BE(txOf(msg), 4);
  b.writeUInt32BE(interval, 8);
  return Buffer.concat([b, peers]);
}
function errorAction(msg: Buffer, text: string): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(3, 0);
  b.writeUInt32BE(txOf(msg), 4);
  return Buffer.concat([b, Buffer.from(text)]);
}
/** connect -> ok; announce -> `onAnnounce`. */
const bep15 = (onAnnounce: UdpScript): UdpScript => (msg, reply) => (msg.readUInt32BE(8) === 0 ? reply(connectOk(msg)) : onAnnounce(msg, reply));

function newSession(url: string, family: 4 | 6, extra: Partial<AnnouncerOptions> = {}) {
  const events: AnnounceEvent[] = [];
  const peers: PeerAddress[][] = [];
  const session = new Announcer({
    infoHash: randomBytes(20),
    peerId: randomBytes(20),
    ports: samePort(6881),
    tiers: [[url]],
    families: { 4: family === 4, 6: family === 6 },
    getStats: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
    ownAddresses: () => ({}),
    minIntervalFloorMs: FLOOR,
    udpRetransmitBaseMs: 100,
    timeoutMs: 700,
    ...extra,
  });
  session.on('announce', (e) => events.push(e));
  session.on('peers', (p) => peers.push(p));
  cleanups.push(() => session.stop());
  session.start();
  return { session, events, peers };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** First event is the bad one (error matching `re`), then the session retries and takes a good reply. */
async function expectErrorThenRecovery(s: ReturnType<typeof newSession>, re: RegExp) {
  await until(() => s.events.length >= 2, 'an error event and a retry');
  expect(s.events[0]!.error).toMatch(re);
  expect(s.events[0]!.nextAnnounceInMs).toBe(FLOOR);
  expect(s.events[1]!.error).toBeUndefined();
  expect(s.peers[0]).toEqual([PEER4, PEER6]);
}

const ok: HttpScript = (sock) => sock.end(httpResponse(goodBody()));

describe('hostile HTTP tracker', () => {
  it('truncated reply (connection closed before Content-Length)', async () => {
    const t = await rawHttpTracker(4, [(sock) => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nd8:intervali6'), ok]);
    await expectErrorThenRecovery(newSession(t.url, 4), /cut short/);
  });

  it('truncated bencode without Content-Length', async () => {
    const t = await rawHttpTracker(6, [(sock) => sock.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nd8:intervali60e5:peers12:abc'), ok]);
    await expectErrorThenRecovery(newSession(t.url, 6), /not valid bencode.*runs past the end/);
  });

  it('l-3:e (kills bencode 4.0.1) is refused cleanly', async () => {
    const t = await rawHttpTracker(4, [(sock) => sock.end(httpResponse('l-3:e')), ok]);
    await expectErrorThenRecovery(newSession(t.url, 4), /not valid bencode/);
  });

  it('declared oversized reply is refused before reading it', async () => {
    const t = await rawHttpTracker(4, [(sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\nd'), ok]);
    await expectErrorThenRecovery(newSession(t.url, 4), /3000000 bytes exceeds the 2097152-byte limit/);
  });

  it('streamed oversized reply: connection dropped past 2 MiB', async () => {
    let written = 0;
    let clientClosed = false;
    const t = await rawHttpTracker(4, [
      (sock) => {
        sock.on('close', () => (clientClosed = true));
        sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const pump = () => {
          while (!sock.destroyed && written < 8 * 1024 * 1024) {
            written += chunk.length;
            if (!sock.write(`${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n`)) return void sock.once('drain', pump);
          }
        };
        pump();
      },
      ok,
    ]);
    const s = newSession(t.url, 4, { timeoutMs: 3000 });
    await expectErrorThenRecovery(s, /exceeds the 2097152-byte limit; connection dropped/);
    await until(() => clientClosed, 'the client to drop the connection');
    expect(written).toBeLessThan(8 * 1024 * 1024);
  });

  it('a reply that never ends is cut at the timeout', async () => {
    const t = await rawHttpTracker(4, [(sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nd8:interval'), ok]);
    const started = Date.now();
    const s = newSession(t.url, 4);
    await until(() => s.events.length >= 1, 'timeout event');
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    await expectErrorThenRecovery(s, /no complete reply within 0.7 s/);
  });

  it('failure reason is surfaced as the error', async () => {
    const t = await rawHttpTracker(4, [(sock) => sock.end(httpResponse(encode({ 'failure reason': 'torrent not registered\u0007' }))), ok]);
    await expectErrorThenRecovery(newSession(t.url, 4), /tracker refused: torrent not registered\\x07$/);
  });

  it('C1 controls in a failure reason or warning are escaped too (U+009B starts a terminal sequence)', async () => {
    const t = await rawHttpTracker(4, [
      (sock) => sock.end(httpResponse(encode({ 'failure reason': 'gone\u009b2J\u001b[1m' }))),
      (sock) => sock.end(httpResponse(goodBody({ 'warning message': 'w\u0085x' }))),
    ]);
    const s = newSession(t.url, 4);
    await until(() => s.events.length >= 2, 'an error event and a retry');
    expect(s.events[0]!.error).toBe('tracker refused: gone\\x9b2J\\x1b[1m');
    expect(s.events[1]!.warning).toBe('tracker warning: w\\x85x');
  });

  it('a listener that throws neither crashes the process nor stops the announce schedule', async () => {
    const t = await rawHttpTracker(4, [(sock) => sock.end(httpResponse(goodBody({ interval: 0 })))]);
    const s = newSession(t.url, 4);
    let thrown = 0;
    s.session.on('announce', () => {
      thrown++;
      throw new Error('announce listener bug');
    });
    s.session.on('peers', () => {
      throw new Error('peers listener bug');
    });
    await until(() => t.requests.length >= 3 && s.events.length >= 3, 'three announces despite the throwing listeners');
    expect(thrown).toBeGreaterThanOrEqual(3);
    // 'peers' still goes out after a throwing 'announce' listener.
    expect(s.peers.length).toBeGreaterThanOrEqual(3);
    expect(s.events.every((e) => e.error === undefined)).toBe(true);
  });

  it('HTTP error status and non-dictionary replies', async () => {
    const t = await rawHttpTracker(4, [
      (sock) => sock.end('HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
      (sock) => sock.end(httpResponse('i42e')),
      ok,
    ]);
    const s = newSession(t.url, 4);
    await until(() => s.events.length >= 3, 'three events');
    expect(s.events[0]!.error).toBe('HTTP status 500');
    expect(s.events[1]!.error).toBe('reply is not a bencoded dictionary');
    expect(s.events[1]!.nextAnnounceInMs).toBe(2 * FLOOR); // exponential backoff
    expect(s.events[2]!.error).toBeUndefined();
  });

  describe('redirects', () => {
    const redirect = (status: number, location: string | ((requestLine: string) => string)): HttpScript => (sock, line) =>
      sock.end(`HTTP/1.1 ${status} Moved\r\nLocation: ${typeof location === 'string' ? location : location(line)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    const queryOf = (line: string) => line.split(' ')[1]!.replace(/^[^?]*/, '');

    it('follows relative and absolute redirects (301, 302, 307, 308) to another path and another server, the query intact', async () => {
      const moved = await rawHttpTracker(4, [ok]);
      const t = await rawHttpTracker(4, [
        redirect(302, (line) => `/v2/announce${queryOf(line)}`),
        redirect(307, (line) => `http://127.0.0.1:${moved.port}/elsewhere${queryOf(line)}`),
      ]);
      const s = newSession(t.url, 4);
      await until(() => s.events.length >= 1, 'the announce');
      expect(s.events[0]!.error).toBeUndefined();
      expect(s.peers[0]).toEqual([PEER4, PEER6]);
      expect(t.requests.map((r) => r.line.split('?')[0])).toEqual(['GET /announce', 'GET /v2/announce']);
      expect(moved.requests[0]!.line).toMatch(/^GET \/elsewhere\?info_hash=[^ ]+&peer_id=.*&port=6881&/);
      for (const status of [301, 308]) {
        const again = await rawHttpTracker(4, [redirect(status, (line) => `http://127.0.0.1:${moved.port}/announce${queryOf(line)}`)]);
        const s2 = newSession(again.url, 4);
        await until(() => s2.events.length >= 1, `the announce after a ${status}`);
        expect(s2.events[0]!.error).toBeUndefined();
      }
    });

    it('gives up after 5 redirects (a loop), then announces again normally', async () => {
      const loop = redirect(302, (line) => line.split(' ')[1]!);
      const t = await rawHttpTracker(4, [loop, loop, loop, loop, loop, loop, ok]);
      const s = newSession(t.url, 4);
      await expectErrorThenRecovery(s, /more than 5 redirects/);
      expect(t.requests).toHaveLength(7);
    });

    it('refuses redirects to UDP, to another family, to nothing parseable, and from HTTPS to HTTP', async () => {
      const t = await rawHttpTracker(4, [
        redirect(302, 'udp://127.0.0.1:6969/announce'),
        redirect(302, 'http://[::1]:6969/announce'),
        redirect(302, 'http://user:pw@127.0.0.1:1/announce'),
        ok,
      ]);
      const s = newSession(t.url, 4);
      await until(() => s.events.length >= 4, 'four announces');
      expect(s.events[0]!.error).toMatch(/redirected to a UDP URL/);
      expect(s.events[1]!.error).toMatch(/::1 is an IPv6 address: no IPv4 announce possible/);
      expect(s.events[2]!.error).toMatch(/redirected to "http:\/\/user:pw@127\.0\.0\.1:1\/announce": .*carries credentials/);
      expect(s.events[3]!.error).toBeUndefined();

      const cert = localhostCert();
      const plain = await rawHttpTracker(4, [ok]);
      const secure = await rawHttpTracker(4, [redirect(301, `http://localhost:${plain.port}/announce`)], cert);
      const down = newSession(`https://localhost:${secure.port}/announce`, 4, { ca: cert.cert });
      await until(() => down.events.length >= 1, 'the refused downgrade');
      expect(down.events[0]!.error).toMatch(/refusing a redirect from HTTPS to plain HTTP/);
      expect(plain.requests).toHaveLength(0);
    });
  });

  it('peers blob of the wrong length next to a valid peers6: peers6 is still used', async () => {
    const body = encode({ interval: 60, peers: Buffer.alloc(7, 1), peers6: encodeCompactPeers([PEER6], 6) });
    const t = await rawHttpTracker(4, [(sock) => sock.end(httpResponse(body))]);
    const s = newSession(t.url, 4);
    await until(() => s.events.length >= 1, 'event');
    expect(s.events[0]!.error).toBeUndefined();
    expect(s.events[0]!.warning).toMatch(/ignored "peers": compact IPv4 peer list of 7 bytes/);
    expect(s.events[0]).toMatchObject({ peers4: 0, peers6: 1 });
    expect(s.peers).toEqual([[PEER6]]);
  });

  it('bad peers are dropped and counted; warning message, tracker id and dictionary peers', async () => {
    const junk: PeerAddress[] = [
      { host: '0.0.0.0', port: 1, family: 4 },
      { host: '224.0.0.1', port: 1, family: 4 },
      { host: '192.0.2.1', port: 0, family: 4 },
      { host: '192.0.2.9', port: 6881, family: 4 }, // ourselves (isSelf)
      PEER4,
      PEER4, // duplicate
    ];
    const body = encode({
      interval: 60,
      'tracker id': 'tid-1',
      'warning message': 'be nice',
      peers: encodeCompactPeers(junk, 4),
      peers6: encodeCompactPeers([{ host: 'ff02::1', port: 5 }, { host: '::ffff:192.0.2.3', port: 5 }, PEER6], 6),
    });
    const dict = encode({ interval: 60, peers: [{ ip: '2001:db8::9', port: 9, 'peer id': 'x' }, { ip: 'not-an-ip', port: 1 }, { port: 3 }, 'junk'] });
    const t = await rawHttpTracker(4, [(sock) => sock.end(httpResponse(body)), (sock) => sock.end(httpResponse(dict))]);
    const s = newSession(t.url, 4, { isSelf: (p) => p.host === '192.0.2.9' && p.port === 6881 });
    await until(() => s.events.length >= 1, 'event');
    expect(s.events[0]).toMatchObject({ peers4: 6, peers6: 3, dropped: 7, warning: 'tracker warning: be nice' });
    expect(s.peers[0]).toEqual([PEER4, PEER6]);
    // The next announce (requestMorePeers: after the floor) echoes the tracker id.
    s.session.requestMorePeers();
    await until(() => s.events.length >= 2, 'second event');
    expect(t.requests[1]!.line).toContain('trackerid=tid-1');
    expect(t.requests[1]!.at - t.requests[0]!.at).toBeGreaterThanOrEqual(FLOOR - 5);
    expect(s.events[1]).toMatchObject({ peers4: 0, peers6: 1, dropped: 3 });
    expect(s.peers[1]).toEqual([{ host: '2001:db8::9', port: 9, family: 6 }]);
  });

  it('interval=1 and min interval=0: the next announce waits for the floor', async () => {
    const t = await rawHttpTracker(6, [(sock) => sock.end(httpResponse(goodBody({ interval: 1, 'min interval': 0 })))]);
    const s = newSession(t.url, 6, { minIntervalFloorMs: 1200 });
    await until(() => t.requests.length >= 3, 'three announces', 6000);
    expect(s.events[0]!.nextAnnounceInMs).toBe(1200);
    expect(t.requests[1]!.at - t.requests[0]!.at).toBeGreaterThanOrEqual(1190);
    expect(t.requests[2]!.at - t.requests[1]!.at).toBeGreaterThanOrEqual(1190);
    // requestMorePeers cannot beat the floor either.
    const before = t.requests.length;
    s.session.requestMorePeers();
    await new Promise((r) => setTimeout(r, 300));
    expect(t.requests.length).toBe(before);
  });
});

describe('HTTPS, caps and shutdown', () => {
  it('HTTPS to a host name: pinned to its IPv4 address, Host header and certificate name kept; the IPv6 announce fails cleanly', async () => {
    const cert = localhostCert();
    const t = await rawHttpTracker(4, [ok], cert);
    // "localhost" has an A record only on this machine (see /etc/hosts): one working family.
    const url = `https://localhost:${t.port}/announce`;
    const s = newSession(url, 4, { ca: cert.cert, families: { 4: true, 6: true } });
    await until(() => s.events.some((e) => e.family === 4) && s.events.some((e) => e.family === 6), 'both families');
    expect(s.events.find((e) => e.family === 4)!.error).toBeUndefined();
    expect(s.peers[0]).toEqual([PEER4, PEER6]);
    expect(t.requests[0]!.head.toLowerCase()).toContain(`\r\nhost: localhost:${t.port}\r\n`);
    expect(s.events.find((e) => e.family === 6)!.error).toMatch(/localhost has no IPv6 address/);
    // The same server by IP literal: the certificate does not name it, so the announce fails as an event.
    const byIp = newSession(`https://127.0.0.1:${t.port}/announce`, 4, { ca: cert.cert });
    await until(() => byIp.events.length > 0, 'certificate error');
    expect(byIp.events[0]!.error).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list/);
  });

  it('at most 1000 peers per list are taken from one reply; the rest are counted as dropped', async () => {
    const many: PeerAddress[] = [];
    for (let i = 1; i <= 1500; i++) many.push({ host: `198.51.100.${(i % 250) + 1}`, port: 1000 + i, family: 4 });
    const t = await rawHttpTracker(4, [(sock) => sock.end(httpResponse(encode({ interval: 60, peers: encodeCompactPeers(many, 4) })))]);
    const s = newSession(t.url, 4);
    await until(() => s.events.length > 0, 'event');
    expect(s.events[0]).toMatchObject({ peers4: 1000, dropped: 500 });
    expect(s.peers[0]!.length).toBe(1000);
  });

  it('stop() is bounded: an HTTP tracker that never answers the stopped announce costs the HTTP timeout', async () => {
    const t = await rawHttpTracker(4, [ok, () => undefined]);
    const s = newSession(t.url, 4);
    await until(() => s.events.length > 0, 'started');
    const t0 = Date.now();
    await s.session.stop();
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(t.requests[1]!.line).toContain('event=stopped');
    expect(s.events[1]).toMatchObject({ event: 'stopped', error: 'no complete reply within 0.7 s' });
  });

  it('stop() is bounded: a silent UDP tracker is given up after the stop budget', async () => {
    let announces = 0;
    const t = await rawUdpTracker(4, [bep15((msg, reply) => (announces++ === 0 ? reply(announceOk(msg, Buffer.alloc(0))) : undefined))]);
    // Sends at 0, 0.5 and 1.5 s; the give-up point (3.5 s) lies beyond the 3 s budget.
    const s = newSession(t.url, 4, { udpRetransmitBaseMs: 500 });
    await until(() => s.events.length > 0, 'started');
    const t0 = Date.now();
    await s.session.stop();
    expect(Date.now() - t0).toBeLessThan(3500);
    expect(s.events[1]).toMatchObject({ event: 'stopped', error: 'no reply to the stopped announce within 3000 ms' });
    expect(t.packets.length).toBe(5); // connect + announce, then the stopped announce sent three times
  });
});

describe('hostile UDP tracker (BEP 15)', () => {
  it('wrong transaction ids are ignored and the right reply later is accepted', async () => {
    const t = await rawUdpTracker(4, [
      (msg, reply) => {
        reply(connectOk(msg, (txOf(msg) ^ 1) >>> 0));
        setTimeout(() => reply(connectOk(msg)), 30);
      },
      (msg, reply) => {
        reply(announceOk(msg, Buffer.alloc(0)).fill(0xee, 4, 8));
        setTimeout(() => reply(announceOk(msg, encodeCompactPeers([PEER4], 4))), 30);
      },
    ]);
    const s = newSession(t.url, 4);
    await until(() => s.events.length >= 1, 'event');
    expect(s.events[0]!.error).toBeUndefined();
    expect(s.peers[0]).toEqual([PEER4]);
    expect(t.packets.map((p) => p.action)).toEqual([0, 1]); // no retransmission was needed
  });

  it('error action (3) becomes the error, and the next announce reconnects', async () => {
    const t = await rawUdpTracker(6, [
      bep15((msg, reply) => reply(errorAction(msg, 'info hash not found'))),
      bep15((msg, reply) => reply(errorAction(msg, 'info hash not found'))),
      bep15((msg, reply) => reply(announceOk(msg, encodeCompactPeers([PEER6], 6)))),
    ]);
    const s = newSession(t.url, 6);
    await until(() => s.events.length >= 2, 'two events');
    expect(s.events[0]!.error).toBe('tracker error: info hash not found');
    expect(s.events[1]!.error).toBeUndefined();
    expect(s.peers[0]).toEqual([PEER6]);
    expect(t.packets.map((p) => p.action)).toEqual([0, 1, 0, 1]);
  });

  it('18-byte entries over IPv6; a trailing partial entry is dropped with a warning', async () => {
    const t = await rawUdpTracker(6, [bep15((msg, reply) => reply(announceOk(msg, Buffer.concat([encodeCompactPeers([PEER6], 6), Buffer.alloc(5)]))))]);
    const s = newSession(t.url, 6);
    await until(() => s.events.length >= 1, 'event');
    expect(s.events[0]).toMatchObject({ peers4: 0, peers6: 1, dropped: 1 });
    expect(s.events[0]!.warning).toMatch(/5 trailing bytes/);
    expect(s.peers[0]).toEqual([PEER6]);
  });

  it('too-short announce reply and unexpected action are errors', async () => {
    const t = await rawUdpTracker(4, [
      (msg, reply) => reply(connectOk(msg)),
      (msg, reply) => reply(announceOk(msg, Buffer.alloc(0)).subarray(0, 12)),
      (msg, reply) => reply(announceOk(msg, Buffer.alloc(0)).fill(0, 0, 4).fill(2, 3, 4)), // action 2 answers a connect
      (msg, reply) => reply(connectOk(msg)),
      (msg, reply) => reply(announceOk(msg, encodeCompactPeers([PEER4], 4))),
    ]);
    const s = newSession(t.url, 4);
    await until(() => s.events.length >= 3, 'three events');
    expect(s.events[0]!.error).toBe('reply of 12 bytes is too short');
    expect(s.events[1]!.error).toBe('reply has action 2, expected 0');
    expect(s.events[2]!.error).toBeUndefined();
    expect(t.packets.map((p) => p.action)).toEqual([0, 1, 0, 0, 1]);
  });

  it('renews the connection id once it is older than its lifetime (BEP 15: a minute; shortened here), and only then', async () => {
    const TTL = 600;
    const t = await rawUdpTracker(4, [bep15((msg, reply) => reply(announceOk(msg, encodeCompactPeers([PEER4], 4), 0)))]);
    const s = newSession(t.url, 4, { udpConnectionIdTtlMs: TTL });
    await until(() => s.events.length >= 8, 'eight announces', 10_000);
    expect(s.events.every((e) => e.error === undefined)).toBe(true);
    // Judged by when each packet reached the tracker (loopback: within milliseconds of the decision).
    let connectAt = -Infinity;
    let reused = 0;
    let renewed = 0;
    for (const p of t.packets) {
      if (p.action === 0) {
        if (Number.isFinite(connectAt)) {
          renewed++;
          expect(p.at - connectAt, 'renewed before the id expired').toBeGreaterThan(TTL - 50);
        }
        connectAt = p.at;
      } else {
        expect(p.at - connectAt, 'announced with an expired id').toBeLessThan(TTL + 50);
        if (p.at - connectAt > 100) reused++;
      }
    }
    expect(reused).toBeGreaterThan(0);
    expect(renewed).toBeGreaterThan(0);
  });

  it('retransmission: the first connect is dropped, the retransmit after the base gets the reply', async () => {
    const t = await rawUdpTracker(4, [() => undefined, bep15((msg, reply) => reply(announceOk(msg, encodeCompactPeers([PEER4], 4))))]);
    const s = newSession(t.url, 4, { udpRetransmitBaseMs: 150 });
    await until(() => s.events.length >= 1, 'event');
    expect(s.events[0]!.error).toBeUndefined();
    expect(t.packets.map((p) => p.action)).toEqual([0, 0, 1]);
    expect(t.packets[1]!.tx).toBe(t.packets[0]!.tx); // the same request, retransmitted
    expect(t.packets[1]!.at - t.packets[0]!.at).toBeGreaterThanOrEqual(120);
  });

  it('retransmission backs off 2^n and gives up after 3 tries (BEP 15 timing, bounded)', async () => {
    const t = await rawUdpTracker(4, [() => undefined]);
    const started = Date.now();
    const s = newSession(t.url, 4, { udpRetransmitBaseMs: 100 });
    await until(() => s.events.length >= 1, 'timeout event', 3000);
    const gaveUpAfter = Date.now() - started;
    expect(s.events[0]!.error).toMatch(/no reply from UDP tracker 127.0.0.1 port \d+ after 3 tries/);
    const attempt = t.packets.filter((p) => p.at - started < gaveUpAfter);
    expect(attempt.map((p) => p.action)).toEqual([0, 0, 0]); // the connect, sent three times
    expect(new Set(attempt.map((p) => p.tx)).size).toBe(1);
    expect(attempt[1]!.at - attempt[0]!.at).toBeGreaterThanOrEqual(90); // 100 ms
    expect(attempt[2]!.at - attempt[1]!.at).toBeGreaterThanOrEqual(190); // 200 ms
    expect(gaveUpAfter).toBeGreaterThanOrEqual(680); // and 400 ms more for the last reply
    expect(gaveUpAfter).toBeLessThan(1500);
  });

  it('a UDP tracker that never answers does not hold up the next tier', async () => {
    const silent = await rawUdpTracker(6, [() => undefined]);
    const http = await rawHttpTracker(6, [ok]);
    const started = Date.now();
    // BEP 15's full schedule with this base would be 100 * (2^9 - 1) ms = 51 s of silence.
    const s = newSession(silent.url, 6, { tiers: [[silent.url], [http.url]], udpRetransmitBaseMs: 100 });
    await until(() => s.events.some((e) => e.tracker === http.url), 'the announce to the second tier', 3000);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(s.events[0]).toMatchObject({ tracker: silent.url, error: expect.stringMatching(/no reply .* after 3 tries/) });
    expect(s.events[1]).toMatchObject({ tracker: http.url, event: 'started' });
    expect(s.events[1]!.error).toBeUndefined();
    expect(s.peers[0]).toEqual([PEER4, PEER6]);
  });

  it('connection refused (nothing listening) fails fast, as an event', async () => {
    const t = await rawUdpTracker(6, [() => undefined]);
    const url = t.url;
    await cleanups.pop()!(); // close the tracker socket: its port now answers with ICMP port unreachable
    const s = newSession(url, 6, { udpRetransmitBaseMs: 2000 });
    await until(() => s.events.length >= 1, 'refused event', 1500);
    expect(s.events[0]!.error).toMatch(/ECONNREFUSED/);
  });

  it('a session keeps the UDP connection id for repeated announces', async () => {
    const t = await rawUdpTracker(4, [bep15((msg, reply) => reply(announceOk(msg, encodeCompactPeers([PEER4], 4), 0)))]);
    const s = newSession(t.url, 4);
    await until(() => s.events.length >= 3, 'three announces');
    expect(t.packets.map((p) => p.action).slice(0, 4)).toEqual([0, 1, 1, 1]);
  });
});
