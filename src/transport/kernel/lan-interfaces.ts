/**
 * The interfaces a LAN protocol (multicast discovery) may use: up, able to multicast, not
 * loopback and not point-to-point (a VPN or our own tunnel is no LAN: announcing there tells a
 * provider's server what we share), with at least one address of the family. Node lists only
 * interfaces that are up and running; Linux tells the rest in /sys/class/net/NAME/flags (where
 * that cannot be read, an interface Node lists counts).
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { classify, type Family } from '../../net/address.js';

/** IFF_* bits of <linux/if.h>. */
const IFF_LOOPBACK = 0x8;
const IFF_POINTOPOINT = 0x10;
const IFF_MULTICAST = 0x1000;

export interface LanAddress {
  address: string;
  /** Prefix length of its network. */
  prefix: number;
}

export interface LanInterface {
  name: string;
  /** The kernel's index, 0 where unknown: a name given to another device later has another index. */
  index: number;
  /** Its addresses of the family, link-local ones last (the first is the one it is known by, and IPv4 sends from). */
  addresses: LanAddress[];
}

function sysNumber(name: string, file: string): number | undefined {
  try {
    const n = Number(readFileSync(`/sys/class/net/${name}/${file}`, 'utf8').trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the kernel's flags let a LAN protocol use the interface (unknown flags: yes). */
function lanFlags(name: string): boolean {
  // A name from the kernel, but read as a path: nothing that could leave /sys/class/net.
  if (name.includes('/') || name === '.' || name === '..') return false;
  const flags = sysNumber(name, 'flags');
  if (flags === undefined) return true;
  return (flags & IFF_MULTICAST) !== 0 && (flags & (IFF_LOOPBACK | IFF_POINTOPOINT)) === 0;
}

/** The LAN interfaces of a family, now. */
export function lanInterfaces(family: Family): LanInterface[] {
  const out: LanInterface[] = [];
  for (const [name, list] of Object.entries(networkInterfaces())) {
    const addresses: (LanAddress & { linkLocal: boolean })[] = [];
    for (const a of list ?? []) {
      const c = classify(a.address);
      const prefix = Number(a.cidr?.split('/')[1]);
      if (a.internal || c?.family !== family || !Number.isInteger(prefix)) continue;
      addresses.push({ address: c.text, prefix, linkLocal: c.kind === 'link-local' });
    }
    addresses.sort((x, y) => Number(x.linkLocal) - Number(y.linkLocal));
    if (addresses.length === 0 || !lanFlags(name)) continue;
    out.push({ name, index: sysNumber(name, 'ifindex') ?? 0, addresses: addresses.map(({ address, prefix }) => ({ address, prefix })) });
  }
  return out;
}
