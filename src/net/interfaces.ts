/** The addresses on this host's interfaces, classified (what the network panel lists, what NAT detection reads). */
import { networkInterfaces } from 'node:os';
import { classify, type AddressKind, type Family } from './address.js';

export interface InterfaceAddress {
  family: Family;
  address: string;
  kind: AddressKind;
  ifname: string;
}

/** Every address on our interfaces but loopback, with its class. */
export function interfaceAddresses(): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const [ifname, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) {
      const c = classify(a.address);
      if (!c || a.internal || c.kind === 'loopback') continue;
      out.push({ family: c.family, address: c.text, kind: c.kind, ifname });
    }
  }
  return out;
}
