/**
 * A free list of piece-sized buffers. Downloading allocates one buffer per piece; reusing them
 * once written saves the allocation and, above all, the garbage collection of hundreds of
 * megabytes of short-lived external memory per second.
 */
/** Memory for piece buffers (downloading + verifying + writing) the picker stays within. */
export const PIECE_MEMORY = 64 * 1024 * 1024;

export class PieceBuffers {
  private readonly free: Buffer[] = [];

  constructor(
    private readonly size: number,
    private readonly keep = 32,
  ) {}

  /** A buffer of `length` bytes that owns its ArrayBuffer (so it can travel to a hash worker). */
  take(length: number): Buffer {
    if (length === this.size) {
      const b = this.free.pop();
      if (b) return b;
    }
    return Buffer.allocUnsafeSlow(length);
  }

  give(b: Buffer): void {
    if (b.length === this.size && b.byteOffset === 0 && this.free.length < this.keep) this.free.push(b);
  }
}
