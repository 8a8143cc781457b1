/** BEP 15 packet layouts, shared by the UDP tracker client and the built-in server. */
import { randomBytes } from 'node:crypto';
import type { Family } from '../net/address.js';
import { COMPACT_SIZE, decodeCompactPeers, encodeCompactPeers, type PeerAddress } from '../net/compact.js';
import { LIMITS, type AnnounceEventName, type ScrapeEntry } from './types.js';

export const PROTOCOL_ID = 0x41727101980n;
export const ACTION = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;
const EVENT_CODE: Record<AnnounceEventName, number> = { completed: 1, started: 2, stopped: 3 };
const EVENT_NAME: (AnnounceEventName | undefined)[] = [undefined, 'completed', 'started', 'stopped'];
/** Hashes per scrape packet: 16 + 74*20 bytes stays well under common MTUs (BEP 15). */
export const MAX_SCRAPE_HASHES = 74;
export const ANNOUNCE_REQUEST_SIZE = 98;

// ---- requests (client -> tracker) ----

/** A fresh random transaction id. */
export const randomTx = (): number => randomBytes(4).readUInt32BE(0);

export function connectRequest(tx: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(PROTOCOL_ID, 0);
  b.writeUInt32BE(ACTION.connect, 8);
  b.writeUInt32BE(tx, 12);
  return b;
}

export interface UdpAnnounceFields {
  infoHash: Buffer;
  peerId: Buffer;
  downloaded: number;
  left: number;
  uploaded: number;
  event?: AnnounceEventName;
  /** IPv4 address field; 0 = use the packet's source (the only value sent over IPv6). */
  ip: number;
  key: number;
  /** -1 = tracker's default. */
  numwant: number;
  port: number;
}

export function announceRequest(connId: Buffer, tx: number, f: UdpAnnounceFields): Buffer {
  const b = Buffer.alloc(ANNOUNCE_REQUEST_SIZE);
  connId.copy(b, 0);
  b.writeUInt32BE(ACTION.announce, 8);
  b.writeUInt32BE(tx, 12);
  f.infoHash.copy(b, 16);
  f.peerId.copy(b, 36);
  b.writeBigUInt64BE(BigInt(f.downloaded), 56);
  b.writeBigUInt64BE(BigInt(f.left), 64);
  b.writeBigUInt64BE(BigInt(f.uploaded), 72);
  b.writeUInt32BE(f.event ? EVENT_CODE[f.event] : 0, 80);
  b.writeUInt32BE(f.ip >>> 0, 84);
  b.writeUInt32BE(f.key >>> 0, 88);
  b.writeInt32BE(f.numwant, 92);
  b.writeUInt16BE(f.port, 96);
  return b;
}

export function scrapeRequest(connId: Buffer, tx: number, hashes: Buffer[]): Buffer {
  const b = Buffer.alloc(16 + 20 * hashes.length);
  connId.copy(b, 0);
  b.writeUInt32BE(ACTION.scrape, 8);
  b.writeUInt32BE(tx, 12);
  hashes.forEach((h, i) => h.copy(b, 16 + 20 * i));
  return b;
}

export type UdpRequest =
  | { action: 'connect'; tx: number }
  | { action: 'announce'; tx: number; connId: Buffer; fields: UdpAnnounceFields }
  | { action: 'scrape'; tx: number; connId: Buffer; hashes: Buffer[] }
  /** Well-formed header but unusable body: answer with an error so the client learns why. */
  | { action: 'bad'; tx: number; reason: string };

/** Server side. Undefined for garbage that does not even carry a transaction id: ignore it. */
export function parseRequest(b: Buffer): UdpRequest | undefined {
  if (b.length < 16) return undefined;
  const action = b.readUInt32BE(8);
  const tx = b.readUInt32BE(12);
  if (action === ACTION.connect) {
    return b.readBigUInt64BE(0) === PROTOCOL_ID ? { action: 'connect', tx } : undefined;
  }
  const connId = Buffer.from(b.subarray(0, 8));
  if (action === ACTION.announce) {
    if (b.length < ANNOUNCE_REQUEST_SIZE) return { action: 'bad', tx, reason: 'announce request too short' };
    const eventCode = b.readUInt32BE(80);
    if (eventCode > 3) return { action: 'bad', tx, reason: 'unknown event' };
    const event = EVENT_NAME[eventCode];
    return {
      action: 'announce',
      tx,
      connId,
      fields: {
        infoHash: Buffer.from(b.subarray(16, 36)),
        peerId: Buffer.from(b.subarray(36, 56)),
        downloaded: safeU64(b, 56),
        left: safeU64(b, 64),
        uploaded: safeU64(b, 72),
        ...(event ? { event } : {}),
        ip: b.readUInt32BE(84),
        key: b.readUInt32BE(88),
        numwant: b.readInt32BE(92),
        port: b.readUInt16BE(96),
      },
    };
  }
  if (action === ACTION.scrape) {
    const n = Math.min(Math.floor((b.length - 16) / 20), MAX_SCRAPE_HASHES);
    if (n === 0) return { action: 'bad', tx, reason: 'scrape request without info hashes' };
    const hashes: Buffer[] = [];
    for (let i = 0; i < n; i++) hashes.push(Buffer.from(b.subarray(16 + 20 * i, 36 + 20 * i)));
    return { action: 'scrape', tx, connId, hashes };
  }
  return { action: 'bad', tx, reason: `unknown action ${action}` };
}

const safeU64 = (b: Buffer, off: number): number => {
  const v = b.readBigUInt64BE(off);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
};

// ---- replies (tracker -> client) ----

export function connectReply(tx: number, connId: Buffer): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(ACTION.connect, 0);
  b.writeUInt32BE(tx, 4);
  connId.copy(b, 8);
  return b;
}

export function announceReply(tx: number, interval: number, leechers: number, seeders: number, peers: PeerAddress[], family: Family): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt32BE(ACTION.announce, 0);
  head.writeUInt32BE(tx, 4);
  head.writeUInt32BE(interval, 8);
  head.writeUInt32BE(leechers, 12);
  head.writeUInt32BE(seeders, 16);
  return Buffer.concat([head, encodeCompactPeers(peers, family)]);
}

export function scrapeReply(tx: number, entries: ScrapeEntry[]): Buffer {
  const b = Buffer.alloc(8 + 12 * entries.length);
  b.writeUInt32BE(ACTION.scrape, 0);
  b.writeUInt32BE(tx, 4);
  entries.forEach((e, i) => {
    b.writeUInt32BE(Math.min(e.complete, 0xffffffff), 8 + 12 * i);
    b.writeUInt32BE(Math.min(e.downloaded, 0xffffffff), 12 + 12 * i);
    b.writeUInt32BE(Math.min(e.incomplete, 0xffffffff), 16 + 12 * i);
  });
  return b;
}

export function errorReply(tx: number, message: string): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(ACTION.error, 0);
  head.writeUInt32BE(tx, 4);
  return Buffer.concat([head, Buffer.from(message, 'utf8')]);
}

/** Client side: the reply's action and transaction id, or undefined when too short to carry them. */
export function replyHeader(b: Buffer): { action: number; tx: number } | undefined {
  return b.length < 8 ? undefined : { action: b.readUInt32BE(0), tx: b.readUInt32BE(4) };
}

export interface UdpAnnounceReply {
  interval: number;
  leechers: number;
  seeders: number;
  peers: PeerAddress[];
  /** Entries beyond the cap plus a trailing partial entry. */
  dropped: number;
  trailingBytes: number;
}

/** The entry size follows the family of the packet: 6 bytes over IPv4, 18 over IPv6 (BEP 15). */
export function parseAnnounceReply(b: Buffer, family: Family): UdpAnnounceReply | undefined {
  if (b.length < 20) return undefined;
  const size = COMPACT_SIZE[family];
  const whole = Math.floor((b.length - 20) / size);
  const blob = b.subarray(20, 20 + whole * size);
  const peers = decodeCompactPeers(blob, family, LIMITS.maxPeersPerList);
  const trailingBytes = b.length - 20 - whole * size;
  return {
    interval: b.readUInt32BE(8),
    leechers: b.readUInt32BE(12),
    seeders: b.readUInt32BE(16),
    peers,
    dropped: whole - peers.length + (trailingBytes > 0 ? 1 : 0),
    trailingBytes,
  };
}

export function parseScrapeReplyBody(b: Buffer, hashes: Buffer[]): Map<string, ScrapeEntry> {
  const out = new Map<string, ScrapeEntry>();
  const n = Math.min(hashes.length, Math.floor((b.length - 8) / 12));
  for (let i = 0; i < n; i++) {
    out.set(hashes[i]!.toString('hex'), {
      complete: b.readUInt32BE(8 + 12 * i),
      downloaded: b.readUInt32BE(12 + 12 * i),
      incomplete: b.readUInt32BE(16 + 12 * i),
    });
  }
  return out;
}
