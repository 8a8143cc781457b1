/** A fixed-size bit set in BEP 3 order (bit 0 is the high bit of byte 0). */
export class Bitfield {
  readonly bytes: Uint8Array;
  private setCount = 0;

  constructor(readonly length: number, bytes?: Uint8Array) {
    this.bytes = new Uint8Array(Math.ceil(length / 8));
    if (bytes) {
      this.bytes.set(bytes.subarray(0, this.bytes.length));
      this.clearSpareBits();
      for (let i = 0; i < length; i++) if (this.has(i)) this.setCount++;
    }
  }

  /** Whether a wire bitfield of `length` bits has the exact size and clear spare bits (BEP 3 says drop peers otherwise). */
  static isValidWire(payload: Uint8Array, length: number): boolean {
    if (payload.length !== Math.ceil(length / 8)) return false;
    const spare = payload.length * 8 - length;
    return spare === 0 || (payload[payload.length - 1]! & ((1 << spare) - 1)) === 0;
  }

  has(i: number): boolean {
    return (this.bytes[i >> 3]! & (0x80 >> (i & 7))) !== 0;
  }

  set(i: number, on = true): void {
    if (i < 0 || i >= this.length) throw new RangeError(`bit ${i} outside 0..${this.length - 1}`);
    const had = this.has(i);
    if (on === had) return;
    if (on) this.bytes[i >> 3]! |= 0x80 >> (i & 7);
    else this.bytes[i >> 3]! &= ~(0x80 >> (i & 7));
    this.setCount += on ? 1 : -1;
  }

  /** Replace every bit with those of `other` (same length), keeping the count right. */
  assign(other: Bitfield): void {
    this.bytes.set(other.bytes);
    this.setCount = other.count;
  }

  setAll(): void {
    this.bytes.fill(0xff);
    this.clearSpareBits();
    this.setCount = this.length;
  }

  get count(): number {
    return this.setCount;
  }

  get complete(): boolean {
    return this.setCount === this.length;
  }

  get empty(): boolean {
    return this.setCount === 0;
  }

  private clearSpareBits(): void {
    const spare = this.bytes.length * 8 - this.length;
    if (spare > 0) this.bytes[this.bytes.length - 1]! &= 0xff << spare;
  }
}
