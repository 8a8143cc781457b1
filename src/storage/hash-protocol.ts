/** Messages between the hash pool and its workers. */

/** A file as the worker sees it: `path` null for a padding file (zeros). Offsets are in torrent data. */
export interface RangeFile {
  path: string | null;
  offset: number;
  length: number;
  /** Where in `path` the byte at `offset` lies (default 0); a part file holds a piece's bytes at their offset in the piece. */
  position?: number;
}

export type WorkerTask = { id: number; type: 'range'; files: RangeFile[]; pieceLength: number; totalLength: number; first: number; last: number };

export type WorkerReply =
  | { id: number; type: 'range'; hashes: Uint8Array; present: Uint8Array; bytes: number }
  | { id: number; type: 'progress'; bytes: number }
  | { id: number; type: 'error'; message: string };
