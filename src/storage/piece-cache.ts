/**
 * Whole pieces read for uploading, kept in a small LRU: peers request 16 KiB blocks in order, so
 * one positional read of the piece serves all its blocks instead of one read per block.
 */
export class PieceCache {
  private readonly pieces = new Map<number, Promise<Buffer>>();
  private bytes = 0;
  /** Bytes of pieces still being read: counted too, or many peers could make us read far more than the bound. */
  private loading = 0;
  private readonly sizes = new Map<number, number>();

  constructor(
    private readonly loadPiece: (index: number) => Promise<Buffer>,
    private readonly loadBlock: (index: number, begin: number, length: number) => Promise<Buffer>,
    private readonly pieceSize: (index: number) => number,
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  async block(index: number, begin: number, length: number): Promise<Buffer> {
    let p = this.pieces.get(index);
    if (p) {
      this.pieces.delete(index);
      this.pieces.set(index, p);
    } else {
      const size = this.pieceSize(index);
      // Over budget (or a huge piece): read just this block rather than the whole piece.
      if (this.loading + size > this.maxBytes / 2 || size > this.maxBytes / 8) return this.loadBlock(index, begin, length);
      this.loading += size;
      p = this.loadPiece(index);
      this.pieces.set(index, p);
      p.then(
        (buf) => {
          this.loading -= size;
          if (this.pieces.get(index) !== p) return;
          this.sizes.set(index, buf.length);
          this.bytes += buf.length;
          this.evict();
        },
        () => {
          this.loading -= size;
          this.pieces.delete(index);
        },
      );
    }
    const piece = await p;
    return piece.subarray(begin, begin + length);
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
