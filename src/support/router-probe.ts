/**
 * `sixswarm support --router`: ask the home router, now, whether it would open a port for us
 * (PCP, then NAT-PMP, then UPnP IGD, per family), then delete what it granted. The only check of
 * the support matrix that sends anything, and only when asked: a short lease on a random high port.
 */
import { randomInt } from 'node:crypto';
import type { Family } from '../net/address.js';
import { PortMapper, type ReachabilityVerdict } from '../portmap/index.js';

/** Per family, what the router granted (and took back at once), or why nothing. */
export async function probeRouter(families: Record<Family, boolean>): Promise<Record<Family, ReachabilityVerdict>> {
  const mapper = new PortMapper({ port: randomInt(40_000, 60_000), families, lifetimeSeconds: 120, transports: ['tcp'], description: 'sixswarm support --router' });
  try {
    await mapper.start();
    return mapper.status();
  } finally {
    await mapper.stop();
  }
}
