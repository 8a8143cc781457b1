/**
 * The plain TCP transport: a socket's bytes (through the shared read buffer where the socket
 * has one), writes batched per tick, and the remote address in canonical form.
 */
import type { Socket } from 'node:net';
import type { Transport, TransportHandlers } from '../wire/transport.js';
import { familyOf, unmapIp } from './address.js';
import type { PeerAddress } from './compact.js';
import { receive } from './shared-read.js';
import { TickCork } from './tick-cork.js';

/** What an accepted socket may receive before anyone reads it (a handshake is 68 bytes). */
const MAX_EARLY_BYTES = 256 * 1024;

export class TcpTransport implements Transport {
  readonly remote: PeerAddress;
  readonly localHost: string;
  readonly encrypted = false;
  closed = false;
  /** close() was called: no handler runs any more. */
  private closedHere = false;
  private handlers?: TransportHandlers;
  private early: Buffer[] = [];
  private earlyBytes = 0;
  /** Why it ended before anyone started reading: told to the reader when it starts. */
  private endedEarly?: string;
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
    socket.on('drain', () => this.handlers?.drain());
  }

  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    // A peer that sent its bytes and hung up before anyone read still has them read.
    for (const chunk of early) {
      if (this.closedHere) return;
      handlers.data(chunk, false);
    }
    if (this.endedEarly !== undefined && !this.closedHere) handlers.close(this.endedEarly);
  }

  write(b: Buffer, done?: () => void): void {
    if (this.closed) return done?.();
    this.socket.write(b, done);
  }

  cork(): void {
    this.tickCork.hold();
  }

  close(): void {
    this.closedHere = true;
    if (this.closed) return;
    this.closed = true;
    this.early = [];
    this.socket.destroy();
  }

  private onData(chunk: Buffer, transient: boolean): void {
    if (this.closed) return;
    if (this.handlers) return this.handlers.data(chunk, transient);
    this.earlyBytes += chunk.length;
    if (this.earlyBytes > MAX_EARLY_BYTES) return this.end('peer sent too much before anyone read it');
    this.early.push(transient ? Buffer.from(chunk) : chunk);
  }

  private end(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    if (this.handlers) this.handlers.close(reason);
    else this.endedEarly = reason;
  }
}
