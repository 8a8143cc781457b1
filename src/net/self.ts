/** Whether an address handed to us (by a tracker, by PEX, by a peer about itself) is ourselves. */
import { networkInterfaces } from 'node:os';
import { canonicalIp, type Family } from './address.js';

/** host:port is one of our listeners: our port, on an address we configured or one of our interfaces holds. */
export function isSelfAddress(host: string, port: number, ourPort: number, own: Partial<Record<Family, string>>): boolean {
  return selfAddressCheck(ourPort, own)(host, port);
}

/** The same test for a batch of addresses (a PEX message): the interfaces are listed once, and only if needed. */
export function selfAddressCheck(ourPort: number, own: Partial<Record<Family, string>>): (host: string, port: number) => boolean {
  const ours = ownAddressCheck(own);
  return (host, port) => port === ourPort && ours(host);
}

/** host is an address of this host: one we configured, or one an interface holds (listed on first use). */
export function ownAddressCheck(own: Partial<Record<Family, string>>): (host: string) => boolean {
  let ours: Set<string> | undefined;
  return (host) => {
    const h = canonicalIp(host);
    if (!h) return false;
    ours ??= new Set([own[4], own[6], ...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => canonicalIp(a.address)))].filter((a): a is string => !!a));
    return ours.has(h);
  };
}
