/**
 * Piece-sized buffers reused from one piece to the next, for downloads (blocks are copied in as
 * they arrive, so the socket's read buffers die young: measured, keeping 16 KiB views of them
 * cost the leecher more in garbage collection and fresh-page faults than the copy) and for
 * uploads (pieces read from disk). Fresh 1 MiB buffers per piece cost major collections.
 */
export class PieceBuffers {
  private readonly free: Buffer[] = [];

  /** Buffers kept for reuse; more are allocated when needed and dropped when given back. */
  private readonly maxFree: number;

  /** `memoryBytes`: what the kept buffers may add up to (at least one is kept). */
  constructor(
    private readonly pieceLength: number,
    memoryBytes: number,
  ) {
    this.maxFree = Math.max(1, Math.floor(memoryBytes / Math.max(1, pieceLength)));
  }

  /** A buffer of `size` bytes (uninitialised). */
  take(size: number): Buffer {
    if (size > this.pieceLength) return Buffer.allocUnsafeSlow(size);
    return (this.free.pop() ?? Buffer.allocUnsafeSlow(this.pieceLength)).subarray(0, size);
  }

  /** The buffer is no longer read or written by anyone. */
  give(b: Buffer): void {
    if (b.buffer.byteLength !== this.pieceLength || this.free.length >= this.maxFree) return;
    this.free.push(Buffer.from(b.buffer, 0, this.pieceLength));
  }
}
