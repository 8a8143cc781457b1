/**
 * Trackers with one known fault each, for tracker-check's tests: a proxy on 127.0.0.1 and ::1
 * (HTTP and UDP, one port) in front of the built-in tracker (honouring ipv4=/ipv6=), passing
 * requests and replies through a fault's rewrites, or answering by itself (never, or garbage).
 * Each family is proxied to the same family, so the tracker sees the client's own loopback
 * address. Without a fault it is transparent: the baseline every fault is compared with.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { BDict, decode, encode } from '../../src/bencode/index.js';
import { classify, ipToBytes, type Family } from '../../src/net/address.js';
import { encodeCompactPeer } from '../../src/net/compact.js';
import { TrackerServer } from '../../src/tracker/server/tracker-server.js';
import { ACTION, replyHeader } from '../../src/tracker/udp-protocol.js';

export interface Fault {
  /** Rewrite an HTTP request's path and query before it goes on. */
  httpRequest?(path: string): string;
  /** Rewrite an HTTP reply body (`path` is the request's, after httpRequest). */
  httpReply?(path: string, body: Buffer): Buffer;
  udpRequest?(msg: Buffer): Buffer;
  udpReply?(msg: Buffer, family: Family): Buffer;
  /** Answer nothing at all (TCP connections are accepted and left hanging). */
  silent?: boolean;
  /** Answer every request with bytes that are no tracker reply. */
  garbage?: boolean;
  /** Hold every reply (HTTP and UDP) this long before it goes out. */
  delayMs?: number;
  /** UDP replies leave from another socket, i.e. another source port. */
  udpFromOtherPort?: boolean;
  /** Answer every HTTP request, after `delayMs`, with a redirect to itself. */
  redirectLoop?: boolean;
}

const LOOPBACK: Record<Family, string> = { 4: '127.0.0.1', 6: '::1' };

export interface FaultTracker {
  port: number;
  /** The most HTTP requests it held at once (arrived, not yet answered), both families together. */
  maxInFlight(): number;
  close(): Promise<void>;
}

/**
 * The proxy takes one port for TCP and UDP on both loopback addresses: the port the first
 * listener got may be taken on another (by a test running beside this one); then it tries again.
 */
export async function startFaultTracker(fault: Fault = {}): Promise<FaultTracker> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await listenFaultTracker(fault);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EADDRINUSE' || attempt === 10) throw e;
    }
  }
}

async function listenFaultTracker(fault: Fault): Promise<FaultTracker> {
  const upstream = new TrackerServer({ bind: [LOOPBACK[4], LOOPBACK[6]], honorIpParams: true });
  await upstream.listen();
  const closers: (() => Promise<void>)[] = [() => upstream.close()];
  const hanging = new Set<Socket>();
  let port = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  try {
    for (const family of [4, 6] as const) {
      const server = http.createServer((req, res) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        res.on('close', () => inFlight--);
        if (fault.silent) return;
        if (fault.redirectLoop) {
          setTimeout(() => res.writeHead(302, { location: req.url ?? '/' }).end(), fault.delayMs ?? 0);
          return;
        }
        if (fault.garbage) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(Buffer.concat([Buffer.from('x'), randomBytes(40)]));
          return;
        }
        const path = fault.httpRequest ? fault.httpRequest(req.url ?? '/') : (req.url ?? '/');
        http.get({ host: LOOPBACK[family], port: upstream.port, path, family, agent: false }, (up) => {
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () => {
            const body = fault.httpReply ? fault.httpReply(path, Buffer.concat(chunks)) : Buffer.concat(chunks);
            setTimeout(() => {
              res.writeHead(up.statusCode ?? 502, { 'content-type': 'text/plain', 'content-length': body.length });
              res.end(body);
            }, fault.delayMs ?? 0);
          });
        }).on('error', () => res.destroy());
      });
      server.on('connection', (s) => {
        hanging.add(s);
        s.on('close', () => hanging.delete(s));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: LOOPBACK[family], port, ipv6Only: family === 6 }, () => resolve());
      });
      port = (server.address() as AddressInfo).port;
      closers.push(() => new Promise<void>((r) => {
        for (const s of hanging) s.destroy();
        server.close(() => r());
      }));

      const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: LOOPBACK[family], port, exclusive: true }, () => resolve());
      });
      // Replies of udpFromOtherPort leave from this one (another port of the same address).
      const sideways = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
      await new Promise<void>((resolve) => sideways.bind(0, LOOPBACK[family], () => resolve()));
      const reply = (msg: Buffer, to: dgram.RemoteInfo) =>
        setTimeout(() => (fault.udpFromOtherPort ? sideways : socket).send(msg, to.port, to.address), fault.delayMs ?? 0);
      // One upstream socket per client endpoint: the tracker's connection ids are bound to it.
      const toUpstream = new Map<string, dgram.Socket>();
      socket.on('message', (msg, rinfo) => {
        if (fault.silent) return;
        if (fault.garbage) {
          const junk = Buffer.concat([Buffer.alloc(8), randomBytes(12)]);
          junk.writeUInt32BE(7, 0); // no such action, but the request's transaction id
          junk.writeUInt32BE(msg.length >= 16 ? msg.readUInt32BE(12) : 0, 4);
          reply(junk, rinfo);
          return;
        }
        const key = `${rinfo.address}|${rinfo.port}`;
        let up = toUpstream.get(key);
        if (!up) {
          const created = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
          created.on('message', (msg) => reply(fault.udpReply ? fault.udpReply(msg, family) : msg, rinfo));
          created.on('error', () => undefined);
          toUpstream.set(key, created);
          up = created;
        }
        up.send(fault.udpRequest ? fault.udpRequest(msg) : msg, upstream.port, LOOPBACK[family]);
      });
      closers.push(async () => {
        for (const s of toUpstream.values()) s.close();
        sideways.close();
        await new Promise<void>((r) => socket.close(() => r()));
      });
    }
  } catch (e) {
    for (const c of closers.reverse()) await c();
    throw e;
  }
  return {
    port,
    maxInFlight: () => maxInFlight,
    async close() {
      for (const c of closers.reverse()) await c();
    },
  };
}

// ---- the faults ----

const isAnnounce = (path: string) => path.startsWith('/announce');

/** Query parameters as they came (still percent-encoded). */
function rawParams(path: string): Map<string, string> {
  const q = path.indexOf('?');
  return new Map(
    (q < 0 ? '' : path.slice(q + 1)).split('&').filter(Boolean).map((kv) => {
      const eq = kv.indexOf('=');
      return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
  );
}

function rewriteDict(body: Buffer, edit: (d: BDict) => void): Buffer {
  const d = decode(body);
  if (!(d instanceof BDict)) return body;
  edit(d);
  return encode(d);
}

/** HTTP: never sends peers6 (IPv6 peers are simply not handed out). */
export const noPeers6: Fault = {
  httpReply: (path, body) => (isAnnounce(path) ? rewriteDict(body, (d) => d.delete('peers6')) : body),
};

/** UDP over IPv6: every 18-byte entry sent as 6 bytes (last 4 address bytes + port), the bittorrent-tracker bug. */
export const sixByteEntriesOverIpv6: Fault = {
  udpReply(msg, family) {
    if (family !== 6 || replyHeader(msg)?.action !== ACTION.announce) return msg;
    const parts = [msg.subarray(0, 20)];
    for (let off = 20; off + 18 <= msg.length; off += 18) parts.push(msg.subarray(off + 12, off + 18));
    return Buffer.concat(parts);
  },
};

/** Drops event=stopped (HTTP) and turns the BEP 15 stopped event into "none": peers stay listed. */
export const ignoresStopped: Fault = {
  httpRequest: (path) => path.replace(/&event=stopped/, ''),
  udpRequest(msg) {
    if (msg.length < 98 || msg.readUInt32BE(8) !== ACTION.announce || msg.readUInt32BE(80) !== 3) return msg;
    const copy = Buffer.from(msg);
    copy.writeUInt32BE(0, 80);
    return copy;
  },
};

export const neverAnswers: Fault = { silent: true };

/** UDP: every reply's transaction id is one we never sent. */
export const wrongTransactionId: Fault = {
  udpReply(msg) {
    if (msg.length < 8) return msg;
    const copy = Buffer.from(msg);
    copy.writeUInt32BE((msg.readUInt32BE(4) ^ 0x5a5a5a5a) >>> 0, 4);
    return copy;
  },
};

/** UDP: every reply cut to its first 3 bytes (too short to hold an action and a transaction id). */
export const threeByteReplies: Fault = { udpReply: (msg) => msg.subarray(0, 3) };

/** UDP: the replies are right but leave from another port of the tracker's address. */
export const repliesFromAnotherPort: Fault = { udpFromOtherPort: true };

/** HTTP: every request answered after `delayMs` with a redirect to itself (a slow redirect loop). */
export const slowRedirectLoop = (delayMs: number): Fault => ({ redirectLoop: true, delayMs });

/** Every reply held `delayMs` (a slow tracker, HTTP and UDP). */
export const slow = (delayMs: number): Fault => ({ delayMs });
export const answersGarbage: Fault = { garbage: true };

/**
 * Stores a link-local ipv6= / ipv4= (which the built-in tracker refuses) and hands it out to
 * every other peer of the torrent until that peer stops.
 */
export function acceptsLinkLocal(): Fault {
  const stored = new Map<string, Map<string, { family: Family; host: string; port: number }>>();
  return {
    httpRequest(path) {
      if (!isAnnounce(path)) return path;
      const p = rawParams(path);
      const hash = p.get('info_hash') ?? '';
      const peer = p.get('peer_id') ?? '';
      const peers = stored.get(hash) ?? new Map();
      stored.set(hash, peers);
      if (p.get('event') === 'stopped') peers.delete(peer);
      for (const family of [4, 6] as const) {
        const claimed = decodeURIComponent(p.get(family === 6 ? 'ipv6' : 'ipv4') ?? '');
        if (classify(claimed)?.kind === 'link-local' && p.get('event') !== 'stopped') peers.set(peer, { family, host: claimed, port: Number(p.get('port')) });
      }
      return path;
    },
    httpReply(path, body) {
      if (!isAnnounce(path)) return body;
      const p = rawParams(path);
      const peers = stored.get(p.get('info_hash') ?? '');
      if (!peers) return body;
      return rewriteDict(body, (d) => {
        for (const [id, e] of peers) {
          if (id === p.get('peer_id') || !ipToBytes(e.host)) continue;
          const key = e.family === 6 ? 'peers6' : 'peers';
          const before = d.get(key);
          d.set(key, Buffer.concat([Buffer.isBuffer(before) ? before : Buffer.alloc(0), encodeCompactPeer(e)]));
        }
      });
    },
  };
}
