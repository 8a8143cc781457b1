/**
 * The kernel's network: TCP streams (dual-stack listeners, dials with Node's shared read buffer),
 * the UDP socket of each family on the listening port, connected UDP flows, multicast groups on
 * the LAN interfaces, and plain sockets for HTTP. Outgoing connections of a family leave from its local address when one is set (the
 * tunnel's, with source routing).
 */
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Family } from '../../net/address.js';
import type { DatagramChannel, DatagramFlow } from '../datagram.js';
import type { MulticastChannel, MulticastGroup } from '../multicast.js';
import { targetFamily } from '../happy-eyeballs.js';
import { checkOnly, type DialOneOptions, type DialTarget, type Listening, type ListenOptions, type Network, type TrackerNetwork } from '../network.js';
import type { Transport } from '../transport.js';
import { DualStackListener } from './listeners.js';
import { connectSharedRead } from './shared-read.js';
import { TcpTransport } from './tcp-transport.js';
import { KernelMulticastChannel } from './multicast.js';
import { KernelDatagramChannel, openKernelFlow } from './udp.js';

/** A TCP socket for HTTP, connecting. */
export function openKernelStream(target: DialTarget & { family: Family }, localAddress?: string): Duplex {
  return connect({ host: target.host, port: target.port, family: target.family, ...(localAddress ? { localAddress } : {}) });
}

/** The kernel's sockets for trackers, with the kernel's choice of source address. */
export const KERNEL_TRACKER_NETWORK: TrackerNetwork = {
  openStream: (target) => openKernelStream(target),
  openFlow: (family, host, port) => openKernelFlow(family, host, port),
};

export class KernelNetwork implements Network {
  private onStream: (t: Transport) => void = (t) => t.close();
  private readonly listener = new DualStackListener((s) => this.onStream(new TcpTransport(s)));
  private readonly local: Partial<Record<Family, string>> = {};
  /** UDP sockets by "family port", bound on first use. */
  private readonly udp = new Map<string, Promise<KernelDatagramChannel>>();
  /** Multicast groups handed out and not closed yet. */
  private readonly groups = new Set<MulticastChannel>();

  dial(target: DialTarget, opts: DialOneOptions): Promise<Transport> {
    const local = this.local[targetFamily(target)];
    return new Promise((resolve, reject) => {
      checkOnly('tcp', opts);
      if (opts.signal.aborted) return reject(new Error('connect aborted'));
      const s = connectSharedRead({ host: target.host, port: target.port, noDelay: true, ...(local ? { localAddress: local } : {}) });
      const onAbort = () => {
        s.destroy();
        reject(new Error('connect aborted'));
      };
      opts.signal.addEventListener('abort', onAbort, { once: true });
      s.once('connect', () => {
        opts.signal.removeEventListener('abort', onAbort);
        s.removeAllListeners('error');
        resolve(new TcpTransport(s));
      });
      s.once('error', (e) => {
        opts.signal.removeEventListener('abort', onAbort);
        s.destroy();
        reject(e);
      });
    });
  }

  listen(opts: ListenOptions, onStream: (t: Transport) => void): Promise<Listening[]> {
    this.onStream = onStream;
    return this.listener.listen(opts);
  }

  listening(): Listening[] {
    return [...this.listener.listening];
  }

  datagrams(family: Family, port?: number, bindHost?: string): Promise<DatagramChannel> {
    const l = this.listener.listening.find((x) => x.family === family);
    const at = port ?? l?.port;
    if (at === undefined) return Promise.reject(new Error(`not listening over IPv${family}`));
    // On the listening port, the same address as the listener (the demo keeps to loopback).
    const host = bindHost ?? (at === l?.port ? l.address : undefined);
    const key = `${family} ${at}`;
    let bound = this.udp.get(key);
    if (!bound) {
      bound = KernelDatagramChannel.bind(family, at, host);
      this.udp.set(key, bound);
      bound.then(
        // Port 0 picked a port: asking for that port by number is asking for this socket.
        (c) => this.udp.set(`${family} ${c.address().port}`, bound!),
        () => this.udp.delete(key), // a later ask tries again
      );
    }
    return bound;
  }

  async multicast(family: Family, group: MulticastGroup): Promise<MulticastChannel> {
    const channel = await KernelMulticastChannel.open(family, group, () => this.groups.delete(channel));
    this.groups.add(channel);
    return channel;
  }

  openFlow(family: Family, host: string, port: number): Promise<DatagramFlow> {
    return openKernelFlow(family, host, port, this.local[family]);
  }

  openStream(target: DialTarget & { family: Family }): Duplex {
    return openKernelStream(target, this.local[target.family]);
  }

  setLocalAddress(family: Family, address: string | undefined): void {
    if (address) this.local[family] = address;
    else delete this.local[family];
  }

  async close(): Promise<void> {
    const udp = [...new Set(this.udp.values())];
    this.udp.clear();
    const groups = [...this.groups];
    // A listener's close waits for the connections it accepted: their owners close those.
    await Promise.all([this.listener.close(), ...udp.map((c) => c.then((s) => s.close(), () => {})), ...groups.map((g) => g.close())]);
  }
}
