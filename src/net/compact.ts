/**
 * Compact peer encodings (BEP 23 `peers`: 6 bytes; BEP 7 `peers6`: 18 bytes), used by trackers,
 * PEX and BEP 10. Decoding is strict about length and never lets one bad entry poison the rest.
 */
import { bytesToIp, ipToBytes, type Family } from './address.js';

export interface PeerAddress {
  host: string; // canonical IP text, no brackets
  port: number;
  family: Family;
}

export const COMPACT_SIZE: Record<Family, number> = { 4: 6, 6: 18 };

export class CompactError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompactError';
  }
}

/** Decode a blob of compact entries of one family. A length that is not a multiple is an error. */
export function decodeCompactPeers(blob: Uint8Array, family: Family, maxPeers = Infinity): PeerAddress[] {
  const size = COMPACT_SIZE[family];
  if (blob.length % size !== 0) {
    throw new CompactError(`compact IPv${family} peer list of ${blob.length} bytes is not a multiple of ${size}`);
  }
  const count = Math.min(blob.length / size, maxPeers);
  const out: PeerAddress[] = [];
  const view = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  for (let i = 0; i < count; i++) {
    const off = i * size;
    out.push({ host: bytesToIp(view.subarray(off, off + size - 2)), port: view.readUInt16BE(off + size - 2), family });
  }
  return out;
}

/** Encode one address (IPv4 -> 6 bytes, IPv6 -> 18 bytes). */
export function encodeCompactPeer(p: { host: string; port: number }): Buffer {
  const ip = ipToBytes(p.host);
  if (!ip) throw new CompactError(`not an IP address: ${p.host}`);
  if (!Number.isInteger(p.port) || p.port < 0 || p.port > 65535) throw new CompactError(`bad port ${p.port}`);
  const out = Buffer.alloc(ip.length + 2);
  ip.copy(out);
  out.writeUInt16BE(p.port, ip.length);
  return out;
}

/** Encode many peers of one family into one blob; peers of the other family are skipped. */
export function encodeCompactPeers(peers: Iterable<{ host: string; port: number }>, family: Family): Buffer {
  const parts: Buffer[] = [];
  for (const p of peers) {
    const e = encodeCompactPeer(p);
    if (e.length === COMPACT_SIZE[family]) parts.push(e);
  }
  return Buffer.concat(parts);
}

/** Decode a bare 4- or 16-byte address (BEP 10 `yourip`, `ipv4`, `ipv6`). */
export function decodeCompactIp(b: Uint8Array): string | undefined {
  return b.length === 4 || b.length === 16 ? bytesToIp(b) : undefined;
}
