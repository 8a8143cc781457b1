/**
 * The seam between the tunnel and the engine: the network the engine runs on (in the tunnel's
 * stream mode, IPv6 goes over the tunnel's relays and IPv4 over the kernel), and, when the
 * tunnel is up, its address becomes one of ours (advertised in BEP 10 and ipv6=, used for
 * outgoing IPv6), the trackers hear from us over IPv6 soon, and peers dialed before it was up
 * (unreachable then) are dialed again at once. The engine never looks at the tunnel itself.
 */
import { ByFamilyNetwork } from '../transport/by-family.js';
import { KernelNetwork } from '../transport/kernel/kernel-network.js';
import type { Network } from '../transport/network.js';
import type { TunnelClient, TunnelStatus } from '../tunnel/client.js';
import type { Engine } from './engine.js';
import { peerNetwork, type TransportSet } from '../utp/tcp-and-utp-network.js';

/**
 * What the engine dials and listens on with `tunnel` (not started yet): the kernel's sockets unless
 * the tunnel relays IPv6, with the peer transports `transports` names (TCP, uTP on the same
 * port's UDP sockets, or both).
 */
export function networkFor(tunnel: TunnelClient | undefined, transports: TransportSet | undefined): Network {
  const kernel = new KernelNetwork();
  return peerNetwork(tunnel?.network ? new ByFamilyNetwork({ 4: kernel, 6: tunnel.network }) : kernel, transports);
}

/**
 * Ties a started tunnel to `engine` and sends its status changes to `report`. The stream mode
 * connects in the background of start(), so the tunnel may be up already: that state counts too.
 */
export function bindTunnel(engine: Engine, tunnel: TunnelClient, report: (status: TunnelStatus) => void): void {
  const adopt = (address: string) => {
    engine.ownAddresses.set(6, address);
    // With source routing (the host has other IPv6 routes) only connections from this address use the tunnel.
    if (tunnel.status().routing === 'source') engine.network.setLocalAddress(6, address);
    engine.announceSoon();
    engine.redialFailedPeers(6);
  };
  tunnel.on('up', ({ address }) => adopt(address));
  tunnel.on('status', report);
  const now = tunnel.status();
  if (now.state === 'idle') return;
  if (now.state === 'up' && now.address) adopt(now.address);
  report(now);
}
