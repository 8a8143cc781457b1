/**
 * A Network made of others, one per address family: IPv4 over the kernel's sockets and IPv6 over
 * the tunnel's relays, say. Each call goes to the network of its family; listening spans them on
 * one port (port 0: IPv4's network picks it and IPv6's takes the same, so put the network that
 * can refuse a port, the kernel's, under IPv4, or give both the same one).
 */
import type { Duplex } from 'node:stream';
import type { Family } from '../net/address.js';
import type { DatagramChannel, DatagramFlow } from './datagram.js';
import { targetFamily } from './happy-eyeballs.js';
import type { DialOneOptions, DialTarget, Listening, ListenOptions, Network } from './network.js';
import type { Transport } from './transport.js';

export class ByFamilyNetwork implements Network {
  constructor(private readonly networks: Record<Family, Network>) {}

  /** The networks, each once, IPv4's first (the order listening picks the port in). */
  private distinct(): Array<{ network: Network; families: Family[] }> {
    const out: Array<{ network: Network; families: Family[] }> = [];
    for (const family of [4, 6] as const) {
      const network = this.networks[family];
      const seen = out.find((x) => x.network === network);
      if (seen) seen.families.push(family);
      else out.push({ network, families: [family] });
    }
    return out;
  }

  dial(target: DialTarget, opts: DialOneOptions): Promise<Transport> {
    return this.networks[targetFamily(target)].dial(target, opts);
  }

  async listen(opts: ListenOptions, onStream: (t: Transport) => void): Promise<Listening[]> {
    if (!opts.ipv4 && !opts.ipv6) throw new Error('both IPv4 and IPv6 are turned off: nothing to listen on');
    let port = opts.port;
    for (const { network, families } of this.distinct()) {
      const ipv4 = opts.ipv4 && families.includes(4);
      const ipv6 = opts.ipv6 && families.includes(6);
      if (!ipv4 && !ipv6) continue;
      const got = await network.listen({ ...opts, port, ipv4, ipv6 }, onStream);
      port = got[0]?.port ?? port;
    }
    return this.listening();
  }

  listening(): Listening[] {
    return this.distinct().flatMap(({ network, families }) => network.listening().filter((l) => families.includes(l.family)));
  }

  datagrams(family: Family, port?: number, host?: string): Promise<DatagramChannel> {
    return this.networks[family].datagrams(family, port, host);
  }

  openFlow(family: Family, host: string, port: number): Promise<DatagramFlow> {
    return this.networks[family].openFlow(family, host, port);
  }

  openStream(target: DialTarget & { family: Family }): Duplex {
    return this.networks[target.family].openStream(target);
  }

  setLocalAddress(family: Family, address: string | undefined): void {
    this.networks[family].setLocalAddress(family, address);
  }

  async close(): Promise<void> {
    await Promise.all(this.distinct().map(({ network }) => network.close()));
  }
}
