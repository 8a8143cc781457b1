/**
 * Bytes written to a connection and not yet put into packets, in order, with each write's
 * `done` called once its last byte has been copied into a packet (the caller may then reuse or
 * release the buffer: a cached block shared by several uploads, an encryption slab).
 */

interface Chunk {
  buf: Buffer;
  done: (() => void) | undefined;
}

export class WriteQueue {
  private chunks: (Chunk | undefined)[] = [];
  private head = 0;
  /** Bytes of chunks[head] already taken. */
  private offset = 0;
  /** Bytes waiting. */
  bytes = 0;

  push(buf: Buffer, done: (() => void) | undefined): void {
    if (buf.length === 0) {
      if (done) this.chunks.push({ buf, done });
      return;
    }
    this.chunks.push({ buf, done });
    this.bytes += buf.length;
  }

  /**
   * Copies up to `n` bytes into `into` at `at`; returns how many. The `done` of every write
   * finished by this goes into `finished`, to be called once the caller is in a consistent state.
   */
  take(into: Buffer, at: number, n: number, finished: (() => void)[]): number {
    let copied = 0;
    while (this.head < this.chunks.length) {
      const c = this.chunks[this.head]!;
      const left = c.buf.length - this.offset;
      if (left > 0) {
        if (copied === n) break;
        const k = Math.min(left, n - copied);
        c.buf.copy(into, at + copied, this.offset, this.offset + k);
        copied += k;
        this.offset += k;
        if (k < left) break;
      }
      if (c.done) finished.push(c.done);
      this.chunks[this.head++] = undefined; // let the buffer go
      this.offset = 0;
    }
    this.bytes -= copied;
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    return copied;
  }

  /** Drops everything; every `done` is called (the bytes will never be sent). */
  clear(): void {
    const pending = this.chunks.slice(this.head);
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.bytes = 0;
    for (const c of pending) c?.done?.();
  }
}
