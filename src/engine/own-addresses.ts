/**
 * Our own global addresses per family, which we may tell others about (BEP 10 `ipv4`/`ipv6`,
 * tracker `ipv4=`/`ipv6=`). Only addresses configured on a local interface count as verified;
 * an address a peer claims to see us at (`yourip`) is never advertised on its word alone.
 */
import type { Family } from '../net/address.js';
import { interfaceAddresses } from '../net/interfaces.js';

export class OwnAddresses {
  private readonly extra: Partial<Record<Family, string>> = {};

  /** An address we configured ourselves (the tunnel's prefix::1). */
  set(family: Family, address: string | undefined): void {
    if (address) this.extra[family] = address;
    else delete this.extra[family];
  }

  /** The first global unicast address per family: our own additions first, then the interfaces. */
  get(): Partial<Record<Family, string>> {
    const out: Partial<Record<Family, string>> = { ...this.extra };
    for (const a of interfaceAddresses()) if (a.kind === 'global') out[a.family] ??= a.address;
    return out;
  }
}
