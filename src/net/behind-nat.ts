/**
 * Whether this host reaches the IPv4 Internet through a NAT: it has IPv4 addresses of its own,
 * none of them global (a home LAN's 192.168/16, a carrier's 100.64/10). Read from the interfaces,
 * at most once every CHECK_MS (a laptop moves between networks; a dial must not list them each time).
 */
import { networkInterfaces } from 'node:os';
import { classify } from './address.js';

const CHECK_MS = 10_000;
let checkedAt = -Infinity;
let behind = false;

export function behindIpv4Nat(now = performance.now()): boolean {
  if (now - checkedAt >= CHECK_MS) {
    checkedAt = now;
    const kinds = Object.values(networkInterfaces())
      .flatMap((list) => list ?? [])
      .filter((a) => !a.internal)
      .map((a) => classify(a.address))
      .filter((c) => c?.family === 4)
      .map((c) => c!.kind);
    behind = kinds.length > 0 && !kinds.includes('global');
  }
  return behind;
}
