/**
 * What the layers above see of a torrent's storage (anacrolix's storage interface: client ->
 * torrent -> piece). The transfer needs only a PieceStore: which pieces we have and want,
 * verified pieces written, blocks read for uploads. The engine's torrent needs the rest: the
 * check at start, resume state, closing. TorrentStorage (files on disk) implements both; a test
 * can give the engine a store in memory.
 */
import type { Metainfo } from '../metainfo/types.js';
import type { Bitfield } from '../util/bitfield.js';
import type { PieceLayout } from './layout.js';
import type { BlockLease } from './piece-cache.js';
import type { PieceHashes } from './piece-hashes.js';
import type { FileSelection, SelectionSpec } from './selection.js';

export interface CheckProgress {
  checkedBytes: number;
  totalBytes: number;
}

export interface CheckResult {
  /** Pieces that were hashed (not trusted from resume state). */
  hashed: number;
  /** Of those, pieces that matched. */
  valid: number;
  trusted: number;
  /** The resume file was there and unusable (it names the file): every piece was checked instead. */
  resumeProblem?: string;
}

/** Bytes of the torrent by state, kept current as pieces are verified (nobody scans the pieces for them). */
export interface StorageBytes {
  /** Verified, of the whole torrent. */
  have: number;
  /** Not verified yet, of the whole torrent (what trackers call `left`). */
  left: number;
  /** Of the pieces the file selection wants: all of them, and those verified. */
  wanted: number;
  wantedHave: number;
}

export interface PieceStore {
  readonly meta: Metainfo;
  readonly layout: PieceLayout;
  /** Verified pieces (read only: pieces are added by writeVerified). */
  readonly have: Bitfield;
  readonly selection: FileSelection;
  /** Every wanted piece is verified. */
  readonly done: boolean;
  wanted(index: number): boolean;
  /** What each piece must hash to (v1 SHA-1s, v2 merkle trees), and the check. */
  readonly hashes: PieceHashes;
  /** Write a piece whose hash matched; it counts as had once this resolves. */
  writeVerified(index: number, data: Buffer): Promise<void>;
  /** A block of a verified piece, for uploading; release it once the socket has taken it. */
  readBlock(index: number, begin: number, length: number): Promise<BlockLease>;
  /** Files of length 0 (they have no piece), once the torrent is complete. */
  createEmptyFiles(): Promise<void>;
  bytes(): StorageBytes;
}

export interface TorrentStore extends PieceStore {
  /** Find the verified pieces (resume-aware; `force` hashes everything present). */
  check(force: boolean, onProgress?: (p: CheckProgress) => void): Promise<CheckResult>;
  saveResume(): Promise<void>;
  close(): Promise<void>;
}

/** How the engine opens a torrent's store (default: files on disk, storage/torrent-storage.ts). */
export type StoreFactory = (meta: Metainfo, dir: string, opts: { writable: boolean; stateDir: string; select?: SelectionSpec }) => TorrentStore;
