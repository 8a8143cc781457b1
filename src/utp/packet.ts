/**
 * The uTP packet format (BEP 29, version 1): the 20-byte header, the extension chain (selective
 * ACK, extension 1; others are skipped), and the 16-bit sequence arithmetic every part of uTP
 * uses. Decoding fills one reused object and never allocates: it runs once per datagram.
 */

/** Packet types: data, the sender's last packet, an ACK alone, an abort, a connection request. */
export const ST_DATA = 0;
export const ST_FIN = 1;
export const ST_STATE = 2;
export const ST_RESET = 3;
export const ST_SYN = 4;
export type PacketType = 0 | 1 | 2 | 3 | 4;

export const HEADER_BYTES = 20;
export const VERSION = 1;
/** The selective ACK extension's id. */
export const EXT_SACK = 1;
/** Sequence and ack numbers are 16 bits wide and wrap. */
export const SEQ_MASK = 0xffff;

/** A decoded header: fields of the last packet read into it (reused for every datagram). */
export class Header {
  type: PacketType = ST_DATA;
  connectionId = 0;
  /** The sender's clock when it sent this, microseconds (mod 2^32). */
  timestamp = 0;
  /** The sender's last sample of our one-way delay (its clock minus our timestamp), microseconds. */
  timestampDifference = 0;
  /** Bytes the sender can still take in. */
  window = 0;
  seq = 0;
  ack = 0;
  /** Where the selective ACK bitmask starts in the datagram, and its length in bytes (0: none). */
  sackOffset = 0;
  sackBytes = 0;
  /** Where the payload starts (after every extension). */
  payloadOffset = HEADER_BYTES;
}

/**
 * Reads `b` into `h`. False for anything that is not a well-formed version 1 packet: too short,
 * another version, an unknown type, or an extension chain that runs past the end.
 */
export function readHeader(b: Buffer, h: Header): boolean {
  const length = b.length;
  if (length < HEADER_BYTES) return false;
  const first = b[0]!;
  if ((first & 0x0f) !== VERSION) return false;
  const type = first >> 4;
  if (type > ST_SYN) return false;
  h.type = type as PacketType;
  h.connectionId = b.readUInt16BE(2);
  h.timestamp = b.readUInt32BE(4);
  h.timestampDifference = b.readUInt32BE(8);
  h.window = b.readUInt32BE(12);
  h.seq = b.readUInt16BE(16);
  h.ack = b.readUInt16BE(18);
  h.sackOffset = 0;
  h.sackBytes = 0;
  let ext = b[1]!;
  let at = HEADER_BYTES;
  // Each extension: next extension's id, its length, its bytes. A chain is at most as long as
  // the datagram allows, so a hostile one costs no more than its own bytes.
  while (ext !== 0) {
    if (at + 2 > length) return false;
    const next = b[at]!;
    const len = b[at + 1]!;
    at += 2;
    if (at + len > length) return false;
    if (ext === EXT_SACK && h.sackBytes === 0) {
      h.sackOffset = at;
      h.sackBytes = len;
    }
    at += len;
    ext = next;
  }
  h.payloadOffset = at;
  return true;
}

/** Writes a 20-byte header at the start of `b`; `extension` is the id of the first extension (0: none). */
export function writeHeader(
  b: Buffer,
  type: PacketType,
  extension: number,
  connectionId: number,
  timestamp: number,
  timestampDifference: number,
  window: number,
  seq: number,
  ack: number,
): void {
  b[0] = (type << 4) | VERSION;
  b[1] = extension;
  b.writeUInt16BE(connectionId, 2);
  b.writeUInt32BE(timestamp >>> 0, 4);
  b.writeUInt32BE(timestampDifference >>> 0, 8);
  b.writeUInt32BE(Math.min(window, 0xffffffff) >>> 0, 12);
  b.writeUInt16BE(seq & SEQ_MASK, 16);
  b.writeUInt16BE(ack & SEQ_MASK, 18);
}

/** The fields a packet's header is rewritten with each time it is (re)sent. */
export function restampHeader(b: Buffer, timestamp: number, timestampDifference: number, window: number, ack: number): void {
  b.writeUInt32BE(timestamp >>> 0, 4);
  b.writeUInt32BE(timestampDifference >>> 0, 8);
  b.writeUInt32BE(Math.min(window, 0xffffffff) >>> 0, 12);
  b.writeUInt16BE(ack & SEQ_MASK, 18);
}

/** (a - b) mod 2^16: how far `a` is past `b`. */
export function seqDistance(a: number, b: number): number {
  return (a - b) & SEQ_MASK;
}

/** Whether `a` comes before `b` on the wrapping 16-bit circle (the shorter way round decides). */
export function seqBefore(a: number, b: number): boolean {
  return ((b - a) & SEQ_MASK) < ((a - b) & SEQ_MASK);
}

/** Whether `a` comes before `b` on the wrapping 32-bit circle (timestamps and delays). */
export function u32Before(a: number, b: number): boolean {
  const up = (b - a) >>> 0;
  const down = (a - b) >>> 0;
  return up < down;
}
