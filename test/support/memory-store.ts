/**
 * Test support: a torrent's data in memory, behind the same TorrentStore interface the engine
 * uses for files on disk (src/storage/piece-store.ts). A seed is given its payload; a leecher
 * starts empty. What the check finds is hashed for real, so a wrong payload is caught as on disk.
 */
import type { Metainfo } from '../../src/metainfo/types.js';
import { PieceLayout } from '../../src/storage/layout.js';
import { PieceHashes } from '../../src/storage/piece-hashes.js';
import type { CheckResult, StorageBytes, StoreFactory, TorrentStore } from '../../src/storage/piece-store.js';
import { FileSelection, type SelectionSpec } from '../../src/storage/selection.js';
import { Bitfield } from '../../src/util/bitfield.js';

export class MemoryStore implements TorrentStore {
  readonly layout: PieceLayout;
  readonly have: Bitfield;
  readonly selection: FileSelection;
  readonly hashes: PieceHashes;
  /** Every byte written, piece by piece (the torrent's whole payload, pad files included). */
  readonly data: Buffer;
  writes = 0;

  constructor(
    readonly meta: Metainfo,
    payload?: Buffer,
    select?: SelectionSpec,
  ) {
    this.layout = new PieceLayout(meta.files, meta.pieceLength, meta.totalLength);
    this.have = new Bitfield(meta.pieceCount);
    this.selection = FileSelection.of(meta, this.layout, select);
    this.hashes = new PieceHashes(meta);
    this.data = payload ? Buffer.from(payload) : Buffer.alloc(meta.totalLength);
  }

  get done(): boolean {
    for (let i = 0; i < this.meta.pieceCount; i++) if (this.wanted(i) && !this.have.has(i)) return false;
    return true;
  }

  wanted(index: number): boolean {
    return this.selection.pieces.has(index);
  }

  async check(): Promise<CheckResult> {
    let valid = 0;
    for (let i = 0; i < this.meta.pieceCount; i++) {
      if (this.hashes.verify(i, this.piece(i)).ok) {
        this.have.set(i);
        valid++;
      }
    }
    return { hashed: this.meta.pieceCount, valid, trusted: 0 };
  }

  async writeVerified(index: number, data: Buffer): Promise<void> {
    data.copy(this.data, index * this.meta.pieceLength);
    this.have.set(index);
    this.writes++;
  }

  async readBlock(index: number, begin: number, length: number) {
    const at = index * this.meta.pieceLength + begin;
    return { block: Buffer.from(this.data.subarray(at, at + length)), release: () => {} };
  }

  async createEmptyFiles(): Promise<void> {}

  bytes(): StorageBytes {
    const out = { have: 0, left: 0, wanted: 0, wantedHave: 0 };
    for (let i = 0; i < this.meta.pieceCount; i++) {
      const size = this.layout.pieceSize(i);
      const has = this.have.has(i);
      if (has) out.have += size;
      else out.left += size;
      if (this.wanted(i)) {
        out.wanted += size;
        if (has) out.wantedHave += size;
      }
    }
    return out;
  }

  async saveResume(): Promise<void> {}
  async close(): Promise<void> {}

  private piece(i: number): Buffer {
    return this.data.subarray(i * this.meta.pieceLength, i * this.meta.pieceLength + this.layout.pieceSize(i));
  }
}

/** An engine's store factory keeping every torrent in memory; `payloads` seeds torrents by info hash. */
export function memoryStores(payloads: Map<string, Buffer> = new Map()): StoreFactory & { stores: MemoryStore[] } {
  const stores: MemoryStore[] = [];
  const factory = (meta: Metainfo, _dir: string, opts: { select?: SelectionSpec }) => {
    const s = new MemoryStore(meta, payloads.get(meta.infoHashHex), opts.select);
    stores.push(s);
    return s;
  };
  return Object.assign(factory, { stores });
}
