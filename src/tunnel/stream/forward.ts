/**
 * `tunnel up --forward`: connections to our address in the tunnel (prefix::1) on a port are
 * handed to a TCP port of this host, so a program that knows nothing of the tunnel (a web
 * server, another BitTorrent client) is reachable over IPv6 without root.
 */
import { connect } from 'node:net';
import type { TunnelStreamNetwork } from './stream-network.js';
import type { RelayedTransport } from './relayed-transport.js';
import { splice } from './splice.js';

export interface Forward {
  /** The port at prefix::1. */
  port: number;
  /** Where its connections go on this host. */
  to: { host: string; port: number };
}

/** Listens on `f.port` of the stream network; each connection goes to `f.to`. `failed` hears why one could not. */
export async function forwardPort(network: TunnelStreamNetwork, f: Forward, failed: (why: string) => void): Promise<void> {
  await network.listen({ port: f.port, ipv4: false, ipv6: true }, (t) => {
    const stream = t as RelayedTransport;
    const local = connect({ host: f.to.host, port: f.to.port });
    local.once('connect', () => splice(stream, local));
    local.once('error', (e) => {
      if (local.connecting) {
        failed(`[${stream.remote.host}]:${stream.remote.port} -> ${f.to.host}:${f.to.port}: ${e.message}`);
        stream.close();
      }
    });
  });
}
