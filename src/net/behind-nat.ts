/**
 * Whether this host reaches the IPv4 Internet through a NAT: it has IPv4 addresses of its own,
 * none of them global (a home LAN's 192.168/16, a carrier's 100.64/10). Read from the interfaces,
 * at most once every CHECK_MS (a laptop moves between networks; a dial must not list them each time).
 */
import { interfaceAddresses } from './interfaces.js';

const CHECK_MS = 10_000;
let checkedAt = -Infinity;
let behind = false;

export function behindIpv4Nat(): boolean {
  const now = performance.now();
  if (now - checkedAt >= CHECK_MS) {
    checkedAt = now;
    const kinds = interfaceAddresses()
      .filter((a) => a.family === 4)
      .map((a) => a.kind);
    behind = kinds.length > 0 && !kinds.includes('global');
  }
  return behind;
}
