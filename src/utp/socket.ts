/**
 * uTP on one UDP socket (a DatagramChannel shared with the DHT): connections told apart by
 * their source and connection id, new ones dialed or accepted, their timers, and the packets
 * that match none.
 *
 * What a stranger can make it hold is bounded: a SYN costs an entry in the half-open table
 * (half-open.ts: fair per host, rate-limited, expiring), and only a packet that acknowledges our
 * answer makes a connection of it; connections are capped in number; the bytes all of them hold
 * out of order share one budget; RESETs to strays are rate-limited overall and per source. The
 * socket can be made to send no more than it receives, nor to flood a third party.
 */
import { randomInt } from 'node:crypto';
import type { Family } from '../net/address.js';
import { hostKey } from '../net/address.js';
import { SourceLimiter } from '../net/source-limiter.js';
import type { DatagramChannel, DatagramSource } from '../transport/datagram.js';
import { TokenBucket } from '../util/token-bucket.js';
import { nowMicros, UtpConnection, type ConnectionHost } from './connection.js';
import { HalfOpenTable, type HalfOpen } from './half-open.js';
import { Header, HEADER_BYTES, readHeader, SEQ_MASK, seqDistance, ST_RESET, ST_STATE, ST_SYN, writeHeader } from './packet.js';
import { RECEIVE_BUFFER, ReorderBudget } from './receiver.js';
import { SendBatch } from './send-batch.js';

export interface UtpSocketOptions {
  /** Connections at once, dialed and accepted (default 1000). */
  maxConnections?: number;
  /** Half-open (SYN received, not yet confirmed) connections at once (default 1024), and from one host (default 8). */
  maxHalfOpen?: number;
  maxHalfOpenPerHost?: number;
  /** Bytes held out of order by all connections together (default 64 MiB). */
  reorderBudget?: number;
}

/** Counters, for tests and benchmarks. */
export interface UtpSocketStats {
  datagramsIn: number;
  datagramsOut: number;
  /** Datagrams that were not well-formed uTP, or matched nothing and drew no RESET. */
  dropped: number;
  resetsSent: number;
  /** Packets sent again by connections (lost, or presumed lost). */
  resent: number;
  /** The largest new packet sent other than path MTU probes: what the probes found fits the path. */
  largestPacket: number;
  synsRefused: number;
  connections: number;
  halfOpen: number;
}

/** Timers run this often (ms). */
const TICK_MS = 50;
/** RESETs to strays per source and overall. */
const RESET_RATE_PER_HOST = 2;
const GLOBAL_RESET_RATE = 100;

export class UtpSocket implements ConnectionHost {
  readonly budget: ReorderBudget;
  private readonly byId = new Map<number, UtpConnection>();
  private count = 0;
  /** Resent packets, and the largest packet, of connections already gone. */
  private resentBefore = 0;
  private largestBefore = 0;
  private last?: UtpConnection;
  private readonly halfOpen: HalfOpenTable;
  private readonly resetPerHost = new SourceLimiter(RESET_RATE_PER_HOST, RESET_RATE_PER_HOST * 2, 4096);
  private readonly resetGlobal = new TokenBucket(GLOBAL_RESET_RATE, GLOBAL_RESET_RATE);
  private readonly header = new Header();
  private readonly pending = new Set<UtpConnection>();
  private flushScheduled = false;
  private timer?: NodeJS.Timeout;
  private readonly stopReceiving: () => void;
  private accept?: (conn: UtpConnection) => void;
  private readonly maxConnections: number;
  private closed = false;
  private readonly out: SendBatch;
  private readonly counters: UtpSocketStats = { datagramsIn: 0, datagramsOut: 0, dropped: 0, resetsSent: 0, resent: 0, largestPacket: 0, synsRefused: 0, connections: 0, halfOpen: 0 };

  constructor(
    readonly channel: DatagramChannel,
    opts: UtpSocketOptions = {},
  ) {
    this.maxConnections = opts.maxConnections ?? 1000;
    this.halfOpen = new HalfOpenTable(opts.maxHalfOpen ?? 1024, opts.maxHalfOpenPerHost ?? 8);
    this.out = new SendBatch(channel);
    this.budget = new ReorderBudget(opts.reorderBudget ?? 64 * 1024 * 1024);
    // Nothing of a datagram is kept past its handling but copies (the receiver copies what it holds).
    this.stopReceiving = channel.receive('utp', (b, from, transient) => this.onDatagram(b, from, transient), { transient: true });
  }

  /** Counters so far. */
  get stats(): UtpSocketStats {
    let resent = this.resentBefore;
    let largestPacket = this.largestBefore;
    for (const first of this.byId.values()) {
      for (let c: UtpConnection | undefined = first; c; c = c.nextSameId) {
        resent += c.sender.resent;
        largestPacket = Math.max(largestPacket, c.sender.largestPacket);
      }
    }
    return { ...this.counters, resent, largestPacket };
  }

  get family(): Family {
    return this.channel.family;
  }

  /** Accept incoming connections from now on (each confirmed one goes to `onConnection`). */
  listen(onConnection: (conn: UtpConnection) => void): void {
    this.accept = onConnection;
  }

  /** Dial `host`:`port`; resolves once the SYN is answered. */
  async connect(host: string, port: number, signal: AbortSignal): Promise<UtpConnection> {
    if (this.closed) throw new Error('the uTP socket is closed');
    if (signal.aborted) throw new Error('connect aborted');
    if (this.count >= this.maxConnections) throw new Error(`too many uTP connections (${this.maxConnections})`);
    const recvId = this.freeId();
    const now = performance.now();
    const conn = new UtpConnection(this, { host, port, family: this.family }, recvId, (recvId + 1) & SEQ_MASK, randomInt(0x10000), undefined, RECEIVE_BUFFER, now);
    this.add(conn);
    const onAbort = () => conn.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await conn.connect(now);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    return conn;
  }

  // ---- ConnectionHost ---------------------------------------------------------------------

  send(conn: UtpConnection, buf: Buffer, length: number, sent?: () => void): void {
    this.counters.datagramsOut++;
    this.out.send(conn, buf, length, sent);
  }

  sendProbe(conn: UtpConnection, buf: Buffer, length: number): boolean {
    const sent = this.out.probe(conn, buf, length);
    if (sent) this.counters.datagramsOut++;
    return sent;
  }

  wantFlush(conn: UtpConnection): void {
    this.pending.add(conn);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // After every datagram of this read batch (the poll phase) has been taken in.
    setImmediate(() => this.flushAll());
  }

  forget(conn: UtpConnection): void {
    this.pending.delete(conn);
    this.resentBefore += conn.sender.resent;
    this.largestBefore = Math.max(this.largestBefore, conn.sender.largestPacket);
    let c = this.byId.get(conn.recvId);
    if (c === conn) {
      if (conn.nextSameId) this.byId.set(conn.recvId, conn.nextSameId);
      else this.byId.delete(conn.recvId);
    } else {
      while (c && c.nextSameId !== conn) c = c.nextSameId;
      if (c) c.nextSameId = conn.nextSameId;
    }
    conn.nextSameId = undefined;
    if (this.last === conn) this.last = undefined;
    this.count--;
    this.counters.connections = this.count;
    if (this.count === 0 && this.halfOpen.size === 0) this.stopTimer();
  }

  /** Close every connection (a RESET tells each peer at once) and stop receiving. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopReceiving();
    this.stopTimer();
    for (const first of [...this.byId.values()]) {
      for (let c: UtpConnection | undefined = first; c; ) {
        const next: UtpConnection | undefined = c.nextSameId;
        if (c.state !== 'closed') this.sendReset(c.remote.host, c.remote.port, c.sendId, 0);
        c.destroy();
        c = next;
      }
    }
    this.halfOpen.clear();
    this.out.flush();
  }

  // ---- receiving --------------------------------------------------------------------------

  private onDatagram(b: Buffer, from: DatagramSource, transient: boolean): void {
    this.counters.datagramsIn++;
    const h = this.header;
    if (!readHeader(b, h)) {
      this.counters.dropped++;
      return;
    }
    if (h.type === ST_RESET) return this.onReset(h, from);
    if (h.type === ST_SYN) return this.onSyn(h, from);
    const conn = this.find(h.connectionId, from.host, from.port);
    if (conn) return conn.receive(h, b, nowMicros(), performance.now(), transient);
    const open = this.halfOpen.find(from.host, from.port, (h.connectionId - 1) & SEQ_MASK);
    if (open && h.ack === ((open.ourSeq - 1) & SEQ_MASK)) return this.confirm(open, b, transient);
    this.stray(h, from);
  }

  private find(recvId: number, host: string, port: number): UtpConnection | undefined {
    const last = this.last;
    if (last && last.recvId === recvId && last.remote.port === port && last.remote.host === host) return last;
    for (let c = this.byId.get(recvId); c; c = c.nextSameId) {
      if (c.remote.port === port && c.remote.host === host) {
        this.last = c;
        return c;
      }
    }
    return undefined;
  }

  private onSyn(h: Header, from: DatagramSource): void {
    const known = this.halfOpen.find(from.host, from.port, h.connectionId);
    if (known) {
      // Our answer was lost: answer again, as often as that source may send SYNs.
      if (this.halfOpen.mayAnswer(from.host)) this.answerSyn(known);
      return;
    }
    if (this.find((h.connectionId + 1) & SEQ_MASK, from.host, from.port)) return; // a late copy of a SYN we took
    if (!this.accept || this.closed) return this.refuse(h, from);
    const replyMicro = h.timestamp === 0 ? 0 : (Math.floor(nowMicros()) - h.timestamp) >>> 0;
    const open =
      this.count + this.halfOpen.size < this.maxConnections
        ? this.halfOpen.admit({ host: from.host, port: from.port, synId: h.connectionId, peerSeq: h.seq, ourSeq: randomInt(0x10000), peerWindow: h.window, replyMicro }, performance.now())
        : undefined;
    this.counters.halfOpen = this.halfOpen.size;
    if (!open) {
      this.counters.synsRefused++;
      return;
    }
    this.startTimer();
    this.answerSyn(open);
  }

  /** The STATE that answers a SYN: our first sequence number, their SYN acknowledged. */
  private answerSyn(open: HalfOpen): void {
    const b = Buffer.allocUnsafe(HEADER_BYTES);
    writeHeader(b, ST_STATE, 0, open.synId, Math.floor(nowMicros()), open.replyMicro, RECEIVE_BUFFER, open.ourSeq, open.peerSeq);
    this.sendRaw(b, open.port, open.host);
  }

  /** A packet that acknowledges our answer to a SYN: the source is real, the connection is made. */
  private confirm(open: HalfOpen, b: Buffer, transient: boolean): void {
    this.halfOpen.remove(open);
    this.counters.halfOpen = this.halfOpen.size;
    const now = performance.now();
    const remote = { host: open.host, port: open.port, family: this.family };
    const conn = new UtpConnection(this, remote, (open.synId + 1) & SEQ_MASK, open.synId, open.ourSeq, open.peerSeq, open.peerWindow, now);
    this.add(conn);
    this.accept?.(conn);
    // The header object was not touched since this packet was read.
    conn.receive(this.header, b, nowMicros(), now, transient);
  }

  private onReset(h: Header, from: DatagramSource): void {
    // The id is the one the peer sends with, or the one it receives with (its answer to a SYN of ours).
    const id = h.connectionId;
    for (const recvId of [id, (id + 1) & SEQ_MASK, (id - 1) & SEQ_MASK]) {
      const conn = this.find(recvId, from.host, from.port);
      if (!conn || (recvId !== id && conn.sendId !== id)) continue;
      // A RESET answers one of our packets: an ack far from what we sent is forged.
      if (seqDistance(conn.sender.seqNr, h.ack) > 2048) return;
      conn.reset();
      return;
    }
    this.counters.dropped++;
  }

  /** A packet for no connection we know: a RESET tells the peer (rate-limited); or a SYN we do not take. */
  private stray(h: Header, from: DatagramSource): void {
    if (this.closed) return;
    this.sendReset(from.host, from.port, h.connectionId, h.seq);
  }

  private refuse(h: Header, from: DatagramSource): void {
    this.counters.synsRefused++;
    this.sendReset(from.host, from.port, h.connectionId, h.seq);
  }

  private sendReset(host: string, port: number, connectionId: number, ack: number): void {
    if (!this.resetPerHost.allow(hostKey(host)) || !this.resetGlobal.take()) {
      this.counters.dropped++;
      return;
    }
    const b = Buffer.allocUnsafe(HEADER_BYTES);
    writeHeader(b, ST_RESET, 0, connectionId, Math.floor(nowMicros()), 0, 0, randomInt(0x10000), ack);
    this.counters.resetsSent++;
    this.sendRaw(b, port, host);
  }

  /** A control packet (an answer to a SYN, a RESET) to someone with no connection. */
  private sendRaw(b: Buffer, port: number, host: string): void {
    this.counters.datagramsOut++;
    this.out.send({ remote: { host, port } }, b, b.length);
  }

  // ---- bookkeeping ------------------------------------------------------------------------

  private add(conn: UtpConnection): void {
    conn.nextSameId = this.byId.get(conn.recvId);
    this.byId.set(conn.recvId, conn);
    this.count++;
    this.counters.connections = this.count;
    this.startTimer();
  }

  /** A receive id no connection of ours uses (the peer sends to us with it). */
  private freeId(): number {
    for (;;) {
      const id = randomInt(0x10000);
      if (!this.byId.has(id) && !this.byId.has((id + 1) & SEQ_MASK)) return id;
    }
  }

  private flushAll(): void {
    const now = performance.now();
    // A connection that asks again while this runs (a reader writing on `drain`) is visited again.
    for (const conn of this.pending) {
      this.pending.delete(conn);
      conn.flush(now);
    }
    this.flushScheduled = false;
  }

  private startTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = performance.now();
    for (const first of [...this.byId.values()]) {
      for (let c: UtpConnection | undefined = first; c; ) {
        const next: UtpConnection | undefined = c.nextSameId;
        c.tick(now);
        c = next;
      }
    }
    this.halfOpen.expire(now);
    this.counters.halfOpen = this.halfOpen.size;
    if (this.count === 0 && this.halfOpen.size === 0) this.stopTimer();
  }
}
