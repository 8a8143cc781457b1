/**
 * The sending half of a connection: written bytes cut into packets as the congestion window
 * (LEDBAT) and the peer's receive window allow, each kept until acknowledged; cumulative and
 * selective ACKs, fast retransmission (a packet with three later ones acknowledged, or three
 * duplicate ACKs, is sent again at once, at most once each), the retransmission timer with
 * exponential backoff, zero-window probes, path MTU probes and the FIN.
 */
import type { Family } from '../net/address.js';
import { Ledbat } from './ledbat.js';
import { MtuSearch } from './mtu.js';
import { OutPacket, release, takePacket } from './out-packet.js';
import { HEADER_BYTES, SEQ_MASK, ST_DATA, ST_FIN, seqBefore, seqDistance, writeHeader, type PacketType } from './packet.js';
import { RttEstimator } from './rtt.js';
import { SeqRing } from './seq-ring.js';
import { WriteQueue } from './write-queue.js';

/** Packets in flight at most (libutp's OUTGOING_BUFFER_MAX_SIZE); one slot stays free for the FIN. */
const RING_LIMIT = 1024;
/**
 * The most the congestion window may grow to: 4 times libutp's default send buffer, for long fat
 * paths (RING_LIMIT packets bound it too: 1.4 MB at a 1500-byte MTU).
 */
export const SEND_BUFFER = 4 * 1024 * 1024;
/** Acknowledgements of later packets, or duplicate ACKs, that make a packet count as lost. */
const DUPLICATE_ACKS = 3;
/** Packets resent at once on one selective ACK (libutp resends at most 4). */
const MAX_FAST_RESENDS = 4;
/** A peer that advertises no room gets one packet this long after (libutp: 15 s). */
const ZERO_WINDOW_PROBE_MS = 15_000;

/** Puts a packet on the wire (restamping its header); the sender has already counted it. */
export type Transmit = (p: OutPacket) => void;

export class Sender {
  /** The sequence number of the next new packet. */
  seqNr: number;
  /** Packets from the oldest unacknowledged one up to seqNr - 1. */
  inWindow = 0;
  /** Payload bytes sent and neither acknowledged nor counted lost. */
  inFlight = 0;
  readonly queue = new WriteQueue();
  readonly rtt = new RttEstimator();
  readonly mtu: MtuSearch;
  readonly ledbat: Ledbat;
  /** The peer's advertised receive window. */
  peerWindow: number;
  /** Consecutive retransmission timeouts (reset by any acknowledgement). */
  timeouts = 0;
  /** When the retransmission timer fires (ms; 0: off). */
  rtoAt = 0;
  /** Lowest round trip among the packets acknowledged by the last ACK, microseconds. */
  lastMinRtt = Infinity;
  /** Packets sent again (lost, or presumed lost). */
  resent = 0;
  /** The largest new packet sent that was not a probe. */
  largestPacket = 0;
  /** The FIN: asked for, its sequence number once sent, and whether it was acknowledged. */
  finWanted = false;
  finSeq = -1;
  finAcked = false;
  private readonly ring = new SeqRing<OutPacket>(RING_LIMIT);
  private duplicateAcks = 0;
  /** Packets before this one have been fast-resent already (or acknowledged). */
  private fastResendSeq: number;
  private zeroWindowAt = 0;
  /** The latest send time among the packets the ACK being processed acknowledged (0: none). */
  private deliveredSentAt = 0;
  /** That packet's round trip, microseconds (-1: it was sent more than once, or none). */
  private newestRtt = -1;
  private readonly finished: (() => void)[] = [];

  constructor(
    family: Family,
    seqNr: number,
    private readonly sendId: number,
    peerWindow: number,
    private readonly transmit: Transmit,
  ) {
    this.seqNr = seqNr & SEQ_MASK;
    this.fastResendSeq = this.seqNr;
    this.mtu = new MtuSearch(family);
    this.ledbat = new Ledbat(this.mtu.floor, SEND_BUFFER);
    this.peerWindow = peerWindow;
  }

  /** The oldest unacknowledged sequence number. */
  get oldest(): number {
    return (this.seqNr - this.inWindow) & SEQ_MASK;
  }

  /** Nothing left to send or to be acknowledged. */
  get idle(): boolean {
    return this.inWindow === 0 && this.queue.bytes === 0;
  }

  /** Whether `ack` acknowledges something we could have sent (libutp allows three behind the oldest). */
  ackInRange(ack: number): boolean {
    return seqDistance((this.seqNr - 1) & SEQ_MASK, ack) <= this.inWindow + DUPLICATE_ACKS;
  }

  /** A control packet without payload (the SYN) that is sent and resent like data; `connectionId` as that type needs. */
  sendControl(type: PacketType, connectionId: number, nowUs: number, nowMs: number): void {
    const p = takePacket();
    writeHeader(p.buf, type, 0, connectionId, 0, 0, 0, this.seqNr, 0);
    p.length = HEADER_BYTES;
    this.append(p, nowUs, nowMs);
  }

  /**
   * Send what the windows allow: packets counted lost first, then new ones from the queue (a
   * partial packet too: writes are already gathered per tick), then the FIN once the queue is
   * empty. Returns how many packets went out.
   */
  fill(nowUs: number, nowMs: number): number {
    let sent = 0;
    if (this.inWindow > 0) sent += this.resendLost(nowUs);
    while (this.queue.bytes > 0 || (this.finWanted && this.finSeq < 0)) {
      if (this.inWindow >= RING_LIMIT - 1 && this.queue.bytes > 0) break;
      if (this.queue.bytes === 0) {
        // The FIN takes a sequence number and no payload.
        const p = takePacket();
        writeHeader(p.buf, ST_FIN, 0, this.sendId, 0, 0, 0, this.seqNr, 0);
        p.length = HEADER_BYTES;
        this.finSeq = this.seqNr;
        this.append(p, nowUs, nowMs);
        sent++;
        break;
      }
      const floor = this.mtu.floor;
      let size = floor;
      const probe = this.ledbat.window > 3 * floor ? this.mtu.probeSize(nowMs) : 0;
      if (probe > 0 && this.queue.bytes >= probe - HEADER_BYTES) size = probe;
      const payload = Math.min(this.queue.bytes, size - HEADER_BYTES);
      if (!this.fits(payload, nowMs)) break;
      const p = takePacket();
      writeHeader(p.buf, ST_DATA, 0, this.sendId, 0, 0, 0, this.seqNr, 0);
      this.queue.take(p.buf, HEADER_BYTES, payload, this.finished);
      p.payload = payload;
      p.length = HEADER_BYTES + payload;
      if (size !== floor) {
        p.probe = true;
        this.mtu.sent(size);
      } else if (p.length > this.largestPacket) this.largestPacket = p.length;
      this.append(p, nowUs, nowMs);
      sent++;
    }
    this.callFinished();
    return sent;
  }

  /**
   * An ACK (`ack`, and `sack` bytes at `sackAt` when the packet has them; `state`: a STATE
   * packet, the only kind whose ACK counts as a duplicate). Returns the payload bytes newly
   * acknowledged; `lastMinRtt` holds the lowest round trip among them.
   */
  acknowledge(ack: number, state: boolean, sack: Buffer | undefined, sackAt: number, sackBytes: number, nowUs: number, nowMs: number): number {
    this.lastMinRtt = Infinity;
    this.deliveredSentAt = 0;
    this.newestRtt = -1;
    if (this.inWindow === 0) {
      this.duplicateAcks = 0;
      return 0;
    }
    const oldest = this.oldest;
    let acks = seqDistance(ack, (oldest - 1) & SEQ_MASK);
    if (acks > this.inWindow) acks = 0; // an old ACK
    if (state && acks === 0 && ack === ((oldest - 1) & SEQ_MASK)) this.duplicateAcks++;
    else if (acks > 0) this.duplicateAcks = 0;
    let acked = 0;
    for (let i = 0; i < acks; i++) acked += this.ackPacket((oldest + i) & SEQ_MASK, nowUs, nowMs);
    this.inWindow -= acks;
    if (seqBefore(this.fastResendSeq, (ack + 1) & SEQ_MASK)) this.fastResendSeq = (ack + 1) & SEQ_MASK;
    if (sack && sackBytes > 0) {
      acked += this.selectiveAck(ack, sack, sackAt, sackBytes, nowUs, nowMs);
      this.resendLostAgain(nowUs, nowMs);
    }
    // Packets selectively acknowledged earlier may now be at the front.
    while (this.inWindow > 0 && this.ring.get(this.oldest) === undefined) this.inWindow--;
    if (this.inWindow === 0) {
      this.duplicateAcks = 0;
      // The FIN is the last packet: with nothing left in flight, the peer has the whole stream
      // (a FIN selectively acknowledged ahead of a gap does not count).
      if (this.finSeq >= 0) this.finAcked = true;
    } else if (this.duplicateAcks >= this.lossThreshold() && this.oldest === this.fastResendSeq) {
      const p = this.ring.get(this.oldest);
      this.fastResendSeq = (this.oldest + 1) & SEQ_MASK;
      if (p) this.resendAsLost(p, nowUs, nowMs);
    }
    // One sample per ACK, from the packet sent last among those it acknowledges (Karn's rule:
    // only if it was sent once). Older ones may have waited behind a gap, or their own ACK was
    // lost: their round trip would count that wait.
    if (this.newestRtt >= 0) this.rtt.sample(this.newestRtt / 1000);
    if (acked > 0 || acks > 0) {
      this.timeouts = 0;
      this.rtt.acknowledged();
      this.rtoAt = this.inWindow > 0 ? nowMs + this.rtt.current : 0;
    }
    return acked;
  }

  /** The peer's window, from any packet it sent. */
  setPeerWindow(window: number): void {
    this.peerWindow = window;
    if (window > 0) this.zeroWindowAt = 0;
  }

  /**
   * Timers: the retransmission timeout (every packet in flight counts lost, the oldest goes
   * again, the window starts over), and the zero-window probe. Returns whether a timeout fired.
   */
  tick(nowUs: number, nowMs: number): boolean {
    if (this.zeroWindowAt !== 0 && nowMs >= this.zeroWindowAt) {
      // Let one packet through: its ACK brings the peer's window anew.
      this.zeroWindowAt = 0;
      this.peerWindow = Math.max(this.peerWindow, this.mtu.floor);
    }
    if (this.rtoAt === 0 || nowMs < this.rtoAt) return false;
    if (this.inWindow === 0) {
      this.rtoAt = 0;
      return false;
    }
    this.timeouts++;
    this.rtt.backOff();
    this.rtoAt = nowMs + this.rtt.current;
    const oldest = this.ring.get(this.oldest);
    if (this.inWindow === 1 && oldest?.probe) {
      // The probe alone was lost: too big, most likely, not congestion.
      this.mtu.lost(nowMs);
      oldest.probe = false;
    } else {
      this.ledbat.timedOut(this.mtu.floor);
      for (let i = 0; i < this.inWindow; i++) {
        const p = this.ring.get((this.oldest + i) & SEQ_MASK);
        if (!p || p.needResend || p.transmissions === 0) continue;
        if (p.probe) {
          this.mtu.lost(nowMs);
          p.probe = false;
        }
        p.needResend = true;
        this.inFlight -= p.payload;
      }
    }
    if (oldest && !oldest.sending) this.send(oldest, nowUs, false);
    return true;
  }

  /** A probe could not be sent as one (too big for the interface, or no way to forbid fragmenting): it goes as data. */
  probeFailed(p: OutPacket, nowMs: number): void {
    if (!p.probe) return;
    p.probe = false;
    this.mtu.lost(nowMs);
  }

  /** Drop everything (the connection is gone); writes waiting are told they are done. */
  clear(): void {
    this.ring.clear(release);
    this.inWindow = 0;
    this.inFlight = 0;
    this.rtoAt = 0;
    this.queue.clear();
  }

  /** Whether `payload` more bytes may go now. */
  private fits(payload: number, nowMs: number): boolean {
    const window = Math.min(this.ledbat.window, this.peerWindow);
    if (this.inFlight + payload <= window) return true;
    if (this.peerWindow < payload && this.inFlight === 0) {
      // The peer has no room: wait, then probe.
      if (this.zeroWindowAt === 0) this.zeroWindowAt = nowMs + ZERO_WINDOW_PROBE_MS;
      return false;
    }
    this.ledbat.full(nowMs);
    // A congestion window under one packet still lets one packet go at a time.
    return this.inFlight === 0;
  }

  private append(p: OutPacket, nowUs: number, nowMs: number): void {
    this.ring.reserve(this.oldest, this.inWindow + 1);
    this.ring.set(this.seqNr, p);
    this.seqNr = (this.seqNr + 1) & SEQ_MASK;
    if (this.inWindow === 0) this.rtoAt = nowMs + this.rtt.current;
    this.inWindow++;
    this.send(p, nowUs, true);
  }

  private send(p: OutPacket, nowUs: number, fresh: boolean): void {
    if (!fresh) this.resent++;
    if (fresh || p.needResend) this.inFlight += p.payload;
    p.needResend = false;
    p.transmissions++;
    p.sentAt = nowUs;
    this.transmit(p);
  }

  /** Packets counted lost by a timeout go again, oldest first, as the window allows. */
  private resendLost(nowUs: number): number {
    let sent = 0;
    const window = Math.min(this.ledbat.window, this.peerWindow);
    for (let i = 0; i < this.inWindow; i++) {
      const p = this.ring.get((this.oldest + i) & SEQ_MASK);
      if (!p || !p.needResend || p.sending) continue;
      if (this.inFlight > 0 && this.inFlight + p.payload > window) break;
      this.send(p, nowUs, false);
      sent++;
    }
    return sent;
  }

  private ackPacket(seq: number, nowUs: number, nowMs: number): number {
    const p = this.ring.get(seq);
    if (!p || p.transmissions === 0) return 0;
    this.ring.set(seq, undefined);
    const rtt = nowUs - p.sentAt;
    if (p.sentAt > this.deliveredSentAt) {
      this.deliveredSentAt = p.sentAt;
      this.newestRtt = p.transmissions === 1 ? rtt : -1;
    }
    if (rtt < this.lastMinRtt) this.lastMinRtt = rtt;
    if (!p.needResend) this.inFlight -= p.payload;
    if (p.probe) this.mtu.acknowledged(nowMs);
    const bytes = p.payload;
    release(p);
    return bytes;
  }

  /**
   * The selective ACK: bit i of byte j says packet ack + 2 + 8j + i arrived. Those are
   * acknowledged; a packet not received with at least three later ones received is lost
   * (packet ack + 1 included), and the oldest few such go again now.
   */
  private selectiveAck(ack: number, sack: Buffer, at: number, bytes: number, nowUs: number, nowMs: number): number {
    const base = (ack + 2) & SEQ_MASK;
    // Only bits for packets we sent and still hold count.
    const sentAhead = seqDistance(this.seqNr, base);
    const bits = Math.min(bytes * 8, sentAhead > SEQ_MASK - RING_LIMIT ? 0 : sentAhead);
    let acked = 0;
    let later = 0;
    const lost: number[] = [];
    const oldest = this.oldest;
    const threshold = this.lossThreshold();
    for (let i = bits - 1; i >= -1; i--) {
      const seq = (base + i) & SEQ_MASK;
      // Outside what is in flight (an old ACK reaching behind the oldest): not ours to touch.
      if (seqDistance(seq, oldest) >= this.inWindow) continue;
      const set = i >= 0 && (sack[at + (i >> 3)]! & (1 << (i & 7))) !== 0;
      if (set) {
        later++;
        acked += this.ackPacket(seq, nowUs, nowMs);
        continue;
      }
      if (later < threshold || seqBefore(seq, this.fastResendSeq)) continue;
      const p = this.ring.get(seq);
      if (p && p.transmissions > 0 && !p.needResend) lost.push(seq);
    }
    // `lost` runs from the newest down: resend the oldest ones.
    let resent = 0;
    let congestion = false;
    for (let k = lost.length - 1; k >= 0 && resent < MAX_FAST_RESENDS; k--) {
      const seq = lost[k]!;
      const p = this.ring.get(seq)!;
      if (p.sending) continue;
      if (p.probe) {
        this.mtu.lost(nowMs);
        p.probe = false;
      } else congestion = true;
      this.send(p, nowUs, false);
      this.fastResendSeq = (seq + 1) & SEQ_MASK;
      resent++;
    }
    if (congestion) this.ledbat.lost(nowMs);
    return acked;
  }

  /**
   * A packet already sent again is lost again when a packet sent well after its last copy has
   * arrived (RFC 8985's RACK rule; the duplicate count cannot tell, as it fires once per packet).
   * Without this, a lost retransmission stalls the connection until the timeout.
   */
  private resendLostAgain(nowUs: number, nowMs: number): void {
    if (this.deliveredSentAt === 0) return;
    const slack = Math.max(1000, (this.rtt.srtt * 1000) / 4);
    let resent = 0;
    const oldest = this.oldest;
    for (let i = 0; i < this.inWindow && resent < MAX_FAST_RESENDS; i++) {
      const p = this.ring.get((oldest + i) & SEQ_MASK);
      if (!p || p.sentAt + slack >= this.deliveredSentAt) {
        // First copies go out in sequence order: from one sent too recently to tell, all later are too.
        if (p?.transmissions === 1) break;
        continue;
      }
      if (p.transmissions < 2 || p.needResend || p.sending) continue;
      this.ledbat.lost(nowMs);
      this.send(p, nowUs, false);
      resent++;
    }
  }

  /**
   * Later packets acknowledged (or duplicate ACKs) that make one count lost: three, or fewer
   * when fewer are in flight and no more could come (RFC 5827's early retransmit), so that a
   * small window does not wait for the timeout.
   */
  private lossThreshold(): number {
    return Math.max(1, Math.min(DUPLICATE_ACKS, this.inWindow - 1));
  }

  /** One packet counted lost by duplicate ACKs goes again now. */
  private resendAsLost(p: OutPacket, nowUs: number, nowMs: number): void {
    if (p.sending || p.transmissions === 0) return;
    if (p.probe) {
      this.mtu.lost(nowMs);
      p.probe = false;
    } else this.ledbat.lost(nowMs);
    if (p.needResend) return; // the timeout's resend will send it
    this.send(p, nowUs, false);
  }

  private callFinished(): void {
    if (this.finished.length === 0) return;
    const done = this.finished.splice(0);
    for (const f of done) f();
  }
}
