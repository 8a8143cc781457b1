/**
 * One end of a stream-mode connection (frames.ts): frames in and out over the tunnel's TCP
 * socket, and the flow-control bookkeeping both ends share. What a frame means is the caller's
 * business (client-relay.ts on the client, relay.ts on the server); this owns the socket.
 *
 * Writing: frames written within one tick leave in one writev. When the socket's queue passes
 * HIGH_WATER bytes the connection is congested: data senders wait (`whenWritable`) and are woken
 * in the order they came once the queue has drained, so every stream gets its turn.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { TickCork } from '../../transport/kernel/tick-cork.js';
import { FrameReader, header, MAX_WINDOW, ProtocolError, FrameType, type FrameHandler } from './frames.js';

/** Bytes queued on the tunnel socket beyond which data senders wait. */
export const HIGH_WATER = 1024 * 1024;

export interface MuxEvents {
  /** Emitted once, with why (the other end closed, a protocol violation, a socket error, close()). */
  close: [reason: string];
}

export class MuxConnection extends EventEmitter<MuxEvents> {
  private readonly reader: FrameReader;
  private readonly cork: TickCork;
  private closed = false;
  /** Waiting for the socket's queue to drain, in the order they asked. */
  private waiting = new Set<() => void>();
  bytesIn = 0;
  bytesOut = 0;

  /** `rest`: what followed the handshake in the same read. Nothing is read before start(). */
  constructor(
    readonly socket: Socket,
    private readonly rest: Buffer,
    handler: FrameHandler,
  ) {
    super();
    this.reader = new FrameReader(handler);
    this.cork = new TickCork(socket);
  }

  /**
   * Starts reading: the socket's 'data' events, or what `subscribe` hands over (a shared read
   * buffer's transient chunks, say: the handler then copies whatever it keeps).
   */
  start(subscribe?: (receive: (chunk: Buffer) => void) => void): void {
    const s = this.socket;
    if (subscribe) subscribe((chunk) => this.receive(chunk));
    else s.on('data', (chunk: Buffer) => this.receive(chunk));
    s.on('end', () => this.close('the other side closed the connection'));
    s.on('close', () => this.close('connection closed'));
    s.on('error', (e: Error) => this.close(`connection error: ${e.message}`));
    s.on('drain', () => this.wake());
    if (s.destroyed) return this.close('connection closed');
    if (this.rest.length > 0) this.receive(this.rest);
    if (!this.closed) s.resume();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The socket's queue is past HIGH_WATER: data should wait (control frames still go). */
  get congested(): boolean {
    return this.socket.writableLength >= HIGH_WATER;
  }

  /** Bytes queued on the socket, not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  /** Runs `fn` once the socket's queue has drained (at once if it is not congested); returns the undo. */
  whenWritable(fn: () => void): () => void {
    if (!this.congested) {
      fn();
      return () => {};
    }
    this.waiting.add(fn);
    return () => this.waiting.delete(fn);
  }

  /** A whole control frame. */
  send(frame: Buffer): void {
    if (this.closed) return;
    this.cork.hold();
    this.socket.write(frame);
    this.bytesOut += frame.length;
  }

  /** One DATA frame: its header, then `chunks` as they are (`done` after the last is written). */
  sendData(id: number, chunks: readonly Buffer[], bytes: number, done?: () => void): void {
    if (this.closed) return done?.();
    this.cork.hold();
    this.socket.write(header(FrameType.DATA, id, bytes));
    const last = chunks.length - 1;
    for (let i = 0; i <= last; i++) this.socket.write(chunks[i]!, i === last ? done : undefined);
    this.bytesOut += bytes + 9;
  }

  /** Closes the socket at once (what is queued is abandoned); `close` is emitted with `reason`. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.waiting.clear();
    this.emit('close', reason);
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    this.bytesIn += chunk.length;
    try {
      this.reader.push(chunk);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.close(e.message);
    }
  }

  private wake(): void {
    // Newcomers queue behind those already waiting; a socket that fills up again stops the round.
    while (this.waiting.size > 0 && !this.closed && !this.congested) {
      const [fn] = this.waiting;
      this.waiting.delete(fn!);
      fn!();
    }
  }
}

/**
 * The receiving half of one stream's flow control: how much the other end may still send, and
 * the grants we owe it as bytes are consumed (sent in batches, not per chunk).
 */
export class ReceiveWindow {
  /** Bytes the other end may still send. */
  private allowed: number;
  /** Consumed bytes not yet granted back. */
  private owed = 0;
  /** The least the other end had left since the last grant. */
  private lowest: number;

  constructor(
    /** The window as granted: what the other end may have in flight. */
    public size: number,
  ) {
    this.allowed = size;
    this.lowest = size;
  }

  /** `n` bytes arrived; throws ProtocolError when they exceed the window. */
  take(n: number): void {
    this.allowed -= n;
    if (this.allowed < 0) throw new ProtocolError(`${-this.allowed} bytes beyond the window`);
    if (this.allowed < this.lowest) this.lowest = this.allowed;
  }

  /** Whether the other end has used its whole window (it is waiting on us). */
  get exhausted(): boolean {
    return this.allowed === 0;
  }

  /**
   * Whether the other end came within a quarter window of its limit since the last grant: it
   * sends as fast as the window lets it, so a larger window would carry more.
   */
  get pressed(): boolean {
    return this.lowest < this.size / 4;
  }

  /**
   * `n` bytes were consumed; returns the grant to send now (0: keep batching). Grants go out once
   * a quarter of the window is owed, so a stream costs one WINDOW frame per quarter window.
   */
  consumed(n: number, force = false): number {
    this.owed += n;
    if (!force && this.owed < this.size / 4) return 0;
    return this.flush();
  }

  /** The window grows by `n` (granted at once with what is owed). */
  grow(n: number): number {
    this.size += n;
    this.owed += n;
    return this.flush();
  }

  private flush(): number {
    const grant = this.owed;
    this.owed = 0;
    this.allowed += grant;
    this.lowest = this.allowed;
    return grant;
  }
}

/** The sending half: what the other end has granted us. */
export class SendCredit {
  constructor(private credit: number) {
    if (credit > MAX_WINDOW) throw new ProtocolError(`an initial window of ${credit} bytes`);
  }

  get available(): number {
    return this.credit;
  }

  grant(n: number): void {
    if (n === 0 || this.credit + n > MAX_WINDOW) throw new ProtocolError(`a window grant of ${n} bytes on top of ${this.credit}`);
    this.credit += n;
  }

  spend(n: number): void {
    this.credit -= n;
  }
}
