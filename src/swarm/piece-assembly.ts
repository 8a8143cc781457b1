/**
 * One piece being downloaded: its blocks copied into one buffer as they arrive, and who sent each
 * (the evidence if it fails its check). Blocks of padding alone (BEP 47, the gap after a v2 file)
 * are zeros we never ask for.
 */
import { BLOCK_SIZE, type BlockRef } from '../wire/messages.js';

export class PieceInProgress {
  readonly blockCount: number;
  /**
   * The piece's bytes, blocks copied in as they arrive (a block is only a view of the socket's
   * read buffer while its message is handled). Hashed in one call when complete (per block, the
   * calls into OpenSSL and the views cost more than hashing what is still in the cache saves);
   * written from here once verified.
   */
  readonly data: Buffer;
  readonly received: Uint8Array;
  /** Outstanding requests per block (more than one only in endgame). */
  readonly requested: Uint8Array;
  receivedCount = 0;
  /** Every block before this one is received or requested: picking starts here, not at 0. */
  firstFree = 0;
  /** Who (by IP) sent each block: the evidence if the piece fails its hash. */
  readonly senders: (string | undefined)[];

  /** `dataEnd`: where its padding starts (the blocks from there on are never requested). */
  constructor(
    readonly index: number,
    readonly size: number,
    data: Buffer,
    dataEnd = size,
  ) {
    this.data = data;
    this.blockCount = Math.ceil(size / BLOCK_SIZE);
    this.received = new Uint8Array(this.blockCount);
    this.requested = new Uint8Array(this.blockCount);
    this.senders = new Array<string | undefined>(this.blockCount);
    const firstPad = Math.ceil(dataEnd / BLOCK_SIZE);
    if (firstPad > 0 && firstPad < this.blockCount) {
      data.fill(0, firstPad * BLOCK_SIZE, size);
      this.received.fill(1, firstPad);
      this.receivedCount = this.blockCount - firstPad;
    }
  }

  /** Every block is in. */
  get complete(): boolean {
    return this.receivedCount === this.blockCount;
  }

  block(b: number): BlockRef {
    return { index: this.index, begin: b * BLOCK_SIZE, length: this.blockLength(b) };
  }

  /** Bytes of block `b` (the last one may be short). */
  blockLength(b: number): number {
    return Math.min(BLOCK_SIZE, this.size - b * BLOCK_SIZE);
  }

  store(b: number, block: Buffer, from: string): void {
    this.data.set(block, b * BLOCK_SIZE); // the typed-array copy itself, without Buffer#copy's argument handling
    this.received[b] = 1;
    this.receivedCount++;
    this.senders[b] = from;
  }

  /** Views of the piece's blocks, in order (the evidence for blame). */
  blocks(): Buffer[] {
    return Array.from({ length: this.blockCount }, (_, b) => this.data.subarray(b * BLOCK_SIZE, Math.min((b + 1) * BLOCK_SIZE, this.size)));
  }
}
