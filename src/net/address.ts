/**
 * Address classification, shared by everything that decides whether an address may be
 * announced, dialed, or handed to others (trackers, PEX, BEP 10, the tunnel bootstrap).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { documentationRangesAreGlobal } from '../util/environment.js';

export type Family = 4 | 6;

export type AddressKind =
  | 'global'
  | 'private' // IPv4 RFC 1918 and 100.64/10 carrier-grade NAT
  | 'link-local'
  | 'ula' // fc00::/7
  | 'loopback'
  | 'teredo' // 2001::/32
  | '6to4' // 2002::/16
  | 'v4-mapped' // ::ffff:0:0/96
  | 'multicast'
  | 'documentation' // 192.0.2/24, 198.51.100/24, 203.0.113/24, 198.18/15 (benchmarking), 2001:db8::/32
  | 'unspecified'
  | 'reserved'; // anything else that never carries unicast traffic (240/4, broadcast, ::/8 leftovers)

export interface ClassifiedAddress {
  family: Family;
  kind: AddressKind;
  /** Canonical text: dotted quad or RFC 5952 lower-case compressed IPv6. */
  text: string;
  bytes: Buffer;
}

export function familyOf(ip: string): Family | undefined {
  if (isIPv4(ip)) return 4;
  if (isIPv6(stripZone(ip))) return 6;
  return undefined;
}

function stripZone(ip: string): string {
  const pct = ip.indexOf('%');
  return pct < 0 ? ip : ip.slice(0, pct);
}

/** Parse an IP literal (no brackets, optional %zone on IPv6) to 4 or 16 bytes. */
export function ipToBytes(ip: string): Buffer | undefined {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const bare = stripZone(ip);
  if (!isIPv6(bare)) return undefined;
  let text = bare.toLowerCase();
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hex groups first.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const q = tail.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((q[0] << 8) | q[1]).toString(16)}:${((q[2] << 8) | q[3]).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = rest ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Canonical text for 4 or 16 address bytes (RFC 5952: longest zero run compressed, lower case). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, not ${b.length}`);
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical form of an IP literal, or undefined when it is not one. */
export function canonicalIp(ip: string): string | undefined {
  const b = ipToBytes(ip);
  return b ? bytesToIp(b) : undefined;
}

/** The documentation ranges: never our global address on a real host, unless told (util/environment.ts). */
function documentation(): AddressKind {
  return documentationRangesAreGlobal() ? 'global' : 'documentation';
}

function kind4(b: Buffer): AddressKind {
  const [a = 0, c = 0, d = 0] = b;
  if (b.readUInt32BE(0) === 0) return 'unspecified';
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && c >= 16 && c <= 31) || (a === 192 && c === 168)) return 'private';
  if (a === 100 && c >= 64 && c <= 127) return 'private';
  if (a === 169 && c === 254) return 'link-local';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240 || a === 0) return 'reserved';
  if ((a === 192 && c === 0 && d === 2) || (a === 198 && c === 51 && d === 100) || (a === 203 && c === 0 && d === 113)) return documentation();
  if (a === 198 && (c === 18 || c === 19)) return documentation();
  return 'global';
}

function kind6(b: Buffer): AddressKind {
  const allZeroTo = (n: number) => b.subarray(0, n).every((x) => x === 0);
  if (allZeroTo(16)) return 'unspecified';
  if (allZeroTo(15) && b[15] === 1) return 'loopback';
  if (allZeroTo(10) && b[10] === 0xff && b[11] === 0xff) return 'v4-mapped';
  if (b[0] === 0xff) return 'multicast';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local';
  if ((b[0]! & 0xfe) === 0xfc) return 'ula';
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) return 'teredo';
  if (b[0] === 0x20 && b[1] === 0x02) return '6to4';
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return documentation();
  // 2000::/3 is the global unicast space.
  if ((b[0]! & 0xe0) === 0x20) return 'global';
  return 'reserved';
}

export function classify(ip: string): ClassifiedAddress | undefined {
  const bytes = ipToBytes(ip);
  if (!bytes) return undefined;
  const family: Family = bytes.length === 4 ? 4 : 6;
  return { family, kind: family === 4 ? kind4(bytes) : kind6(bytes), text: bytesToIp(bytes), bytes };
}

/** A globally routable unicast address: the only kind we ever advertise as our own (ipv6=, BEP 10). */
export function isGlobalUnicast(ip: string): boolean {
  return classify(ip)?.kind === 'global';
}

/** Whether a peer address may be dialed at all (loopback and private are fine for LANs and tests). */
export function isDialable(ip: string): boolean {
  const k = classify(ip)?.kind;
  return k !== undefined && k !== 'unspecified' && k !== 'multicast' && k !== 'reserved' && k !== 'v4-mapped';
}

/**
 * Whether one peer may pass this address on to another as a peer's (PEX, BEP 10 `ipv4`/`ipv6`):
 * unicast that reaches beyond this host and link. Never unspecified, multicast, link-local (its
 * scope does not travel), reserved, v4-mapped or documentation; loopback only between peers that
 * are on loopback themselves (tests, local tools).
 */
export function isExchangeable(ip: string, allowLoopback: boolean): boolean {
  const k = classify(ip)?.kind;
  return k === 'global' || k === 'private' || k === 'ula' || k === 'teredo' || k === '6to4' || (k === 'loopback' && allowLoopback);
}

/**
 * A test of whether an address lies in one of `networks` (address and prefix length; a zone is
 * ignored), the networks parsed once: it runs on every datagram a LAN protocol receives.
 */
export function subnetMatcher(networks: readonly { address: string; prefix: number }[]): (ip: string) => boolean {
  const parsed = networks.flatMap((n) => {
    const bytes = ipToBytes(n.address);
    return bytes && n.prefix >= 0 && n.prefix <= bytes.length * 8 ? [{ bytes, whole: n.prefix >> 3, rest: n.prefix & 7 }] : [];
  });
  return (ip) => {
    const a = ipToBytes(ip);
    if (!a) return false;
    return parsed.some(({ bytes, whole, rest }) => {
      if (bytes.length !== a.length || a.compare(bytes, 0, whole, 0, whole) !== 0) return false;
      return rest === 0 || ((a[whole]! ^ bytes[whole]!) & (0xff << (8 - rest)) & 0xff) === 0;
    });
  };
}

/** Node reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d: fold them back to IPv4. */
export function unmapIp(ip: string): string {
  return ip.toLowerCase().startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

/**
 * The network a host stands for when limiting per host: the IPv4 address, or the IPv6 /64 (one
 * end site gets a whole /64, so counting /128s would let it multiply itself). Loopback and
 * unparsable addresses give undefined: no limit applies to them.
 */
export function hostNetwork(ip: string): string | undefined {
  const c = classify(ip);
  if (!c || c.kind === 'loopback') return undefined;
  return c.family === 4 ? c.text : `${bytesToIp(Buffer.concat([c.bytes.subarray(0, 8), Buffer.alloc(8)]))}/64`;
}

/** One host for caps, bans and blame: an IPv4 address, an IPv6 /64 (a host can use all of it); loopback addresses one by one. */
export function hostKey(ip: string): string {
  return hostNetwork(ip) ?? ip;
}
