/**
 * One relayed TCP connection as the engine sees it: a Transport whose bytes travel as DATA frames
 * of one stream over the tunnel connection (the server holds the real socket). Writes within a
 * tick leave as one frame, as far as the server's window allows; the rest waits for its WINDOW
 * (and counts in `queuedBytes`, which is the swarm's backpressure, as a socket's queue is).
 */
import type { PeerAddress } from '../../net/compact.js';
import { EarlyReader } from '../../transport/early-reader.js';
import type { Transport, TransportHandlers } from '../../transport/transport.js';
import { encode, MAX_DATA_BYTES, type RemoteError } from './frames.js';
import { ReceiveWindow, SendCredit, type MuxConnection } from './mux.js';

/** What a stream needs of the relay that carries it. */
export interface StreamCarrier {
  readonly mux: MuxConnection;
  /** The stream is gone on our side: forget it. */
  forget(id: number): void;
}

interface Queued {
  b: Buffer;
  done: (() => void) | undefined;
}

export class RelayedTransport implements Transport {
  /** A TCP connection the tunnel server made for us. */
  readonly kind = 'tcp';
  readonly encrypted = false;
  closed = false;
  private readonly reader = new EarlyReader(() => this.abort('peer sent too much before anyone read it'));
  private readonly credit: SendCredit;
  private readonly window: ReceiveWindow;
  private queue: Queued[] = [];
  private head = 0;
  private queued = 0;
  private flushScheduled = false;
  private cancelWait: (() => void) | undefined;
  /** Our side is finished (the Duplex for HTTP ended it): FIN goes once the queue is out. */
  private finished = false;
  private finSent = false;
  /** The other end finished sending (FIN), rather than the stream being reset or lost. */
  endedCleanly = false;
  /** Grants withheld while a slow local reader catches up (hold()). */
  private held = false;
  private deferred = 0;

  constructor(
    private readonly carrier: StreamCarrier,
    readonly id: number,
    readonly remote: PeerAddress,
    readonly localHost: string,
    readonly localPort: number,
    sendWindow: number,
    receiveWindow: number,
  ) {
    this.credit = new SendCredit(sendWindow);
    this.window = new ReceiveWindow(receiveWindow);
  }

  get queuedBytes(): number {
    return this.queued;
  }

  start(handlers: TransportHandlers): void {
    this.reader.start(handlers);
  }

  write(b: Buffer, done?: () => void): void {
    if (this.closed || this.finished || b.length === 0) return done?.();
    this.queue.push({ b, done });
    this.queued += b.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** Writes of a tick are batched into one frame anyway. */
  cork(): void {}

  /** No more writes from us: the server half-closes the real connection once our data is out. */
  finish(): void {
    if (this.closed || this.finished) return;
    this.finished = true;
    this.flush();
  }

  close(): void {
    this.reader.stop();
    if (this.closed) return;
    this.closed = true;
    this.carrier.mux.send(encode.reset(this.id, 'ECONNABORTED', 'closed'));
    this.release();
  }

  // ---- from the relay ---------------------------------------------------------------------------

  /** DATA for this stream; throws ProtocolError when it exceeds our window (the relay ends the connection). */
  data(chunk: Buffer, transient: boolean): void {
    this.window.take(chunk.length);
    if (this.closed) return;
    this.reader.data(chunk, transient);
    if (this.held) {
      this.deferred += chunk.length;
      return;
    }
    const grant = this.window.consumed(chunk.length);
    if (grant > 0 && !this.closed) this.carrier.mux.send(encode.window(this.id, grant));
  }

  /**
   * While held, bytes read are not granted back: the far end stops once it has sent its window,
   * so a slow reader of this stream (a local socket it is spliced to) holds at most that much.
   */
  hold(held: boolean): void {
    this.held = held;
    if (held || this.deferred === 0 || this.closed) return;
    const grant = this.window.consumed(this.deferred, true);
    this.deferred = 0;
    if (grant > 0) this.carrier.mux.send(encode.window(this.id, grant));
  }

  windowGranted(n: number): void {
    this.credit.grant(n);
    this.flush();
  }

  /** The remote end finished sending: as a socket's 'end', this ends the connection. */
  remoteFinished(): void {
    if (this.closed) return;
    this.endedCleanly = true;
    // As TcpTransport does on 'end', our side closes too: the server may let go of the socket.
    this.carrier.mux.send(encode.reset(this.id, 'ECONNABORTED', 'closed'));
    this.end('connection closed by peer');
  }

  remoteReset(e: RemoteError): void {
    this.end(e.code === 'ECONNRESET' ? 'connection reset by peer' : `connection lost: ${e.message}`);
  }

  /** The tunnel connection went: every stream on it goes too, as TCP through a lost link would. */
  lost(reason: string): void {
    this.end(`the tunnel connection was lost (${reason})`);
  }

  // ---- internals --------------------------------------------------------------------------------

  private flush(): void {
    if (this.closed) return;
    const mux = this.carrier.mux;
    while (this.queued > 0 && this.credit.available > 0) {
      if (mux.congested) {
        this.cancelWait ??= mux.whenWritable(() => {
          this.cancelWait = undefined;
          this.flush();
        });
        return;
      }
      const budget = Math.min(this.credit.available, MAX_DATA_BYTES);
      const chunks: Buffer[] = [];
      const dones: Array<() => void> = [];
      let bytes = 0;
      while (this.head < this.queue.length && bytes < budget) {
        const q = this.queue[this.head]!;
        const room = budget - bytes;
        if (q.b.length <= room) {
          chunks.push(q.b);
          bytes += q.b.length;
          if (q.done) dones.push(q.done);
          this.head++;
        } else {
          // The rest of this buffer goes in the next frame; its `done` waits for that one.
          chunks.push(q.b.subarray(0, room));
          q.b = q.b.subarray(room);
          bytes += room;
        }
      }
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      this.queued -= bytes;
      this.credit.spend(bytes);
      mux.sendData(this.id, chunks, bytes, dones.length === 0 ? undefined : dones.length === 1 ? dones[0] : () => dones.forEach((d) => d()));
    }
    if (this.queued === 0) {
      if (this.finished && !this.finSent) {
        this.finSent = true;
        mux.send(encode.fin(this.id));
      }
      this.reader.handlers?.drain();
    }
  }

  /** The connection ended not by us. */
  private end(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    this.reader.end(reason);
  }

  /** Stream state dropped: queued writes are abandoned, their owners told. */
  private abort(reason: string): void {
    if (this.closed) return;
    this.carrier.mux.send(encode.reset(this.id, 'ENOBUFS', reason));
    this.end(reason);
  }

  private release(): void {
    this.cancelWait?.();
    this.cancelWait = undefined;
    const queue = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    this.queued = 0;
    this.carrier.forget(this.id);
    for (const q of queue) q.done?.();
  }
}
