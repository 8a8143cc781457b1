/**
 * One tunnel connection after its handshake: IPv6 packets in both directions over a TCP socket.
 * Used by the client and by each of the server's sessions.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { PacketFramer } from './framer.js';

/** Bytes queued in user space before packets are dropped instead of buffered without bound. */
export const DEFAULT_MAX_QUEUE_BYTES = 512 * 1024;

export interface LinkCounters {
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** Outgoing packets dropped because the socket's queue was full. */
  droppedQueue: number;
}

export interface TunnelLinkEvents {
  packet: [Buffer];
  /** Emitted once; `reason` says why (peer closed, corrupt stream, socket error, local close). */
  close: [reason: string];
}

/** TCP options both sides use: no Nagle delay for interactive traffic, keepalive for dead peers. */
export function tuneTunnelSocket(socket: Socket): void {
  socket.setNoDelay(true);
  // The original uses 60 s idle before probing.
  socket.setKeepAlive(true, 60_000);
}

export class TunnelLink extends EventEmitter<TunnelLinkEvents> {
  readonly counters: LinkCounters = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, droppedQueue: 0 };
  private readonly framer = new PacketFramer();
  private closed = false;
  private corked = false;

  /**
   * `rest` is what followed the handshake object in the same read: the first packet bytes.
   * Nothing is emitted before `start()`, so listeners can be attached first.
   */
  constructor(
    readonly socket: Socket,
    private readonly rest: Buffer,
    private readonly maxQueueBytes = DEFAULT_MAX_QUEUE_BYTES,
  ) {
    super();
  }

  start(): void {
    const s = this.socket;
    s.on('data', (chunk: Buffer) => this.receive(chunk));
    s.on('end', () => this.close('the other side closed the connection'));
    s.on('close', () => this.close('connection closed'));
    s.on('error', (e: Error) => this.close(`connection error: ${e.message}`));
    // It may have died between the handshake and now, while nobody was listening.
    if (s.destroyed) return this.close('connection closed');
    if (this.rest.length > 0) this.receive(this.rest);
    if (!this.closed) s.resume();
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    let packets: Buffer[];
    try {
      packets = this.framer.push(chunk);
    } catch (e) {
      this.close((e as Error).message);
      return;
    }
    for (const p of packets) {
      if (this.closed) return;
      this.counters.packetsIn++;
      this.counters.bytesIn += p.length;
      this.emit('packet', p);
    }
  }

  /**
   * Queues one packet; false when it was dropped (link closed, or the queue is full: it is IP,
   * TCP above retransmits). Packets sent in the same tick go out in one writev.
   */
  send(packet: Buffer): boolean {
    if (this.closed) return false;
    if (this.socket.writableLength + packet.length > this.maxQueueBytes) {
      this.counters.droppedQueue++;
      return false;
    }
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(packet);
    this.counters.packetsOut++;
    this.counters.bytesOut += packet.length;
    return true;
  }

  /** Closes the connection at once, abandoning whatever is still queued. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.emit('close', reason);
  }
}
