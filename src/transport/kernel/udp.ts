/**
 * The kernel's UDP: a bound socket per family shared by the protocols on our port (routed by
 * first bytes, ../datagram.ts), read and written in batches through the native addon where it
 * loads (native-udp.ts) and through Node's dgram otherwise; and connected sockets for flows to
 * one endpoint.
 */
import dgram from 'node:dgram';
import type { Family } from '../../net/address.js';
import { unmapIp } from '../../net/address.js';
import { DatagramRoutes, type DatagramChannel, type DatagramFlow, type DatagramHandler, type DatagramKind, type DatagramSource } from '../datagram.js';
import { attachNativeUdp, type NativeUdp } from './native-udp.js';

/**
 * The receive buffer of a shared socket. The default (about 200 KB) holds some 200 small
 * datagrams: 16 ms of a 12,500/s flood, or about 2 ms of a fast uTP transfer, less than one pause
 * of the event loop, after which the kernel drops what comes, answers to our own DHT queries
 * included. 4 MiB (the kernel grants up to net.core.rmem_max) rides out pauses of half a second;
 * it is only used while datagrams wait.
 */
export const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
const SEND_BUFFER = 1024 * 1024;

export class KernelDatagramChannel implements DatagramChannel {
  private readonly routes = new DatagramRoutes();
  readonly sendMany?: (packets: readonly Buffer[], lengths: Uint32Array, count: number, port: number, host: string) => number;
  readonly sendProbe?: (packet: Buffer, length: number, port: number, host: string) => boolean;
  /** The native addon's batched sends and reads, where it loads. */
  private readonly native?: NativeUdp;

  private constructor(
    readonly family: Family,
    private readonly socket: dgram.Socket,
  ) {
    this.native = attachNativeUdp(socket, family);
    if (this.native) {
      const native = this.native;
      this.sendMany = (packets, lengths, count, port, host) => native.sendMany(packets, lengths, count, port, host);
      this.sendProbe = (packet, length, port, host) => native.sendProbe(packet, length, port, host);
    }
    // Reads in batches through the addon, or one event per datagram from Node.
    if (!this.native?.receive((b, from) => this.routes.deliver(b, from, true))) {
      socket.on('message', (b, rinfo) => this.routes.deliver(b, { host: unmapIp(rinfo.address), port: rinfo.port }));
    }
  }

  /** Bind a socket of one family to `port` (0: any) on `host` (default the wildcard). */
  static bind(family: Family, port: number, host?: string): Promise<KernelDatagramChannel> {
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6, recvBufferSize: RECEIVE_BUFFER_BYTES, sendBufferSize: SEND_BUFFER });
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

  receive(kind: DatagramKind, handler: DatagramHandler, opts?: { transient?: boolean }): () => void {
    return this.routes.set(kind, handler, opts);
  }

  onError(handler: (e: Error) => void): void {
    this.socket.on('error', handler);
  }

  close(): Promise<void> {
    this.native?.close();
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
