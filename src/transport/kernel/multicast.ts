/**
 * The kernel's multicast group of one family: one socket that receives (bound to the group's
 * address where the kernel allows it, so unicast datagrams to the port never reach it; else to the
 * wildcard, with SO_REUSEADDR either way, so other clients on this host can listen too), joined on
 * every LAN interface, and one sending socket per interface (a send names no interface: the
 * socket's multicast interface decides, and Node applies a send a tick after it is asked for, so
 * switching one socket between interfaces would send out of the wrong one). Sends stay on the
 * link (TTL / hop limit 1) and are not looped back to this host. A datagram whose source is not on
 * a joined interface's network (or IPv6 link-local) is dropped: the group is a LAN's. The
 * receiving buffer is as large as the shared UDP socket's (udp.ts): a host's burst would fill the
 * default one between two turns of the event loop, and an honest announce then be lost.
 */
import dgram from 'node:dgram';
import { subnetMatcher, unmapIp, type Family } from '../../net/address.js';
import { errorMessage } from '../../util/errors.js';
import type { DatagramSource } from '../datagram.js';
import type { GroupInterface, MulticastChannel, MulticastGroup, MulticastSent } from '../multicast.js';
import { lanInterfaces, type LanInterface } from './lan-interfaces.js';
import { RECEIVE_BUFFER_BYTES } from './udp.js';

interface Joined {
  iface: LanInterface;
  /** IPv4: the address the membership was taken with (and the sender is bound to). */
  address: string;
  sender: dgram.Socket;
}

function socketType(family: Family): 'udp4' | 'udp6' {
  return family === 6 ? 'udp6' : 'udp4';
}

function bind(socket: dgram.Socket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => reject(e);
    socket.once('error', fail);
    socket.bind(port, host, () => {
      socket.off('error', fail);
      resolve();
    });
  });
}

function closeSocket(s: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/** What identifies an interface across looks: its name and index (a device made anew under the same name is another). */
const keyOf = (i: LanInterface) => `${i.name}#${i.index}`;

export class KernelMulticastChannel implements MulticastChannel {
  private readonly joined = new Map<string, Joined>();
  private handler: (b: Buffer, from: DatagramSource) => void = () => {};
  private refreshing: Promise<string[]> = Promise.resolve([]);
  /** Whether a source is on a joined interface's network (IPv6 link-local sources pass before it is asked). */
  private onNetwork: (host: string) => boolean = () => false;
  private closed = false;

  private constructor(
    readonly family: Family,
    private readonly group: MulticastGroup,
    private readonly receiver: dgram.Socket,
    private readonly onClose: () => void,
  ) {
    receiver.on('message', (b, rinfo) => {
      const host = unmapIp(rinfo.address);
      if (this.onLan(host)) this.handler(b, { host, port: rinfo.port });
    });
    // Errors of a receiving UDP socket are ICMP reports at most: nothing to do about them.
    receiver.on('error', () => {});
  }

  /** Bind the group's port (the group's address, else the wildcard) and join it on every LAN interface of the family. */
  static async open(family: Family, group: MulticastGroup, onClose: () => void = () => {}): Promise<KernelMulticastChannel> {
    let receiver = dgram.createSocket({ type: socketType(family), reuseAddr: true, ipv6Only: family === 6, recvBufferSize: RECEIVE_BUFFER_BYTES });
    try {
      await bind(receiver, group.port, group.address);
    } catch {
      await closeSocket(receiver);
      receiver = dgram.createSocket({ type: socketType(family), reuseAddr: true, ipv6Only: family === 6, recvBufferSize: RECEIVE_BUFFER_BYTES });
      try {
        await bind(receiver, group.port, family === 6 ? '::' : '0.0.0.0');
      } catch (e) {
        await closeSocket(receiver);
        throw new Error(`cannot bind UDP port ${group.port} over IPv${family}: ${errorMessage(e)}`);
      }
    }
    const channel = new KernelMulticastChannel(family, group, receiver, onClose);
    await channel.refresh();
    return channel;
  }

  interfaces(): GroupInterface[] {
    return [...this.joined.values()].map((j) => ({ name: j.iface.name, address: j.address }));
  }

  onMessage(handler: (b: Buffer, from: DatagramSource) => void): void {
    this.handler = handler;
  }

  refresh(): Promise<string[]> {
    // One look at a time: two at once would join an interface twice.
    this.refreshing = this.refreshing.then(
      () => this.look(),
      () => this.look(),
    );
    return this.refreshing;
  }

  async send(b: Buffer): Promise<MulticastSent> {
    const out: MulticastSent = { sent: 0, failed: [] };
    await Promise.all(
      [...this.joined.values()].map(
        (j) =>
          new Promise<void>((resolve) => {
            const done = (e: Error | null) => {
              if (e) out.failed.push(`${j.iface.name}: ${e.message}`);
              else out.sent++;
              resolve();
            };
            try {
              j.sender.send(b, this.group.port, this.group.address, done);
            } catch (e) {
              done(e as Error); // closed meanwhile
            }
          }),
      ),
    );
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    await this.refreshing.catch(() => {});
    const senders = [...this.joined.values()].map((j) => closeSocket(j.sender));
    this.joined.clear();
    // Closing the receiver leaves every group it joined.
    await Promise.all([...senders, closeSocket(this.receiver)]);
  }

  /** A source on a joined interface's network (IPv6 link-local: on the link by definition). */
  private onLan(host: string): boolean {
    return (this.family === 6 && /^fe[89ab]/i.test(host)) || this.onNetwork(host);
  }

  private async look(): Promise<string[]> {
    if (this.closed) return [];
    const now = new Map(lanInterfaces(this.family).map((i) => [keyOf(i), i]));
    for (const [key, j] of this.joined) {
      const still = now.get(key);
      if (still && (this.family === 6 || still.addresses[0]!.address === j.address)) {
        // Its networks may have changed; IPv6 joins by index, its address is only what it is known by.
        j.iface = still;
        j.address = still.addresses[0]!.address;
        continue;
      }
      this.joined.delete(key);
      this.leave(j);
      await closeSocket(j.sender);
    }
    const added: string[] = [];
    for (const [key, iface] of now) {
      if (this.joined.has(key)) continue;
      const j = await this.join(iface);
      if (this.closed) {
        if (j) await closeSocket(j.sender);
        return [];
      }
      if (!j) continue;
      this.joined.set(key, j);
      added.push(iface.name);
    }
    this.onNetwork = subnetMatcher([...this.joined.values()].flatMap((j) => j.iface.addresses));
    return added;
  }

  /** The membership (IPv4: by the interface's address; IPv6: by its index) and a sender out of it; undefined when the kernel refuses. */
  private async join(iface: LanInterface): Promise<Joined | undefined> {
    const address = iface.addresses[0]!.address;
    const via = this.family === 6 ? `::%${iface.name}` : address;
    try {
      this.receiver.addMembership(this.group.address, via);
    } catch (e) {
      // Already a member there (the interface's address changed, the old membership stayed): fine.
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') return undefined;
    }
    const sender = dgram.createSocket({ type: socketType(this.family), ipv6Only: this.family === 6 });
    sender.on('error', () => {}); // a send's failure comes to its callback
    try {
      // IPv4: from the interface's address, so the source is on the LAN's network; IPv6: the kernel picks by scope.
      await bind(sender, 0, this.family === 6 ? '::' : address);
      sender.setMulticastInterface(via);
      sender.setMulticastTTL(1);
      sender.setMulticastLoopback(false);
    } catch {
      await closeSocket(sender);
      this.leave({ iface, address, sender });
      return undefined;
    }
    return { iface, address, sender };
  }

  private leave(j: Joined): void {
    try {
      this.receiver.dropMembership(this.group.address, this.family === 6 ? `::%${j.iface.name}` : j.address);
    } catch {
      // The interface (or its address) is gone, and the membership with it.
    }
  }
}
