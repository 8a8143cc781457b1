/**
 * The default gateway per family, where PCP and NAT-PMP requests go (RFC 6887 section 8.1: the
 * PCP server is the default router unless configured otherwise). Read from the kernel's routing
 * tables: /proc/net/route (IPv4) and /proc/net/ipv6_route (IPv6, where the next hop is usually
 * a link-local address that needs its interface as scope: fe80::1%eth0).
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { bytesToIp, canonicalIp, classify, type Family } from '../net/address.js';

export interface Gateway {
  family: Family;
  /** The router's address, canonical, without a zone. */
  address: string;
  ifname: string;
  /** What to send to: the address, with `%ifname` when it is link-local. */
  target: string;
  metric: number;
}

const RTF_UP = 0x1;
const RTF_GATEWAY = 0x2;
const RTF_REJECT = 0x200;

/** The IPv4 default route with the lowest metric, from /proc/net/route's text. */
export function parseRoute4(text: string, littleEndian = endianness() === 'LE'): Gateway | undefined {
  let best: Gateway | undefined;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [ifname, dest, gw, flagsHex, , , metricText, mask] = f as [string, string, string, string, string, string, string, string];
    const flags = parseInt(flagsHex, 16);
    if (dest !== '00000000' || mask !== '00000000' || (flags & (RTF_UP | RTF_GATEWAY)) !== (RTF_UP | RTF_GATEWAY)) continue;
    if (!/^[0-9a-f]{8}$/i.test(gw)) continue;
    // The kernel prints the address as a host-order integer: on little-endian machines the bytes are reversed.
    const bytes = Buffer.from(gw, 'hex');
    if (littleEndian) bytes.reverse();
    const address = bytesToIp(bytes);
    if (address === '0.0.0.0') continue;
    const metric = parseInt(metricText, 10);
    if (!best || metric < best.metric) best = { family: 4, address, ifname, target: address, metric };
  }
  return best;
}

/**
 * The IPv6 default route with the lowest metric, from /proc/net/ipv6_route's text:
 * "dest plen src splen nexthop metric refcnt use flags ifname", addresses as 32 hex digits.
 * Reject routes (the "unreachable" default on lo) and routes without a next hop do not count.
 */
export function parseRoute6(text: string): Gateway | undefined {
  let best: Gateway | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest, plen, , , nextHop, metricHex, , , flagsHex, ifname] = f as [string, string, string, string, string, string, string, string, string, string];
    const flags = parseInt(flagsHex, 16);
    if (!/^0{32}$/.test(dest) || plen !== '00' || ifname === 'lo') continue;
    if ((flags & RTF_UP) === 0 || (flags & RTF_REJECT) !== 0 || !/^[0-9a-f]{32}$/i.test(nextHop) || /^0{32}$/.test(nextHop)) continue;
    const address = bytesToIp(Buffer.from(nextHop, 'hex'));
    const metric = parseInt(metricHex, 16);
    const linkLocal = classify(address)?.kind === 'link-local';
    if (!best || metric < best.metric) best = { family: 6, address, ifname, target: linkLocal ? `${address}%${ifname}` : address, metric };
  }
  return best;
}

function readProc(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** This host's default gateway for `family`, or undefined when there is no default route. */
export function defaultGateway(family: Family): Gateway | undefined {
  return family === 4 ? parseRoute4(readProc('/proc/net/route')) : parseRoute6(readProc('/proc/net/ipv6_route'));
}

/**
 * The local address the kernel sends from toward `target` (a connected UDP socket sends nothing,
 * it only asks the routing table). Undefined when there is no route.
 */
export async function localAddressToward(target: string, family: Family): Promise<string | undefined> {
  const socket = createSocket(family === 4 ? 'udp4' : 'udp6');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(9, target, () => resolve());
    });
    return canonicalIp(socket.address().address);
  } catch {
    return undefined;
  } finally {
    socket.close();
  }
}
