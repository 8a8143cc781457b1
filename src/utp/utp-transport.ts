/**
 * A uTP connection as the Transport every peer connection implements, so MSE and the peer wire
 * run over it unchanged: bytes in order (transient when read in batches into one buffer), writes
 * gathered per tick into full packets, `queuedBytes` the bytes not yet in a packet, `drain` once
 * they fall under the low-water mark. Until someone reads, the window we advertise is what the
 * early reader keeps less what it holds, so a peer cannot run ahead of a reader not started.
 */
import type { PeerAddress } from '../net/compact.js';
import { EarlyReader, MAX_EARLY_BYTES } from '../transport/early-reader.js';
import type { Transport, TransportHandlers } from '../transport/transport.js';
import type { UtpConnection } from './connection.js';

export class UtpTransport implements Transport {
  readonly remote: PeerAddress;
  readonly kind = 'utp';
  readonly encrypted = false;
  closed = false;
  private readonly reader = new EarlyReader(() => this.end('peer sent too much before anyone read it'));
  private started = false;

  constructor(
    private readonly conn: UtpConnection,
    /** Our address on the UDP socket (its bound address: a wildcard socket does not know more). */
    readonly localHost: string,
  ) {
    this.remote = conn.remote;
    // Until someone reads, the peer may send no more than the early reader keeps.
    conn.readerRoom = MAX_EARLY_BYTES;
    conn.handlers = {
      data: (chunk, transient) => {
        if (!this.started) conn.unread += chunk.length;
        this.reader.data(chunk, transient);
      },
      drain: () => this.reader.handlers?.drain(),
      end: (reason) => this.end(reason),
    };
  }

  get queuedBytes(): number {
    return this.conn.queuedBytes;
  }

  start(handlers: TransportHandlers): void {
    this.started = true;
    const held = this.conn.unread;
    this.conn.unread = 0;
    this.conn.readerRoom = Infinity;
    this.reader.start(handlers);
    if (held > 0 && !this.closed) this.conn.windowOpened();
  }

  write(b: Buffer, done?: () => void): void {
    if (this.closed) return done?.();
    this.conn.write(b, done);
  }

  /** Writes already leave together at the end of the tick. */
  cork(): void {}

  close(): void {
    this.reader.stop();
    if (this.closed) return;
    this.closed = true;
    this.conn.close();
  }

  private end(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.close();
    this.reader.end(reason);
  }
}
