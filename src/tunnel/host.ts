/**
 * What the tunnel client needs to know about its host: the Id it introduces itself with (the
 * MAC of its uplink, as the original client does), whether IPv6 already works natively, and
 * whether a prefix from the server would collide with a network the host already has.
 */
import { readdir, readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { ipToBytes, isGlobalUnicast } from '../net/address.js';
import { addresses6, defaultRouteDevice4 } from './iproute.js';
import { key64, type Prefix } from './prefix.js';

const SYS_NET = '/sys/class/net';
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

async function macOf(dev: string): Promise<string | undefined> {
  try {
    const mac = (await readFile(join(SYS_NET, dev, 'address'), 'utf8')).trim().toLowerCase();
    return MAC.test(mac) && mac !== '00:00:00:00:00:00' ? mac : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The default tunnel Id: the MAC (lower-case, colon separated) of the interface holding the
 * IPv4 default route, else of the first interface that has one. Throws when none has a MAC.
 */
export async function defaultTunnelId(): Promise<string> {
  const uplink = await defaultRouteDevice4().catch(() => undefined);
  if (uplink) {
    const mac = await macOf(uplink);
    if (mac) return mac;
  }
  const devices = await readdir(SYS_NET).catch(() => [] as string[]);
  const indexed = await Promise.all(
    devices.map(async (dev) => ({ dev, index: Number(await readFile(join(SYS_NET, dev, 'ifindex'), 'utf8').catch(() => 'NaN')) })),
  );
  for (const { dev } of indexed.filter((d) => Number.isFinite(d.index)).sort((a, b) => a.index - b.index)) {
    if (dev === 'lo') continue;
    const mac = await macOf(dev);
    if (mac) return mac;
  }
  throw new Error('no network interface with a MAC address to use as the tunnel Id: pass one with --id');
}

/** Whether any interface has a global unicast IPv6 address (then `--tunnel auto` stays off). */
export function hostHasGlobalIPv6(): boolean {
  return Object.values(networkInterfaces()).some((addrs) =>
    (addrs ?? []).some((a) => a.family === 'IPv6' && !a.internal && isGlobalUnicast(a.address)),
  );
}

/**
 * An IPv6 address of an interface other than `ownDevice` (up or down) that overlaps `prefix`
 * (it lies in the /64, or its on-link prefix contains the /64), as "ADDR/LEN on DEV";
 * undefined if none. Such a prefix would steal that network's traffic into the tunnel.
 */
export async function overlappingAddress(prefix: Prefix, ownDevice: string): Promise<string | undefined> {
  for (const a of await addresses6()) {
    const bytes = a.dev === ownDevice ? undefined : ipToBytes(a.address);
    if (!bytes) continue;
    const bits = BigInt(Math.max(0, Math.min(a.prefixLength, 64)));
    // The upper `bits` of the 64-bit key; `bits` 0 (an on-link ::/0) overlaps everything.
    const mask = ((1n << bits) - 1n) << (64n - bits);
    if ((key64(bytes) & mask) === (prefix.key & mask)) return `${a.address}/${a.prefixLength} on ${a.dev}`;
  }
  return undefined;
}
