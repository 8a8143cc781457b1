/**
 * Which of the host's IPv6 addresses to listen on, announce, and send from. Reads the kernel's
 * address list (/proc/net/if_inet6, with the flags Node's networkInterfaces() leaves out:
 * temporary, deprecated, tentative) and applies RFC 6724's source selection.
 *
 * The address we listen on and announce must be stable: a temporary (privacy) address expires
 * within a day, and a gateway opens a pinhole only for the address that asked for it (miniupnpd
 * answers 606 otherwise: miniupnp #600, #731). Link-local, ULA, Teredo and 6to4 addresses are
 * never announced. Outgoing connections may prefer temporary addresses (RFC 6724 rule 7).
 */
import { readFileSync } from 'node:fs';
import { bytesToIp, classify, ipToBytes, type AddressKind } from './address.js';

/** Flag bits of /proc/net/if_inet6 (linux/if_addr.h, IFA_F_*; the file shows the low 8 bits). */
const IFA_F_TEMPORARY = 0x01;
const IFA_F_DADFAILED = 0x08;
const IFA_F_HOMEADDRESS = 0x10;
const IFA_F_DEPRECATED = 0x20;
const IFA_F_TENTATIVE = 0x40;
const IFA_F_PERMANENT = 0x80;

export interface InterfaceAddress6 {
  /** Canonical text (RFC 5952), no zone. */
  address: string;
  ifname: string;
  ifindex: number;
  prefixLength: number;
  kind: AddressKind;
  /** A privacy address (RFC 8981): fine to dial from, never to announce. */
  temporary: boolean;
  /** Its preferred lifetime is over: still valid, no longer chosen for new traffic. */
  deprecated: boolean;
  /** Duplicate address detection is still running, or failed: unusable. */
  tentative: boolean;
  /** Configured by hand (no lifetime), as opposed to SLAAC or DHCPv6. */
  permanent: boolean;
  home: boolean;
}

/** Parses /proc/net/if_inet6: "<32 hex> <ifindex> <prefixlen> <scope> <flags> <ifname>" per line, all hex. */
export function parseIfInet6(text: string): InterfaceAddress6[] {
  const out: InterfaceAddress6[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/i.test(f[0]!)) continue;
    const address = bytesToIp(Buffer.from(f[0]!, 'hex'));
    const flags = parseInt(f[4]!, 16);
    out.push({
      address,
      ifname: f[5]!,
      ifindex: parseInt(f[1]!, 16),
      prefixLength: parseInt(f[2]!, 16),
      kind: classify(address)!.kind,
      temporary: (flags & IFA_F_TEMPORARY) !== 0,
      deprecated: (flags & IFA_F_DEPRECATED) !== 0,
      tentative: (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) !== 0,
      permanent: (flags & IFA_F_PERMANENT) !== 0,
      home: (flags & IFA_F_HOMEADDRESS) !== 0,
    });
  }
  return out;
}

/** The host's IPv6 addresses (empty when IPv6 is off or the file is unreadable: not Linux). */
export function readInterfaceAddresses6(path = '/proc/net/if_inet6'): InterfaceAddress6[] {
  try {
    return parseIfInet6(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
}

/** Whether we may tell others to reach us at this address: global unicast, stable, preferred, usable. */
export function isAnnounceable6(a: InterfaceAddress6): boolean {
  return a.kind === 'global' && !a.temporary && !a.deprecated && !a.tentative;
}

/**
 * The stable global address to listen on and announce: one on the interface of the default
 * route when there is one (`ifname`), addresses configured by hand before SLAAC/DHCPv6 ones,
 * then the lowest, so that the choice does not change between runs.
 */
export function chooseListenAddress6(addrs: readonly InterfaceAddress6[], opts: { ifname?: string } = {}): InterfaceAddress6 | undefined {
  const candidates = addrs.filter(isAnnounceable6);
  const rank = (a: InterfaceAddress6) => (opts.ifname !== undefined && a.ifname !== opts.ifname ? 2 : 0) + (a.permanent ? 0 : 1);
  return candidates.sort((a, b) => rank(a) - rank(b) || compareBytes(a.address, b.address))[0];
}

// --- RFC 6724 source address selection ----------------------------------------------------------

/** RFC 6724 section 2.1's default policy table: prefix, length, label (precedence is for destinations only). */
const POLICY: ReadonlyArray<[Buffer, number, number]> = (
  [
    ['::1', 128, 0],
    ['::ffff:0:0', 96, 4],
    ['2002::', 16, 2],
    ['2001::', 32, 5],
    ['fc00::', 7, 13],
    ['::', 96, 3],
    ['fec0::', 10, 11],
    ['3ffe::', 16, 12],
    ['::', 0, 1],
  ] as const
).map(([p, len, label]) => [ipToBytes(p)!, len, label] as [Buffer, number, number]);

function label(b: Buffer): number {
  for (const [prefix, len, lab] of POLICY) if (commonPrefixLength(b, prefix) >= len) return lab;
  return 1;
}

function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < 16; i++) {
    const x = a[i]! ^ b[i]!;
    if (x === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(x) - 24;
  }
  return n;
}

/** RFC 4291 / 6724 scope: multicast carries its own; link-local and loopback are 2, site-local 5, the rest global (14). */
function scope(b: Buffer): number {
  if (b[0] === 0xff) return b[1]! & 0x0f;
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 2;
  if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return 2;
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 5;
  return 14;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(ipToBytes(a)!, ipToBytes(b)!);
}

export interface SourceSelectionOptions {
  /** The interface the route to the destination leaves by (rule 5). */
  outgoingIfname?: string;
  /** Rule 7: prefer temporary addresses (RFC 6724's default; `--ipv6-privacy`). False prefers stable ones. */
  preferTemporary?: boolean;
}

/**
 * RFC 6724 section 5: the best source address among `addrs` for `destination`. Tentative
 * addresses never qualify. Returns undefined when there is no candidate.
 */
export function chooseSourceAddress6(addrs: readonly InterfaceAddress6[], destination: string, opts: SourceSelectionOptions = {}): InterfaceAddress6 | undefined {
  const d = ipToBytes(destination);
  if (!d || d.length !== 16) throw new RangeError(`${destination} is not an IPv6 address`);
  const dScope = scope(d);
  const dLabel = label(d);
  const preferTemporary = opts.preferTemporary ?? true;
  const better = (a: InterfaceAddress6, b: InterfaceAddress6): number => {
    const sa = ipToBytes(a.address)!;
    const sb = ipToBytes(b.address)!;
    // Rule 1: prefer the destination itself.
    if (sa.equals(d) !== sb.equals(d)) return sa.equals(d) ? -1 : 1;
    // Rule 2: prefer the appropriate scope.
    const ca = scope(sa);
    const cb = scope(sb);
    if (ca !== cb) {
      if (ca < cb) return ca < dScope ? 1 : -1;
      return cb < dScope ? -1 : 1;
    }
    // Rule 3: avoid deprecated addresses.
    if (a.deprecated !== b.deprecated) return a.deprecated ? 1 : -1;
    // Rule 4: prefer home addresses.
    if (a.home !== b.home) return a.home ? -1 : 1;
    // Rule 5: prefer the outgoing interface.
    if (opts.outgoingIfname !== undefined && (a.ifname === opts.outgoingIfname) !== (b.ifname === opts.outgoingIfname)) {
      return a.ifname === opts.outgoingIfname ? -1 : 1;
    }
    // Rule 6: prefer a matching label.
    const la = label(sa) === dLabel;
    const lb = label(sb) === dLabel;
    if (la !== lb) return la ? -1 : 1;
    // Rule 7: temporary addresses first (or last, for a stable source).
    if (a.temporary !== b.temporary) return a.temporary === preferTemporary ? -1 : 1;
    // Rule 8: the longest matching prefix, counted over the source's prefix only.
    const pa = Math.min(commonPrefixLength(sa, d), a.prefixLength);
    const pb = Math.min(commonPrefixLength(sb, d), b.prefixLength);
    if (pa !== pb) return pb - pa;
    return Buffer.compare(sa, sb);
  };
  return addrs.filter((a) => !a.tentative).sort(better)[0];
}
