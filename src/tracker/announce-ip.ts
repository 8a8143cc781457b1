/** BEP 7 `ipv4=`/`ipv6=`: when we tell a tracker about our address of the other family. */
import { classify, type Family } from '../net/address.js';

export type AnnounceIpPolicy = 'auto' | 'always' | 'never';

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
