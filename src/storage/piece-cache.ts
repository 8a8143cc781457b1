/**
 * Whole pieces read for uploading, kept in a small LRU: peers request 16 KiB blocks in order, so
 * one positional read of the piece serves all its blocks instead of one read per block. Piece
 * buffers are reused: a block handed out is leased until the socket has taken its bytes, and a
 * piece's buffer goes back to the pool only once it is evicted and no lease is out. (A fresh
 * 1 MiB buffer per piece cost the seed major garbage collections and page faults.)
 */
import { PieceBuffers } from './piece-buffers.js';

/** A block of a piece and the call that says its bytes are no longer needed (call it once). */
export interface BlockLease {
  block: Buffer;
  release(): void;
}

interface Entry {
  data: Promise<Buffer>;
  size?: number; // set once read
  leases: number;
  evicted: boolean;
}

export class PieceCache {
  private readonly pieces = new Map<number, Entry>();
  private bytes = 0;
  /** Bytes of pieces still being read: counted too, or many peers could make us read far more than the bound. */
  private loading = 0;
  private readonly buffers: PieceBuffers;

  constructor(
    private readonly loadPiece: (index: number, into: Buffer) => Promise<void>,
    private readonly loadBlock: (index: number, begin: number, length: number) => Promise<Buffer>,
    private readonly pieceSize: (index: number) => number,
    pieceLength: number,
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {
    this.buffers = new PieceBuffers(pieceLength, maxBytes);
  }

  async block(index: number, begin: number, length: number): Promise<BlockLease> {
    let e = this.pieces.get(index);
    if (e) {
      this.pieces.delete(index);
      this.pieces.set(index, e);
    } else {
      const size = this.pieceSize(index);
      // Over budget (or a huge piece): read just this block rather than the whole piece.
      if (this.loading + size > this.maxBytes / 2 || size > this.maxBytes / 8) return { block: await this.loadBlock(index, begin, length), release: () => {} };
      e = this.load(index, size);
    }
    const entry = e;
    entry.leases++;
    let piece: Buffer;
    try {
      piece = await entry.data;
    } catch (err) {
      entry.leases--;
      throw err;
    }
    let released = false;
    return {
      block: piece.subarray(begin, begin + length),
      release: () => {
        if (released) return;
        released = true;
        entry.leases--;
        this.recycle(entry, piece);
      },
    };
  }

  private load(index: number, size: number): Entry {
    this.loading += size;
    const buf = this.buffers.take(size);
    const e: Entry = { data: this.loadPiece(index, buf).then(() => buf), leases: 0, evicted: false };
    this.pieces.set(index, e);
    e.data.then(
      () => {
        this.loading -= size;
        if (this.pieces.get(index) !== e) return;
        e.size = size;
        this.bytes += size;
        this.evict();
      },
      () => {
        this.loading -= size;
        if (this.pieces.get(index) === e) this.pieces.delete(index);
        // A failed read may still be writing into `buf` on another thread: it is not reused.
      },
    );
    return e;
  }

  private evict(): void {
    for (const [index, e] of this.pieces) {
      if (this.bytes <= this.maxBytes) return;
      if (e.size === undefined) continue; // still loading
      this.pieces.delete(index);
      this.bytes -= e.size;
      e.evicted = true;
      void e.data.then((piece) => this.recycle(e, piece));
    }
  }

  private recycle(e: Entry, piece: Buffer): void {
    // Evicted entries take no new leases, and each lease releases once: this runs true only once.
    if (e.evicted && e.leases === 0) this.buffers.give(piece);
  }
}
