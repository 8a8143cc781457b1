/**
 * The seam between the tunnel and the engine: when the tunnel is up, its address becomes one of
 * ours (advertised in BEP 10 and ipv6=, used for outgoing IPv6), the trackers hear from us
 * over IPv6 soon, and peers dialed before it was up (unreachable then) are dialed again at once.
 * The engine never looks at the tunnel itself.
 */
import type { TunnelClient } from '../tunnel/client.js';
import type { Engine } from './engine.js';

export function bindTunnel(engine: Engine, tunnel: TunnelClient): void {
  tunnel.on('up', ({ address }) => {
    engine.ownAddresses.set(6, address);
    // With source routing (the host has other IPv6 routes) only connections from this address use the tunnel.
    if (tunnel.status().routing === 'source') engine.network.setLocalAddress(6, address);
    engine.announceSoon();
    engine.redialFailedPeers();
  });
}
