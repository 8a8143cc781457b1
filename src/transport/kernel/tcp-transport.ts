/**
 * The plain TCP transport: a socket's bytes (through the shared read buffer where the socket
 * has one), writes batched per tick, and the remote address in canonical form.
 */
import type { Socket } from 'node:net';
import { EarlyReader } from '../early-reader.js';
import type { Transport, TransportHandlers } from '../transport.js';
import { familyOf, unmapIp } from '../../net/address.js';
import type { PeerAddress } from '../../net/compact.js';
import { receive } from './shared-read.js';
import { TickCork } from './tick-cork.js';

export class TcpTransport implements Transport {
  readonly remote: PeerAddress;
  readonly kind = 'tcp';
  readonly localHost: string;
  readonly encrypted = false;
  closed = false;
  private readonly reader = new EarlyReader(() => this.end('peer sent too much before anyone read it'));
  private readonly tickCork: TickCork;

  constructor(private readonly socket: Socket) {
    const host = unmapIp(socket.remoteAddress ?? '');
    this.remote = { host, port: socket.remotePort ?? 0, family: familyOf(host) ?? 4 };
    this.localHost = unmapIp(socket.localAddress ?? '');
    socket.setNoDelay(true);
    this.tickCork = new TickCork(socket);
    receive(socket, (chunk, transient) => this.onData(chunk, transient));
    socket.on('error', (e) => this.end(`socket error: ${e.message}`));
    socket.on('close', () => this.end('connection closed by peer'));
    socket.on('end', () => this.end('connection closed by peer'));
    socket.on('drain', () => this.reader.handlers?.drain());
  }

  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  start(handlers: TransportHandlers): void {
    this.reader.start(handlers);
  }

  write(b: Buffer, done?: () => void): void {
    if (this.closed) return done?.();
    this.socket.write(b, done);
  }

  cork(): void {
    this.tickCork.hold();
  }

  close(): void {
    this.reader.stop();
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer, transient: boolean): void {
    if (!this.closed) this.reader.data(chunk, transient);
  }

  private end(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.reader.end(reason);
  }
}
