/**
 * What the tunnel client needs to know about its host: the Id it introduces itself with (the
 * MAC of its uplink, as the original client does) and whether IPv6 already works natively.
 */
import { readdir, readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { isGlobalUnicast } from '../net/address.js';
import { defaultRouteDevice4 } from './iproute.js';

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
