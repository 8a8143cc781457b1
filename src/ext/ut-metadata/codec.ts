/**
 * BEP 9 `ut_metadata` messages: a bencoded dictionary (msg_type, piece, total_size), followed
 * by the piece's bytes in a data message. Decoding is bounded and strict about what matters
 * (types, the piece index, a data piece's length); anything else is a ProtocolError.
 */
import { BDict, decodePrefix, encode } from '../../bencode/index.js';
import { ProtocolError } from '../../wire/frame-decoder.js';

/** Metadata travels in pieces of 16 KiB; only the last may be shorter. */
export const METADATA_PIECE = 16 * 1024;
/** The largest info dictionary we fetch or serve (the largest real ones are a few MiB). */
export const MAX_METADATA = 32 * 1024 * 1024;

export type MetadataMessage =
  | { type: 'request'; piece: number }
  | { type: 'data'; piece: number; totalSize: number; data: Buffer }
  | { type: 'reject'; piece: number };

const TYPES = ['request', 'data', 'reject'] as const;

export function pieceCountOf(size: number): number {
  return Math.ceil(size / METADATA_PIECE);
}

export function pieceLength(size: number, piece: number): number {
  return Math.min(METADATA_PIECE, size - piece * METADATA_PIECE);
}

export function encodeMetadataMessage(m: MetadataMessage): Buffer {
  const head = encode({ msg_type: TYPES.indexOf(m.type), piece: m.piece, ...(m.type === 'data' ? { total_size: m.totalSize } : {}) });
  return m.type === 'data' ? Buffer.concat([head, m.data]) : head;
}

export function decodeMetadataMessage(payload: Buffer): MetadataMessage {
  let dict: BDict;
  let end: number;
  try {
    const r = decodePrefix(payload, { maxDepth: 4, maxItems: 64, maxBytes: METADATA_PIECE + 1024, allowTrailing: true });
    if (!(r.value instanceof BDict)) throw new Error('not a dictionary');
    dict = r.value;
    end = r.end;
  } catch (e) {
    throw new ProtocolError(`bad ut_metadata message: ${(e as Error).message}`);
  }
  const int = (key: string): number | undefined => {
    const v = dict.get(key);
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  };
  const type = TYPES[int('msg_type') ?? -1];
  const piece = int('piece');
  if (!type) throw new ProtocolError('ut_metadata message with an unknown msg_type');
  if (piece === undefined || piece >= pieceCountOf(MAX_METADATA)) throw new ProtocolError('ut_metadata message without a valid piece index');
  if (type !== 'data') {
    if (end !== payload.length) throw new ProtocolError(`ut_metadata ${type} with ${payload.length - end} trailing bytes`);
    return { type, piece };
  }
  const totalSize = int('total_size');
  if (totalSize === undefined || totalSize === 0 || totalSize > MAX_METADATA) throw new ProtocolError('ut_metadata data without a valid total_size');
  if (piece >= pieceCountOf(totalSize)) throw new ProtocolError(`ut_metadata piece ${piece} of ${pieceCountOf(totalSize)}`);
  const data = payload.subarray(end);
  if (data.length !== pieceLength(totalSize, piece)) {
    throw new ProtocolError(`ut_metadata piece ${piece} of ${data.length} bytes (expected ${pieceLength(totalSize, piece)})`);
  }
  return { type, piece, totalSize, data };
}
