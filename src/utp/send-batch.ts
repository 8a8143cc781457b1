/**
 * Packets on their way to the UDP channel. Those for one peer are gathered until the current
 * turn of the event loop has run (or a packet for another peer comes) and go to the channel's
 * sendMany in one go: one system call for a whole window's worth (UDP GSO, sendmmsg). Packets
 * it does not take, and everything on a channel without sendMany, go by send(), one by one.
 * Path MTU probes go alone, right away, with "don't fragment" forced where the channel can.
 */
import type { DatagramChannel } from '../transport/datagram.js';

/** Packets sent in one go at most. */
const BATCH_LIMIT = 256;
const EMPTY = Buffer.alloc(0);

/** Where a packet goes (a connection's peer). */
export interface Destination {
  readonly remote: { readonly host: string; readonly port: number };
}

export class SendBatch {
  private to?: Destination;
  private readonly buffers: Buffer[] = [];
  private readonly lengths = new Uint32Array(BATCH_LIMIT);
  private readonly sent: ((() => void) | undefined)[] = [];
  private count = 0;
  private queued = false;
  private readonly flushQueued = (): void => {
    this.queued = false;
    this.flush();
  };

  constructor(private readonly channel: DatagramChannel) {}

  /** Send the first `length` bytes of `buf` to `to`; `sent` once `buf` may change. */
  send(to: Destination, buf: Buffer, length: number, sent?: () => void): void {
    if (!this.channel.sendMany) return this.sendOne(to, buf, length, sent);
    if (this.to !== to || this.count === BATCH_LIMIT) this.flush();
    this.to = to;
    this.buffers[this.count] = buf;
    this.lengths[this.count] = length;
    this.sent[this.count] = sent;
    this.count++;
    if (!this.queued) {
      this.queued = true;
      queueMicrotask(this.flushQueued);
    }
  }

  /** A path MTU probe, now and alone (after what is gathered); false when it could not go as one. */
  probe(to: Destination, buf: Buffer, length: number): boolean {
    if (!this.channel.sendProbe) return false;
    this.flush();
    try {
      return this.channel.sendProbe(buf, length, to.remote.port, to.remote.host);
    } catch {
      return false;
    }
  }

  /** What is gathered goes out now. */
  flush(): void {
    const to = this.to;
    const n = this.count;
    if (!to || n === 0) return;
    this.count = 0;
    let took = 0;
    try {
      took = this.channel.sendMany!(this.buffers, this.lengths, n, to.remote.port, to.remote.host);
    } catch {
      took = 0; // an address the addon cannot take: send() says why
    }
    for (let i = 0; i < n; i++) {
      const sent = this.sent[i];
      const buf = this.buffers[i]!;
      this.sent[i] = undefined;
      this.buffers[i] = EMPTY;
      if (i < took) sent?.();
      else this.sendOne(to, buf, this.lengths[i]!, sent);
    }
  }

  private sendOne(to: Destination, buf: Buffer, length: number, sent?: () => void): void {
    const b = length === buf.length ? buf : buf.subarray(0, length);
    try {
      this.channel.send(b, to.remote.port, to.remote.host, sent);
    } catch {
      sent?.(); // a bad address: it counts as lost, and the connection times out
    }
  }
}
