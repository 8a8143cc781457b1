/**
 * One uTP connection: the state machine (SYN sent, connected, closing with our FIN, closed),
 * the one-way delay measurements both ways (the timestamps every packet carries and echoes),
 * ACKs deferred to the end of each read batch, keep-alives, and the timeouts that end a
 * connection whose peer went away. The sending and receiving halves do the rest (sender.ts,
 * receiver.ts); the socket it lives on routes packets to it and sends what it asks.
 */
import type { PeerAddress } from '../net/compact.js';
import { DelayHistory } from './delay-history.js';
import type { OutPacket } from './out-packet.js';
import { EXT_SACK, HEADER_BYTES, restampHeader, SEQ_MASK, ST_DATA, ST_FIN, ST_STATE, ST_SYN, u32Before, writeHeader, type Header } from './packet.js';
import { Receiver, RECEIVE_BUFFER, type ReorderBudget } from './receiver.js';
import { Sender } from './sender.js';

/** Retransmission timeouts in a row that end a connection (libutp gives up after four resends). */
const MAX_TIMEOUTS = 4;
/** For a SYN (libutp: two). */
const MAX_SYN_TIMEOUTS = 2;
/** Nothing sent for this long: a keep-alive holds NAT mappings open (libutp measured 29 s on home routers). */
const KEEPALIVE_MS = 29_000;
/** Nothing at all received for this long: the peer is gone (the BitTorrent layer keeps alive every 2 min). */
const IDLE_MS = 5 * 60_000;
/** How long a closed connection waits for its FIN to be acknowledged before it goes anyway. */
const LINGER_MS = 10_000;
/** Unsent bytes under which a writer waiting for room is told to write more. */
const LOW_WATER = 256 * 1024;
/** uTorrent once sent this for "no sample"; libtorrent ignores it too. */
const NO_SAMPLE = 0x7fffffff;
/** The most one clock-skew correction moves our base delay (libutp: 10 ms). */
const MAX_SKEW_SHIFT_US = 10_000;
/** Room for a STATE packet: the header, one extension header, the largest bitmask. */
const STATE_BYTES = HEADER_BYTES + 2 + 128;

/** What a connection needs from the socket it lives on. */
export interface ConnectionHost {
  /** Send `length` bytes of `buf` to the connection's peer; `sent` once the buffer may change. */
  send(conn: UtpConnection, buf: Buffer, length: number, sent?: () => void): void;
  /** Send a path MTU probe at once with "don't fragment" forced; false if it could not go so. */
  sendProbe(conn: UtpConnection, buf: Buffer, length: number): boolean;
  /** Run `flush` at the end of this read batch or tick. */
  wantFlush(conn: UtpConnection): void;
  /** The connection is over: remove it from the socket. */
  forget(conn: UtpConnection): void;
  readonly budget: ReorderBudget;
}

/** What the connection tells whoever reads and writes it (the transport). */
export interface ConnectionHandlers {
  /** `transient`: overwritten once this returns (a batch read buffer): copy what is kept. */
  data(chunk: Buffer, transient: boolean): void;
  drain(): void;
  /** The connection ended, not by our close(); called once. */
  end(reason: string): void;
}

export type ConnectionState = 'syn-sent' | 'connected' | 'closing' | 'closed';

/** Microseconds on the performance clock. */
export const nowMicros = (): number => performance.now() * 1000;

export class UtpConnection {
  state: ConnectionState;
  handlers?: ConnectionHandlers;
  readonly sender: Sender;
  /** Set once connected (an outgoing connection learns the peer's first sequence number then). */
  receiver?: Receiver;
  /** Bytes delivered before anyone read them, and what the reader takes at most meanwhile (our window's bound). */
  unread = 0;
  readerRoom = Infinity;
  /** Next in this socket's chain of connections with the same receive id. */
  nextSameId?: UtpConnection;
  private readonly ourDelay = new DelayHistory();
  private readonly theirDelay = new DelayHistory();
  /** Our last sample of their delay (our clock minus their timestamp), echoed in every packet. */
  private replyMicro = 0;
  private lastReceived: number;
  private lastSent: number;
  private ackWanted = false;
  private lingerUntil = 0;
  private aboveLowWater = false;
  private onConnect?: { resolve: () => void; reject: (e: Error) => void };
  private readonly transmitPacket = (p: OutPacket): void => this.transmit(p);

  constructor(
    private readonly host: ConnectionHost,
    readonly remote: PeerAddress,
    /** Packets to us carry this id; we send with sendId. */
    readonly recvId: number,
    readonly sendId: number,
    seqNr: number,
    /** Accepted: the peer's SYN sequence number. Dialing: undefined until the SYN is answered. */
    peerSeq: number | undefined,
    peerWindow: number,
    nowMs: number,
  ) {
    this.sender = new Sender(remote.family, seqNr, sendId, peerWindow, this.transmitPacket);
    this.state = peerSeq === undefined ? 'syn-sent' : 'connected';
    if (peerSeq !== undefined) this.receiver = this.makeReceiver(peerSeq);
    this.lastReceived = nowMs;
    this.lastSent = nowMs;
  }

  /** Dial: send the SYN; resolves once it is answered. */
  connect(nowMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.onConnect = { resolve, reject };
      this.sender.sendControl(ST_SYN, this.recvId, nowMicros(), nowMs);
    });
  }

  /** Bytes accepted by write() and not yet put into packets. */
  get queuedBytes(): number {
    return this.sender.queue.bytes;
  }

  write(b: Buffer, done?: () => void): void {
    if (this.state !== 'connected') return done?.();
    this.sender.queue.push(b, done);
    if (this.sender.queue.bytes >= LOW_WATER) this.aboveLowWater = true;
    this.host.wantFlush(this);
  }

  /**
   * Our side is done: nothing more is read or told; bytes in flight are still delivered, the
   * rest is dropped, and a FIN follows. The connection stays until the FIN is acknowledged
   * (or LINGER_MS), so that the peer learns the stream ended.
   */
  close(): void {
    this.handlers = undefined;
    if (this.state === 'syn-sent') return this.destroy();
    if (this.state !== 'connected') return;
    this.state = 'closing';
    this.sender.queue.clear();
    this.sender.finWanted = true;
    this.lingerUntil = performance.now() + LINGER_MS;
    this.host.wantFlush(this);
  }

  /** The reader took bytes that were waiting for it: tell the peer our window is open again. */
  windowOpened(): void {
    if (this.state !== 'connected') return;
    this.ackWanted = true;
    this.host.wantFlush(this);
  }

  /** A packet for this connection (the socket matched its id and source); `transient`: `b` is overwritten once this returns. */
  receive(h: Header, b: Buffer, nowUs: number, nowMs: number, transient: boolean): void {
    if (this.state === 'closed') return;
    if (h.type === ST_SYN) return; // a late copy of the peer's SYN: it has our answer already
    if (this.state === 'syn-sent') {
      // Only the answer to our SYN counts: it acknowledges the SYN's sequence number.
      if (h.ack !== ((this.sender.seqNr - 1) & SEQ_MASK) || (h.type !== ST_STATE && h.type !== ST_DATA)) return;
    } else if (!this.sender.ackInRange(h.ack)) return; // acknowledges what we never sent: spoofed or broken
    this.lastReceived = nowMs;
    this.measureDelays(h, nowUs, nowMs);
    this.sender.setPeerWindow(h.window);
    if (this.state === 'syn-sent') {
      this.state = 'connected';
      this.receiver = this.makeReceiver((h.seq - 1) & SEQ_MASK);
      this.onConnect?.resolve();
      this.onConnect = undefined;
    }
    const sack = h.sackBytes > 0 ? b : undefined;
    const acked = this.sender.acknowledge(h.ack, h.type === ST_STATE, sack, h.sackOffset, h.sackBytes, nowUs, nowMs);
    if (acked > 0 && h.timestampDifference !== 0 && h.timestampDifference !== NO_SAMPLE) this.congestionControl(acked, nowMs);
    if ((h.type === ST_DATA || h.type === ST_FIN) && this.receiver) {
      const payload = h.payloadOffset < b.length ? b.subarray(h.payloadOffset) : EMPTY;
      const arrival = this.receiver.arrive(h.type === ST_FIN, h.seq, payload, transient);
      if (arrival !== 'dropped') this.ackWanted = true;
      if ((this.state as ConnectionState) === 'closed') return; // the reader closed us while taking the data
      if (this.receiver.ended) this.peerEnded();
    }
    this.host.wantFlush(this);
  }

  /** The peer reset the connection. */
  reset(): void {
    if (this.state === 'syn-sent') return this.fail(new Error('connection refused (uTP reset)'));
    this.fail(new Error('connection reset by peer'));
  }

  /** End of a read batch or a tick: send what the windows allow, and the ACK owed. */
  flush(nowMs: number): void {
    if (this.state === 'closed' || this.state === 'syn-sent') return;
    const nowUs = nowMicros();
    const sent = this.sender.fill(nowUs, nowMs);
    // Data packets carry our ACK; a selective ACK goes in a STATE packet of its own.
    if (this.ackWanted && (sent === 0 || (this.receiver?.aheadCount ?? 0) > 0)) this.sendState(nowUs, 0);
    this.ackWanted = false;
    if (this.aboveLowWater && this.sender.queue.bytes < LOW_WATER) {
      this.aboveLowWater = false;
      this.handlers?.drain();
    }
    if (this.state === 'closing' && this.sender.finAcked) this.destroy();
  }

  /** Timers, every few tens of milliseconds. */
  tick(nowMs: number): void {
    if (this.state === 'closed') return;
    if (this.sender.tick(nowMicros(), nowMs)) {
      const limit = this.state === 'syn-sent' ? MAX_SYN_TIMEOUTS : MAX_TIMEOUTS;
      if (this.sender.timeouts > limit) {
        return this.fail(new Error(this.state === 'syn-sent' ? 'connect timed out (no answer to the uTP SYN)' : 'timed out: the peer stopped acknowledging'));
      }
    }
    if (this.state === 'closing' && nowMs >= this.lingerUntil) return this.destroy();
    if (this.state !== 'connected') return;
    if (nowMs - this.lastReceived > IDLE_MS) return this.fail(new Error('timed out: nothing received for 5 minutes'));
    if (nowMs - this.lastSent >= KEEPALIVE_MS) {
      // An ACK of the packet before the last one: it holds the mappings open and is never
      // counted as a duplicate ACK (libutp's keep-alive).
      this.sendState(nowMicros(), 1);
    }
    // A window that was blocked may have opened (a zero-window probe is due, a timeout resent).
    if (!this.sender.idle) this.host.wantFlush(this);
  }

  /** Ends the connection now (no FIN): a failure, the end of lingering, or an abandoned dial. */
  destroy(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.handlers = undefined;
    this.sender.clear();
    this.receiver?.clear();
    this.onConnect?.reject(new Error('connect aborted'));
    this.onConnect = undefined;
    this.host.forget(this);
  }

  private fail(e: Error): void {
    const handlers = this.handlers;
    const connecting = this.onConnect;
    this.onConnect = undefined;
    this.destroy();
    connecting?.reject(e);
    handlers?.end(e.message);
  }

  /** Everything up to the peer's FIN has arrived: tell the reader, whose close() sends our FIN. */
  private peerEnded(): void {
    const handlers = this.handlers;
    this.handlers = undefined;
    if (handlers) handlers.end('connection closed by peer');
    else if (this.state === 'connected') this.close();
  }

  private makeReceiver(ackNr: number): Receiver {
    return new Receiver(ackNr, this.host.budget, (payload, transient) => this.handlers?.data(payload, transient));
  }

  /**
   * Both one-way delays: theirs (our clock minus their timestamp), echoed back to them, and ours
   * (their echo of it). When their base delay drops, our clocks drift apart: our base moves up
   * by as much (at most 10 ms), as libutp corrects skew.
   */
  private measureDelays(h: Header, nowUs: number, nowMs: number): void {
    if (h.timestamp !== 0) {
      this.replyMicro = (Math.floor(nowUs) - h.timestamp) >>> 0;
      const before = this.theirDelay.initialized ? this.theirDelay.base : undefined;
      this.theirDelay.add(this.replyMicro, nowMs);
      if (before !== undefined && u32Before(this.theirDelay.base, before)) {
        const drop = (before - this.theirDelay.base) >>> 0;
        if (drop <= MAX_SKEW_SHIFT_US && this.ourDelay.initialized) this.ourDelay.shift(drop);
      }
    }
    if (h.timestampDifference !== 0 && h.timestampDifference !== NO_SAMPLE) this.ourDelay.add(h.timestampDifference, nowMs);
  }

  /** LEDBAT on newly acknowledged bytes: our queuing delay can be no more than the round trip. */
  private congestionControl(acked: number, nowMs: number): void {
    const minRtt = this.sender.lastMinRtt;
    let delay = this.ourDelay.value;
    if (Number.isFinite(minRtt) && delay > minRtt) {
      this.ourDelay.shift(Math.floor(delay - minRtt));
      delay = Math.floor(minRtt);
    }
    this.sender.ledbat.acknowledged(acked, delay, nowMs);
  }

  /** The fields that change with each send, then onto the wire. */
  private transmit(p: OutPacket): void {
    const ack = this.receiver ? this.receiver.ackNr : 0;
    restampHeader(p.buf, Math.floor(p.sentAt), this.replyMicro, this.window(), ack);
    this.lastSent = performance.now();
    if (p.probe) {
      if (this.host.sendProbe(this, p.buf, p.length)) return;
      // Too big for the interface itself, or no way to forbid fragmenting: not a probe after all.
      this.sender.probeFailed(p, this.lastSent);
    }
    p.sending = true;
    this.host.send(this, p.buf, p.length, p.sent);
  }

  /** A STATE packet: our ACK (minus `behind`, for a keep-alive), with the selective ACK when packets are held ahead. */
  private sendState(nowUs: number, behind: number): void {
    const receiver = this.receiver;
    if (!receiver) return;
    const b = Buffer.allocUnsafe(STATE_BYTES);
    const sack = behind === 0 ? receiver.writeSack(b, HEADER_BYTES + 2) : 0;
    writeHeader(b, ST_STATE, sack > 0 ? EXT_SACK : 0, this.sendId, Math.floor(nowUs), this.replyMicro, this.window(), this.sender.seqNr, (receiver.ackNr - behind) & SEQ_MASK);
    if (sack > 0) {
      b[HEADER_BYTES] = 0; // no further extension
      b[HEADER_BYTES + 1] = sack;
    }
    this.lastSent = performance.now();
    this.host.send(this, b, sack > 0 ? HEADER_BYTES + 2 + sack : HEADER_BYTES);
  }

  private window(): number {
    const room = Math.max(0, this.readerRoom - this.unread);
    return Math.min(room, this.receiver ? this.receiver.window(this.unread) : RECEIVE_BUFFER);
  }
}

const EMPTY = Buffer.alloc(0);
