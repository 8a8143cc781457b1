/** Messages between the hash pool and its workers. */

/** A file as the worker sees it: `path` null for a padding file (zeros). Offsets are in torrent data. */
export interface RangeFile {
  path: string | null;
  offset: number;
  length: number;
  /** Where in `path` the byte at `offset` lies (default 0); a part file holds a piece's bytes at their offset in the piece. */
  position?: number;
}

/**
 * The hashes a range asks for: `sha1` each whole piece's (v1), `v2` per piece the file's bytes in
 * it and the width its leaves fold over (BEP 52; width 0: no v2 hash for that piece).
 */
export interface HashKinds {
  sha1: boolean;
  v2?: { bytes: Uint32Array; widths: Uint32Array };
}

export type WorkerTask = { id: number; type: 'range'; files: RangeFile[]; pieceLength: number; totalLength: number; first: number; last: number } & HashKinds;

export type WorkerReply =
  /** `hashes`: 20 bytes per piece (with sha1), `roots`: 32 per piece (with v2). */
  | { id: number; type: 'range'; hashes: Uint8Array; roots: Uint8Array; present: Uint8Array; bytes: number }
  | { id: number; type: 'progress'; bytes: number }
  | { id: number; type: 'error'; message: string };
