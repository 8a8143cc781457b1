/**
 * The addresses a wildcard UDP bind of the tracker stands for. A reply from a socket bound to
 * 0.0.0.0 or :: leaves from the address the kernel's routing picks, which on a host with several
 * addresses of a family (a secondary IPv4 address, IPv6 privacy or renumbered addresses) need not
 * be the one the client asked; clients (connected sockets, libtorrent) drop such replies. So the
 * tracker binds one UDP socket per address instead, and looks again now and then.
 */
import { networkInterfaces } from 'node:os';
import { classify, type Family } from '../../net/address.js';

export const WILDCARD: Record<Family, string> = { 4: '0.0.0.0', 6: '::' };

/**
 * The host's addresses of a family, loopback included. Link-local ones are left out: a datagram
 * to one names its interface, which a socket bound without a zone cannot answer from.
 */
export function udpAddresses(family: Family): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const c = classify(a.address);
      if (!c || c.family !== family || c.kind === 'link-local') continue;
      out.add(c.text);
    }
  }
  return [...out];
}
