/** Whether an address handed to us (by a tracker, by PEX) is ourselves. */
import { networkInterfaces } from 'node:os';
import { canonicalIp, type Family } from './address.js';

/** host:port is one of our listeners: our port, on an address we configured or one of our interfaces holds. */
export function isSelfAddress(host: string, port: number, ourPort: number, own: Partial<Record<Family, string>>): boolean {
  if (port !== ourPort) return false;
  const h = canonicalIp(host);
  if (!h) return false;
  if (h === own[4] || h === own[6]) return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => canonicalIp(a.address) === h));
}
