/**
 * One tunnel connection after its handshake: IPv6 packets in both directions over a TCP socket.
 * Used by the client and by each of the server's sessions. Framing is the original's (packets
 * back to back) or, when both ends agreed on offload, each packet behind its offload header.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { TickCork } from '../transport/kernel/tick-cork.js';
import { FramingError, PacketFramer } from './framer.js';
import { adjacent, PLAIN_HEADER, VNET_HDR_BYTES, wireHeader, type OffloadHeader } from './offload.js';

/**
 * Bytes queued in user space before packets are dropped instead of buffered without bound:
 * room for a few dozen offloaded 64 KiB segments, a few milliseconds at the speeds seen here.
 */
export const DEFAULT_MAX_QUEUE_BYTES = 2 * 1024 * 1024;

export interface LinkCounters {
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** Outgoing packets dropped because the socket's queue was full. */
  droppedQueue: number;
  /** Outgoing packets with offload metadata on a link without offload (only around a switch of mode). */
  droppedOffload: number;
}

export interface TunnelLinkEvents {
  /** A packet from the other end with its offload header (always null without offload). */
  packet: [packet: Buffer, header: OffloadHeader];
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
  readonly counters: LinkCounters = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, droppedQueue: 0, droppedOffload: 0 };
  private readonly framer: PacketFramer;
  /** Packets travel behind offload headers (both ends agreed). */
  readonly offload: boolean;
  private readonly maxQueueBytes: number;
  private closed = false;
  private readonly cork: TickCork;

  /**
   * `rest` is what followed the handshake object in the same read: the first packet bytes.
   * Nothing is emitted before `start()`, so listeners can be attached first.
   */
  constructor(
    readonly socket: Socket,
    private readonly rest: Buffer,
    opts: { offload?: boolean; maxQueueBytes?: number } = {},
  ) {
    super();
    this.offload = opts.offload ?? false;
    this.maxQueueBytes = opts.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.framer = new PacketFramer(this.offload ? VNET_HDR_BYTES : 0);
    this.cork = new TickCork(socket);
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
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch (e) {
      this.close((e as Error).message);
      return;
    }
    for (const frame of frames) {
      if (this.closed) return;
      let packet = frame;
      let header: OffloadHeader = null;
      if (this.offload) {
        packet = frame.subarray(VNET_HDR_BYTES);
        try {
          header = wireHeader(frame.subarray(0, VNET_HDR_BYTES), packet);
        } catch (e) {
          // The framing held, but no honest end sends this: the stream cannot be trusted.
          this.close(new FramingError((e as Error).message).message);
          return;
        }
      }
      this.counters.packetsIn++;
      this.counters.bytesIn += packet.length;
      this.emit('packet', packet, header);
    }
  }

  /**
   * Queues one packet; false when it was dropped (link closed, the queue is full, or offload
   * metadata this link cannot carry: it is IP, TCP above retransmits). Packets sent in the same
   * tick go out in one writev.
   */
  send(packet: Buffer, header: OffloadHeader): boolean {
    if (this.closed) return false;
    if (header && !this.offload) {
      this.counters.droppedOffload++;
      return false;
    }
    if (this.socket.writableLength + packet.length > this.maxQueueBytes) {
      this.counters.droppedQueue++;
      return false;
    }
    this.cork.hold();
    if (this.offload) {
      const h = header ?? PLAIN_HEADER;
      if (adjacent(h, packet)) this.socket.write(Buffer.from(h.buffer, h.byteOffset, h.length + packet.length));
      else {
        this.socket.write(h);
        this.socket.write(packet);
      }
    } else {
      this.socket.write(packet);
    }
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
