/**
 * The receiving half of a connection: payload handed on in sequence order, packets that arrive
 * ahead of a gap kept until it fills (at most REORDER_LIMIT packets ahead, and within a byte
 * budget shared by every connection of a socket, so that no peer can make us hold more than it
 * is owed), the end of the stream once the FIN's turn comes, the selective ACK bitmask of what is
 * held, and the receive window we advertise.
 */
import { SEQ_MASK, seqBefore, seqDistance } from './packet.js';
import { SeqRing } from './seq-ring.js';

/** How far ahead of the next expected packet one may arrive and be kept (libutp's REORDER_BUFFER_MAX_SIZE). */
export const REORDER_LIMIT = 1024;
/**
 * The receive buffer we advertise: 4 times libutp's default UTP_RCVBUF, as a long fat path needs
 * (1 MiB over 100 ms is 10 MB/s); what is held out of order is bounded per socket (ReorderBudget).
 */
export const RECEIVE_BUFFER = 4 * 1024 * 1024;
/** Most bytes of selective ACK bitmask we send (covers 1024 packets). */
const MAX_SACK_BYTES = 128;
/** Marks a FIN's place among the packets held ahead. */
const FIN_MARK = Buffer.alloc(0);

/** Bytes held out of order, by all connections of a socket together. */
export class ReorderBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

export type Arrival =
  /** Taken: in order (delivered) or held ahead of a gap. */
  | 'taken'
  /** Already had it (a duplicate, or older than what was delivered): answer with an ACK all the same. */
  | 'duplicate'
  /** Could not keep it (too far ahead, past the FIN, over the budget): not acknowledged. */
  | 'dropped';

export class Receiver {
  /** The last packet received in order. */
  ackNr: number;
  /** Packets held ahead of a gap, and their payload bytes. */
  aheadCount = 0;
  aheadBytes = 0;
  /** The furthest packet held ahead (valid while aheadCount > 0). */
  private furthest = 0;
  private readonly ahead = new SeqRing<Buffer>(REORDER_LIMIT);
  /** A FIN arrived; its sequence number. */
  finSeen = false;
  private finSeq = 0;
  /** Everything up to and including the FIN has arrived. */
  ended = false;

  constructor(
    /** The sequence number before the first one expected. */
    ackNr: number,
    private readonly budget: ReorderBudget,
    /** Payload in order, called synchronously; `transient`: overwritten once this returns (copy what is kept). */
    private readonly deliver: (payload: Buffer, transient: boolean) => void,
  ) {
    this.ackNr = ackNr;
  }

  /** A DATA or FIN packet with sequence number `seq`; `transient`: its payload is overwritten once this returns. */
  arrive(fin: boolean, seq: number, payload: Buffer, transient: boolean): Arrival {
    if (this.ended) return 'duplicate';
    const distance = seqDistance(seq, this.ackNr + 1);
    if (distance >= REORDER_LIMIT) {
      // Behind what was delivered (an old copy) or absurdly far ahead.
      return distance >= SEQ_MASK + 1 - REORDER_LIMIT ? 'duplicate' : 'dropped';
    }
    if (this.finSeen && seqBefore(this.finSeq, seq)) return 'dropped';
    if (fin && !this.finSeen) {
      this.finSeen = true;
      this.finSeq = seq;
    }
    if (distance === 0) {
      this.ackNr = seq;
      if (!fin && payload.length > 0) this.deliver(payload, transient);
      this.advance();
      return 'taken';
    }
    if (this.ahead.get(seq) !== undefined) return 'duplicate';
    const bytes = fin ? 0 : payload.length;
    if (this.budget.used + bytes > this.budget.limit || this.aheadBytes + bytes > RECEIVE_BUFFER) return 'dropped';
    this.ahead.reserve((this.ackNr + 1) & SEQ_MASK, distance + 1);
    this.ahead.set(seq, fin ? FIN_MARK : transient ? Buffer.from(payload) : payload);
    if (this.aheadCount === 0 || seqBefore(this.furthest, seq)) this.furthest = seq;
    this.aheadCount++;
    this.aheadBytes += bytes;
    this.budget.used += bytes;
    return 'taken';
  }

  /** Bytes we can still take in, given what is held ahead and what the reader has not taken (`unread`). */
  window(unread: number): number {
    return Math.max(0, RECEIVE_BUFFER - this.aheadBytes - unread);
  }

  /**
   * Writes the selective ACK bitmask (bit i of byte j: packet ackNr + 2 + 8j + i held) into `b`
   * at `at`; returns its length, a multiple of 4 (0 when nothing is held ahead).
   */
  writeSack(b: Buffer, at: number): number {
    if (this.aheadCount === 0) return 0;
    const first = (this.ackNr + 2) & SEQ_MASK;
    const span = seqDistance(this.furthest, first) + 1;
    const bytes = Math.min(MAX_SACK_BYTES, Math.ceil(span / 32) * 4);
    b.fill(0, at, at + bytes);
    // Bits past the furthest packet stay clear: the ring would answer for an older sequence
    // number in the same slot.
    const bits = Math.min(span, bytes * 8);
    for (let i = 0; i < bits; i++) if (this.ahead.get(first + i) !== undefined) b[at + (i >> 3)]! |= 1 << (i & 7);
    return bytes;
  }

  /** The connection is gone: what is held goes back to the budget. */
  clear(): void {
    this.budget.used -= this.aheadBytes;
    this.aheadBytes = 0;
    this.aheadCount = 0;
    this.ahead.clear();
  }

  /** Hand on what was held behind the packet just delivered, up to the next gap. */
  private advance(): void {
    for (;;) {
      if (this.finSeen && this.ackNr === this.finSeq) {
        this.ended = true;
        // Anything held past the FIN is void.
        if (this.aheadCount > 0) this.clear();
        return;
      }
      if (this.aheadCount === 0) return;
      const next = (this.ackNr + 1) & SEQ_MASK;
      const held = this.ahead.get(next);
      if (held === undefined) return;
      this.ahead.set(next, undefined);
      this.aheadCount--;
      this.aheadBytes -= held.length;
      this.budget.used -= held.length;
      this.ackNr = next;
      if (held !== FIN_MARK && held.length > 0) this.deliver(held, false);
    }
  }
}
