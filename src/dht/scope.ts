/**
 * Addresses as the DHT judges them. Which IPv4 addresses a DHT node may pass on to us (as nodes
 * or peers): global ones from anyone; private ones only from a node on a private or loopback
 * address; loopback ones only from a loopback node. So a node on the Internet cannot point us at our own LAN or host, while
 * a local test DHT on 127.0.0.1 works as any other. And the /24 an address belongs to: what
 * the routing table and lookups count, beside single IPs, so one network cannot fill them.
 */
import { classify } from '../net/address.js';

export function reachableVia(host: string, via: string): boolean {
  const c = classify(host);
  if (!c || c.family !== 4) return false;
  if (c.kind === 'global') return true;
  const v = classify(via)?.kind;
  if (c.kind === 'private') return v === 'private' || v === 'loopback';
  if (c.kind === 'loopback') return v === 'loopback';
  return false;
}

/** The /24 of an IPv4 address (the text before its last dot). */
export function net24(host: string): string {
  return host.slice(0, host.lastIndexOf('.'));
}
