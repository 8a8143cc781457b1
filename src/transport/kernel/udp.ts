/**
 * The kernel's UDP: a bound socket per family shared by the protocols on our port (routed by
 * first bytes, ../datagram.ts), and connected sockets for flows to one endpoint.
 */
import dgram from 'node:dgram';
import type { UdpAddon } from '../../../native/sixswarm_udp.js';
import type { Family } from '../../net/address.js';
import { ipToBytes, unmapIp } from '../../net/address.js';
import { loadNativeAddon } from '../../util/native-addon.js';
import { DatagramRoutes, type DatagramChannel, type DatagramFlow, type DatagramHandler, type DatagramKind, type DatagramSource } from '../datagram.js';

const RECEIVE_BUFFER = 4 * 1024 * 1024;
const SEND_BUFFER = 1024 * 1024;

/** Addresses parsed for the native sends, kept for the next batch to the same peer. */
const ADDRESS_CACHE = 1024;

export class KernelDatagramChannel implements DatagramChannel {
  private readonly routes = new DatagramRoutes();
  readonly sendMany?: (packets: readonly Buffer[], lengths: Uint32Array, count: number, port: number, host: string) => number;
  readonly sendProbe?: (packet: Buffer, length: number, port: number, host: string) => boolean;
  private readonly addresses = new Map<string, Buffer | undefined>();

  private constructor(
    readonly family: Family,
    private readonly socket: dgram.Socket,
  ) {
    socket.on('message', (b, rinfo) => this.routes.deliver(b, { host: unmapIp(rinfo.address), port: rinfo.port }));
    const addon = loadNativeAddon<UdpAddon>('sixswarm_udp').addon;
    const fd = addon ? descriptor(socket) : undefined;
    if (addon && fd !== undefined) {
      this.sendMany = (packets, lengths, count, port, host) => {
        const address = this.address4or6(host);
        if (!address) return 0;
        const n = addon.sendMany(fd, address, port, packets, lengths, count);
        return n < 0 ? 0 : n; // the socket is unusable: send() reports why
      };
      this.sendProbe = (packet, length, port, host) => {
        const address = this.address4or6(host);
        return address !== undefined && addon.sendProbe(fd, address, port, packet, length) === 0;
      };
    }
  }

  private address4or6(host: string): Buffer | undefined {
    let b = this.addresses.get(host);
    if (b === undefined && !this.addresses.has(host)) {
      if (this.addresses.size >= ADDRESS_CACHE) this.addresses.clear();
      b = ipToBytes(host);
      this.addresses.set(host, b);
    }
    return b;
  }

  /** Bind a socket of one family to `port` (0: any) on `host` (default the wildcard). */
  static bind(family: Family, port: number, host?: string): Promise<KernelDatagramChannel> {
    // uTP streams through this socket: the default 208 KiB receive buffer holds about 2 ms of a
    // fast transfer, and a busy event loop would drop what arrives meanwhile. The kernel caps
    // both at net.core.rmem_max / wmem_max.
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6, recvBufferSize: RECEIVE_BUFFER, sendBufferSize: SEND_BUFFER });
    return new Promise((resolve, reject) => {
      socket.once('error', (e) => {
        socket.close();
        reject(e);
      });
      socket.bind(port, host ?? (family === 6 ? '::' : '0.0.0.0'), () => {
        socket.removeAllListeners('error');
        resolve(new KernelDatagramChannel(family, socket));
      });
    });
  }

  address(): DatagramSource {
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  send(b: Buffer, port: number, host: string, done?: (err: Error | null) => void): void {
    this.socket.send(b, port, host, (err) => done?.(err ?? null));
  }

  receive(kind: DatagramKind, handler: DatagramHandler): () => void {
    return this.routes.set(kind, handler);
  }

  onError(handler: (e: Error) => void): void {
    this.socket.on('error', handler);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }
}

/** A connected socket: only its endpoint's datagrams arrive, and ICMP errors come back as errors. */
export function openKernelFlow(family: Family, host: string, port: number, localAddress?: string): Promise<DatagramFlow> {
  const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
  const close = () => {
    try {
      socket.close();
    } catch {
      // Already closed: nothing left to release.
    }
  };
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => {
      close();
      reject(e);
    };
    socket.once('error', fail);
    const connect = () =>
      socket.connect(port, host, () => {
        socket.off('error', fail);
        resolve({
          send: (b, done) => socket.send(b, (err) => done?.(err ?? null)),
          onMessage: (h) => socket.on('message', (b) => h(b)),
          onError: (h) => socket.on('error', h),
          close,
        });
      });
    if (localAddress) socket.bind(0, localAddress, connect);
    else connect();
  });
}

/**
 * The descriptor of a bound dgram socket, for the native sends. Node offers no public way: its
 * handle hangs off the socket under an internal symbol (lib/dgram.js `kStateSymbol`; the
 * `_handle` getter does the same but warns DEP0112). Undefined when that ever changes.
 */
function descriptor(socket: dgram.Socket): number | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const handle = state && (socket as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[state]?.handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
