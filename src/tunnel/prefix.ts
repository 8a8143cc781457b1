/**
 * IPv6 prefixes for the tunnel: the server's range and the /64s handed out of it. A /64 is
 * identified by its upper 64 bits (`key`), which is also how packets are routed to clients.
 */
import { bytesToIp, familyOf, ipToBytes } from '../net/address.js';

export interface Prefix {
  /** Network address, 16 bytes, host bits zero. */
  bytes: Buffer;
  length: number;
  /** Canonical text, e.g. `2001:db8:100::/64`. */
  text: string;
  /** Upper 64 bits of the network address. */
  key: bigint;
}

/**
 * Parses `ADDR/LEN`. Host bits set past LEN are an error unless `maskHostBits` (for prefixes
 * received from a server: be liberal in what we accept, and use the network they denote).
 */
export function parsePrefix(text: string, opts: { maskHostBits?: boolean } = {}): Prefix {
  const m = /^([0-9A-Fa-f:.]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m || familyOf(m[1]!) !== 6) throw new Error(`"${text}" is not an IPv6 prefix like 2001:db8:100::/56`);
  const length = Number(m[2]);
  if (length > 128) throw new Error(`"${text}": a prefix length is 0-128`);
  const bytes = ipToBytes(m[1]!)!;
  const masked = Buffer.from(bytes);
  for (let bit = length; bit < 128; bit++) masked[bit >> 3]! &= ~(0x80 >> (bit & 7));
  if (!opts.maskHostBits && !masked.equals(bytes)) {
    throw new Error(`"${text}" has address bits set past /${length} (did you mean ${bytesToIp(masked)}/${length}?)`);
  }
  return fromBytes(masked, length);
}

function fromBytes(bytes: Buffer, length: number): Prefix {
  return { bytes, length, text: `${bytesToIp(bytes)}/${length}`, key: bytes.readBigUInt64BE(0) };
}

/** The upper 64 bits of an address (16 bytes): the key of the /64 it belongs to. */
export function key64(address: Uint8Array): bigint {
  return Buffer.from(address.buffer, address.byteOffset, 8).readBigUInt64BE(0);
}

/** The /64 with this key. */
export function prefix64(key: bigint): Prefix {
  const bytes = Buffer.alloc(16);
  bytes.writeBigUInt64BE(key, 0);
  return fromBytes(bytes, 64);
}

/** `prefix::1`: the address the tunnel client takes from its /64 (as the original does). */
export function firstHost(prefix: Prefix): string {
  const bytes = Buffer.from(prefix.bytes);
  bytes[15] = 1;
  return bytesToIp(bytes);
}

/** A range of /64s (a prefix of length <= 64), enumerated from its start. */
export class PrefixRange {
  readonly prefix: Prefix;
  /** Number of /64s in the range. */
  readonly size: bigint;

  constructor(text: string) {
    const p = parsePrefix(text);
    if (p.length > 64) throw new Error(`prefix range ${p.text} is smaller than one /64`);
    this.prefix = p;
    this.size = 1n << BigInt(64 - p.length);
  }

  contains(key: bigint): boolean {
    return key >= this.prefix.key && key - this.prefix.key < this.size;
  }

  /**
   * The first /64 whose key is not `taken`, in range order from the key `from` (default: the
   * range's start; callers that know everything before some key is taken skip it), or
   * undefined when all are.
   */
  firstFree(taken: (key: bigint) => boolean, from = this.prefix.key): Prefix | undefined {
    const end = this.prefix.key + this.size;
    for (let key = from > this.prefix.key ? from : this.prefix.key; key < end; key++) {
      if (!taken(key)) return prefix64(key);
    }
    return undefined;
  }
}
