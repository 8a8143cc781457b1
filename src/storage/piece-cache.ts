/**
 * Whole pieces read for uploading, kept in a small LRU: peers request 16 KiB blocks in order, so
 * one positional read of the piece serves all its blocks instead of one read per block.
 */
export class PieceCache {
  private readonly pieces = new Map<number, Promise<Buffer>>();
  private bytes = 0;
  private readonly sizes = new Map<number, number>();

  constructor(
    private readonly load: (index: number) => Promise<Buffer>,
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  async block(index: number, begin: number, length: number): Promise<Buffer> {
    let p = this.pieces.get(index);
    if (p) {
      this.pieces.delete(index);
      this.pieces.set(index, p);
    } else {
      p = this.load(index);
      this.pieces.set(index, p);
      p.then(
        (buf) => {
          if (this.pieces.get(index) !== p) return;
          this.sizes.set(index, buf.length);
          this.bytes += buf.length;
          this.evict();
        },
        () => this.pieces.delete(index),
      );
    }
    const piece = await p;
    return piece.subarray(begin, begin + length);
  }

  clear(): void {
    this.pieces.clear();
    this.sizes.clear();
    this.bytes = 0;
  }

  private evict(): void {
    for (const index of this.pieces.keys()) {
      if (this.bytes <= this.maxBytes) return;
      const size = this.sizes.get(index);
      if (size === undefined) continue; // still loading
      this.pieces.delete(index);
      this.sizes.delete(index);
      this.bytes -= size;
    }
  }
}
