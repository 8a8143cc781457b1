/**
 * Piece-sized buffers reused from one downloaded piece to the next. Blocks are copied into them
 * as they arrive, so the socket's read buffers die young and nothing per block lives until the
 * piece is written: measured, keeping 16 KiB views of the read buffers instead cost the leecher
 * more in garbage collection and fresh-page faults than the copy costs.
 */
export class PieceBuffers {
  private readonly free: Buffer[] = [];

  constructor(
    private readonly pieceLength: number,
    /** Buffers kept for reuse; more are allocated when needed and dropped when given back. */
    private readonly maxFree: number,
  ) {}

  /** A buffer of `size` bytes (uninitialised). */
  take(size: number): Buffer {
    if (size > this.pieceLength) return Buffer.allocUnsafeSlow(size);
    return (this.free.pop() ?? Buffer.allocUnsafeSlow(this.pieceLength)).subarray(0, size);
  }

  /** The buffer is no longer read or written by anyone (its piece is written or dropped). */
  give(b: Buffer): void {
    if (b.buffer.byteLength !== this.pieceLength || this.free.length >= this.maxFree) return;
    this.free.push(Buffer.from(b.buffer, 0, this.pieceLength));
  }
}
