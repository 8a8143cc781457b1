/** BEP 7 `ipv4=`/`ipv6=`: when we tell a tracker about our address of the other family. */
import { classify, type Family } from '../net/address.js';

export type AnnounceIpPolicy = 'auto' | 'always' | 'never';

export const ANNOUNCE_IP_HELP = [
  '--announce-ip auto|always|never   send our own address of the other family to HTTP trackers',
  '    (BEP 7 ipv6= over IPv4, ipv4= over IPv6), so a tracker that is reachable over one family',
  '    only can still hand out our other address. Only a global unicast address is ever sent',
  '    (never link-local, unique-local, loopback, multicast or v4-mapped).',
  '    auto (default): only when the tracker cannot be reached over that family (no address of',
  '      that family, or the announce over it could not connect); otherwise the per-family',
  '      announce already tells the tracker our address.',
  '    always: on every HTTP announce.  never: not at all.',
  '    Trade-off: BEP 7 now discourages these parameters because a tracker that honours them lets',
  '    anyone announce someone else\'s address (traffic can be pointed at a third party), so many',
  '    trackers ignore them; sending them only helps with trackers that still honour them.',
  '    UDP trackers (BEP 15) have no field for them.',
].join('\n');

/** Our address of `family`, if it is one we may advertise. */
export function advertisable(addr: string | undefined, family: Family): string | undefined {
  if (!addr) return undefined;
  const c = classify(addr);
  return c && c.family === family && c.kind === 'global' ? c.text : undefined;
}

/**
 * The parameters for an announce sent over `over`. `otherUnreachable` says whether this tracker
 * is known to be unreachable over the other family (only consulted for 'auto').
 */
export function ownAddressParams(
  policy: AnnounceIpPolicy,
  over: Family,
  other: string | undefined,
  otherUnreachable: boolean,
): { ipv4?: string; ipv6?: string } {
  const otherFamily: Family = over === 4 ? 6 : 4;
  const addr = advertisable(other, otherFamily);
  if (!addr || policy === 'never' || (policy === 'auto' && !otherUnreachable)) return {};
  return otherFamily === 6 ? { ipv6: addr } : { ipv4: addr };
}
