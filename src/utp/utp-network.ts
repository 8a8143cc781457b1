/**
 * uTP as a Network: streams dialed and accepted over uTP on the UDP socket of each family that a
 * base network (the kernel's) owns, the socket the DHT shares. Everything else (UDP sockets,
 * tracker flows and streams, the source address) is the base's. `new UtpNetwork(new
 * KernelNetwork())` gives an engine that speaks uTP only; a network that speaks TCP and uTP
 * listens through its base first and then calls `accept` here for each family, and dials with
 * `dial` beside the base's own.
 */
import { randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { canonicalIp, familyOf, type Family } from '../net/address.js';
import type { DatagramChannel, DatagramFlow } from '../transport/datagram.js';
import type { MulticastChannel, MulticastGroup } from '../transport/multicast.js';
import { checkOnly, type DialOneOptions, type DialTarget, type Listening, type ListenOptions, type Network } from '../transport/network.js';
import type { Transport } from '../transport/transport.js';
import { UtpSocket, type UtpSocketOptions, type UtpSocketStats } from './socket.js';
import { UtpTransport } from './utp-transport.js';

export class UtpNetwork implements Network {
  readonly transports = ['utp'] as const;
  /** The uTP socket on each family's UDP socket, made on first use. */
  private readonly sockets = new Map<Family, Promise<UtpSocket>>();
  private readonly bound: Listening[] = [];
  private onStream: (t: Transport) => void = (t) => t.close();
  private closed = false;
  /** The base's multicast groups (local peer discovery), where it has them. */
  readonly multicast?: (family: Family, group: MulticastGroup) => Promise<MulticastChannel>;

  constructor(
    readonly base: Network,
    private readonly opts: UtpSocketOptions = {},
  ) {
    if (base.multicast) this.multicast = (family, group) => base.multicast!(family, group);
  }

  async dial(target: DialTarget, opts: DialOneOptions): Promise<Transport> {
    checkOnly('utp', opts);
    const family = familyOf(target.host);
    const host = canonicalIp(target.host);
    if (!family || !host) throw new Error(`uTP dials IP addresses, not "${target.host}"`);
    const socket = await this.socket(family, true);
    const conn = await socket.connect(host, target.port, opts.signal);
    return new UtpTransport(conn, socket.channel.address().host);
  }

  /**
   * Bind the UDP socket of each family asked (port 0: one port free on both) and accept uTP on
   * it. Nothing listens on TCP.
   */
  async listen(opts: ListenOptions, onStream: (t: Transport) => void): Promise<Listening[]> {
    if (!opts.ipv4 && !opts.ipv6) throw new Error('both IPv4 and IPv6 are turned off: nothing to listen on');
    this.onStream = onStream;
    // IPv4 first: under a network made of one per family, the kernel's is IPv4's and picks port 0.
    const families: Family[] = [...(opts.ipv4 ? [4 as const] : []), ...(opts.ipv6 ? [6 as const] : [])];
    for (let attempt = 0; ; attempt++) {
      // Port 0: the first family's socket picks one; if the other family has it taken, try
      // random ports (the base keeps a port-0 socket as that port: asking again gives the same).
      let port = opts.port === 0 && attempt > 0 ? randomInt(49152, 65536) : opts.port;
      try {
        for (const family of families) {
          const host = family === 6 ? opts.host6 : opts.host4;
          const channel = await this.base.datagrams(family, port, host);
          port = channel.address().port;
          await this.accept(family, onStream, channel);
        }
        return this.listening();
      } catch (e) {
        // A UDP socket bound by a failed attempt stays with the base until it closes.
        if (opts.port !== 0 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw describe(e, opts.port);
        for (const family of families) await this.unbind(family);
      }
    }
  }

  /**
   * Accept uTP connections on a family's UDP socket (`channel`, or the base's on its listening
   * port), each handed to `onStream` once the peer has confirmed its address.
   */
  async accept(family: Family, onStream: (t: Transport) => void, channel?: DatagramChannel): Promise<void> {
    this.onStream = onStream;
    const socket = await this.socket(family, false, channel);
    socket.listen((conn) => this.onStream(new UtpTransport(conn, socket.channel.address().host)));
    const a = socket.channel.address();
    if (!this.bound.some((l) => l.family === family)) this.bound.push({ family, address: a.host, port: a.port });
  }

  listening(): Listening[] {
    return [...this.bound];
  }

  /** The family's UDP socket; by default on the port uTP listens on. */
  datagrams(family: Family, port?: number, host?: string): Promise<DatagramChannel> {
    return this.base.datagrams(family, port ?? this.bound.find((l) => l.family === family)?.port, host);
  }

  openFlow(family: Family, host: string, port: number): Promise<DatagramFlow> {
    return this.base.openFlow(family, host, port);
  }

  openStream(target: DialTarget & { family: Family }): Duplex {
    return this.base.openStream(target);
  }

  setLocalAddress(family: Family, address: string | undefined): void {
    this.base.setLocalAddress(family, address);
  }

  /** Counters of each family's uTP socket (made so far). */
  async stats(): Promise<Partial<Record<Family, UtpSocketStats>>> {
    const out: Partial<Record<Family, UtpSocketStats>> = {};
    for (const [family, s] of this.sockets) out[family] = (await s).stats;
    return out;
  }

  /** Every uTP connection ends (a RESET tells each peer), then the base closes its sockets. */
  async close(): Promise<void> {
    await this.shutdown();
    await this.base.close();
  }

  /**
   * Every uTP connection ends (a RESET tells each peer) and nothing more is accepted or dialed;
   * the base and its UDP sockets stay (for a network that composes TCP and uTP over one base and
   * closes that itself).
   */
  async shutdown(): Promise<void> {
    this.closed = true;
    const sockets = [...this.sockets.values()];
    this.sockets.clear();
    for (const s of sockets) (await s.catch(() => undefined))?.close();
  }

  /**
   * The uTP socket of a family. Dialing before listening uses the base's UDP socket on its
   * listening port, or one on any port when the base listens nowhere.
   */
  private socket(family: Family, dialing: boolean, channel?: DatagramChannel): Promise<UtpSocket> {
    if (this.closed) return Promise.reject(new Error('the uTP network is closed'));
    let s = this.sockets.get(family);
    if (s) return s;
    s = (async () => {
      let c = channel;
      if (!c) {
        const port = this.bound.find((l) => l.family === family)?.port;
        c = await this.base.datagrams(family, port).catch((e: Error) => {
          if (!dialing) throw e;
          return this.base.datagrams(family, 0);
        });
      }
      return new UtpSocket(c, this.opts);
    })();
    this.sockets.set(family, s);
    s.catch(() => this.sockets.delete(family));
    return s;
  }

  /**
   * Stop accepting on every family (a network that composes TCP and uTP undoes a listen whose
   * TCP half failed, to try another port); the UDP sockets stay with the base.
   */
  async unlisten(): Promise<void> {
    for (const l of [...this.bound]) await this.unbind(l.family);
  }

  /** Undo a family's listening after a failed attempt (its UDP socket stays with the base). */
  private async unbind(family: Family): Promise<void> {
    const s = this.sockets.get(family);
    this.sockets.delete(family);
    (await s?.catch(() => undefined))?.close();
    const i = this.bound.findIndex((l) => l.family === family);
    if (i >= 0) this.bound.splice(i, 1);
  }
}

function describe(e: unknown, port: number): Error {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EADDRINUSE') return Object.assign(new Error(`UDP port ${port} is already in use; pick another with --port`), { code: err.code, port });
  if (err.code === 'EACCES') return new Error(`no permission to use UDP port ${port}; use a port above 1023`);
  return err;
}
