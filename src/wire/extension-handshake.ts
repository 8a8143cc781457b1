/**
 * BEP 10 extension handshake: what we tell a peer (our client, queue depth, the address we see
 * it at, our address in the other family) and what we accept from it, all bounded.
 */
import { asDict, BDict, decode, encode, type BValue, type Encodable } from '../bencode/index.js';
import { ipToBytes } from '../net/address.js';
import { decodeCompactIp } from '../net/compact.js';
import { ProtocolError } from './frame-decoder.js';
import { printable } from '../util/sanitize.js';

export interface ExtensionHandshake {
  /** Extension name -> the message id the sender wants to receive it on (0 = disabled). */
  m: Map<string, number>;
  port?: number;
  client?: string;
  reqq?: number;
  yourIp?: string;
  ipv4?: string;
  ipv6?: string;
  metadataSize?: number;
}

export interface OurExtensionHandshake {
  extensions: Record<string, number>;
  port?: number;
  client: string;
  reqq: number;
  /** The address we see the peer at. */
  yourIp?: string;
  ipv4?: string;
  ipv6?: string;
  /** Keys the registered extensions add (ut_metadata's metadata_size, ...). */
  extra?: Record<string, Encodable | undefined>;
}

export function encodeExtensionHandshake(h: OurExtensionHandshake): Buffer {
  const ip = (s?: string) => (s ? ipToBytes(s) : undefined);
  return encode({
    ...h.extra,
    m: h.extensions,
    p: h.port,
    v: h.client,
    reqq: h.reqq,
    yourip: ip(h.yourIp),
    ipv4: h.ipv4 ? ip(h.ipv4) : undefined,
    ipv6: h.ipv6 ? ip(h.ipv6) : undefined,
  });
}

const MAX_METADATA = 64 * 1024 * 1024;

/** Fields of the wrong type or out of range are dropped; only broken bencode is a ProtocolError. */
export function parseExtensionHandshake(payload: Buffer): ExtensionHandshake {
  let d: BDict;
  try {
    d = asDict(decode(payload, { maxDepth: 8, maxItems: 2000, maxBytes: 64 * 1024 }), 'extension handshake');
  } catch (e) {
    throw new ProtocolError(`bad extension handshake: ${(e as Error).message}`);
  }
  const int = (v: BValue | undefined, lo: number, hi: number) => (typeof v === 'number' && v >= lo && v <= hi ? v : undefined);
  const bytes = (v: BValue | undefined) => (Buffer.isBuffer(v) ? v : undefined);
  const m = new Map<string, number>();
  const md = d.get('m');
  if (md instanceof BDict) for (const [k, v] of md) {
    const id = int(v, 0, 255);
    if (id !== undefined) m.set(k, id);
  }
  const v = bytes(d.get('v'));
  const ip = (b: Buffer | undefined, len: number) => (b && b.length === len ? decodeCompactIp(b) : undefined);
  const yours = bytes(d.get('yourip'));
  return {
    m,
    port: int(d.get('p'), 1, 65535),
    client: v && v.length <= 100 ? printable(v.toString('utf8')) : undefined,
    reqq: int(d.get('reqq'), 1, 100_000),
    yourIp: yours ? decodeCompactIp(yours) : undefined,
    ipv4: ip(bytes(d.get('ipv4')), 4),
    ipv6: ip(bytes(d.get('ipv6')), 16),
    metadataSize: int(d.get('metadata_size'), 1, MAX_METADATA),
  };
}
