/** Maps pieces and blocks of a torrent's concatenated data onto its files. */
import type { TorrentFile } from '../metainfo/types.js';

export interface Segment {
  fileIndex: number;
  /** Offset inside the file. */
  fileOffset: number;
  length: number;
  /** Offset inside the requested range. */
  rangeOffset: number;
}

export class PieceLayout {
  readonly pieceCount: number;

  constructor(
    readonly files: readonly TorrentFile[],
    readonly pieceLength: number,
    readonly totalLength: number,
  ) {
    this.pieceCount = Math.ceil(totalLength / pieceLength);
  }

  pieceSize(index: number): number {
    return index === this.pieceCount - 1 ? this.totalLength - index * this.pieceLength : this.pieceLength;
  }

  /** File segments covering `length` bytes at `offset` inside piece `index`; empty files never appear. */
  segments(index: number, offset = 0, length = this.pieceSize(index) - offset): Segment[] {
    const start = index * this.pieceLength + offset;
    const end = start + length;
    const out: Segment[] = [];
    for (let f = this.firstFileAt(start); f < this.files.length; f++) {
      const file = this.files[f]!;
      if (file.offset >= end) break;
      const from = Math.max(start, file.offset);
      const to = Math.min(end, file.offset + file.length);
      if (to > from) out.push({ fileIndex: f, fileOffset: from - file.offset, length: to - from, rangeOffset: from - start });
    }
    return out;
  }

  /** Where piece `index`'s trailing padding starts (its size when it ends in data): what follows is zeros never asked for. */
  dataEnd(index: number): number {
    let end = 0;
    for (const s of this.segments(index)) if (!this.files[s.fileIndex]!.pad) end = s.rangeOffset + s.length;
    return end;
  }

  /** Pieces [first, last] that hold any byte of file `f` (undefined for an empty file). */
  piecesOfFile(f: number): [number, number] | undefined {
    const file = this.files[f]!;
    if (file.length === 0) return undefined;
    return [Math.floor(file.offset / this.pieceLength), Math.floor((file.offset + file.length - 1) / this.pieceLength)];
  }

  /** Index of the first file with bytes at or after `pos` (binary search over offsets). */
  private firstFileAt(pos: number): number {
    let lo = 0, hi = this.files.length - 1, ans = this.files.length;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const f = this.files[mid]!;
      if (f.offset + f.length > pos) { ans = mid; hi = mid - 1; } else lo = mid + 1;
    }
    return ans;
  }
}
