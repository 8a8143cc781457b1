/**
 * Slots indexed by 16-bit sequence number, for the packets in flight (sender) and the packets
 * that arrived ahead of a gap (receiver). A power-of-two ring that grows as the live range
 * widens, up to a fixed limit; a connection that moves little data keeps a small one.
 */
import { SEQ_MASK } from './packet.js';

const INITIAL_SLOTS = 16;

export class SeqRing<T> {
  private slots: (T | undefined)[] = new Array<T | undefined>(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;

  /** `limit`: the widest live range it must hold (a power of two). */
  constructor(readonly limit: number) {}

  get(seq: number): T | undefined {
    return this.slots[seq & this.mask];
  }

  set(seq: number, value: T | undefined): void {
    this.slots[seq & this.mask] = value;
  }

  /**
   * Make room for sequence numbers from `first` to `first + span - 1` (span at most `limit`),
   * keeping every value stored for `first` up to the current capacity.
   */
  reserve(first: number, span: number): void {
    if (span <= this.mask + 1) return;
    let size = (this.mask + 1) * 2;
    while (size < span) size *= 2;
    if (size > this.limit) throw new RangeError(`a sequence range of ${span} exceeds the limit of ${this.limit}`);
    const old = this.slots;
    const oldMask = this.mask;
    this.slots = new Array<T | undefined>(size);
    this.mask = size - 1;
    for (let i = 0; i <= oldMask; i++) {
      const seq = (first + i) & SEQ_MASK;
      this.slots[seq & this.mask] = old[seq & oldMask];
    }
  }

  /** Drop every value (the connection is gone). */
  clear(visit?: (v: T) => void): void {
    if (visit) for (const v of this.slots) if (v !== undefined) visit(v);
    this.slots = new Array<T | undefined>(INITIAL_SLOTS);
    this.mask = INITIAL_SLOTS - 1;
  }
}
