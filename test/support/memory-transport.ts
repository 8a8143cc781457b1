/**
 * Test support: two transports joined in memory, for testing the layers above a transport
 * (handshakes, encryption, the wire, the swarm's connections) without sockets or processes.
 * Bytes cross asynchronously, like a socket's; `chunkBytes: 1` delivers them one byte at a time,
 * and `transient` hands them over in a buffer that is overwritten after each delivery, as the
 * shared read buffer does.
 */
import type { PeerAddress } from '../../src/net/compact.js';
import type { Transport, TransportHandlers } from '../../src/transport/transport.js';

export interface MemoryPairOptions {
  /** Largest piece a write is cut into on the way (default: whole writes). */
  chunkBytes?: number;
  /** Deliver through one reused buffer that is scribbled over after every delivery. */
  transient?: boolean;
  a?: PeerAddress;
  b?: PeerAddress;
}

export class MemoryTransport implements Transport {
  readonly kind = 'tcp';
  encrypted = false;
  closed = false;
  queuedBytes = 0;
  /** Every byte written, in order (what a capture of this side's sending would show). */
  readonly sent: Buffer[] = [];
  peer!: MemoryTransport;
  private handlers?: TransportHandlers;
  private inbox: Buffer[] = [];
  private inboxHead = 0;
  private scheduled = false;
  private closedHere = false;
  private endedWith?: string;
  private scratch = Buffer.alloc(0);

  constructor(
    readonly remote: PeerAddress,
    readonly localHost: string,
    private readonly opts: MemoryPairOptions,
  ) {}

  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
    this.schedule();
  }

  write(b: Buffer, done?: () => void): void {
    if (this.closed) return done?.();
    const copy = Buffer.from(b);
    this.sent.push(copy);
    this.peer.enqueue(copy);
    queueMicrotask(() => done?.());
  }

  cork(): void {}

  close(): void {
    this.closedHere = true;
    if (this.closed) return;
    this.closed = true;
    this.peer.hangUp('connection closed by peer');
  }

  /** The other side closes without a word. */
  hangUp(reason: string): void {
    if (this.closed) return;
    this.endedWith = reason;
    this.schedule();
  }

  private enqueue(b: Buffer): void {
    if (this.closed) return;
    const step = this.opts.chunkBytes ?? b.length;
    for (let o = 0; o < b.length; o += step) this.inbox.push(b.subarray(o, o + step));
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || !this.handlers) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.deliver();
    });
  }

  private deliver(): void {
    const h = this.handlers!;
    while (this.inboxHead < this.inbox.length && !this.closedHere) {
      const chunk = this.inbox[this.inboxHead++]!;
      if (this.opts.transient) {
        if (this.scratch.length < chunk.length) this.scratch = Buffer.alloc(Math.max(chunk.length, 64 * 1024));
        chunk.copy(this.scratch);
        h.data(this.scratch.subarray(0, chunk.length), true);
        this.scratch.fill(0xee); // whoever kept a view of it sees garbage
      } else h.data(chunk, false);
    }
    if (this.inboxHead === this.inbox.length) {
      this.inbox = [];
      this.inboxHead = 0;
    }
    if (this.inbox.length === 0 && this.endedWith !== undefined && !this.closed) {
      this.closed = true;
      h.close(this.endedWith);
    }
  }
}

/** Two connected transports: what one writes, the other receives. */
export function memoryPair(opts: MemoryPairOptions = {}): [MemoryTransport, MemoryTransport] {
  const aAddr = opts.a ?? { host: '2001:db8::1', port: 6881, family: 6 };
  const bAddr = opts.b ?? { host: '2001:db8::2', port: 6882, family: 6 };
  const a = new MemoryTransport(bAddr, aAddr.host, opts);
  const b = new MemoryTransport(aAddr, bAddr.host, opts);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
