/** The 68-byte BEP 3 handshake, with the reserved bits we use (BEP 10 extensions, BEP 6 fast). */

export const HANDSHAKE_LENGTH = 68;
const PSTR = Buffer.from('BitTorrent protocol', 'latin1');

export interface Handshake {
  reserved: Buffer;
  infoHash: Buffer;
  peerId: Buffer;
  extended: boolean;
  fast: boolean;
}

export function encodeHandshake(infoHash: Buffer, peerId: Buffer): Buffer {
  const b = Buffer.alloc(HANDSHAKE_LENGTH);
  b[0] = PSTR.length;
  PSTR.copy(b, 1);
  b[25] = 0x10; // BEP 10 extension protocol
  b[27] = 0x04; // BEP 6 fast extension
  infoHash.copy(b, 28);
  peerId.copy(b, 48);
  return b;
}

/** Parse the first 68 bytes of a stream; undefined when it is not a BitTorrent handshake. */
export function parseHandshake(b: Buffer): Handshake | undefined {
  if (b.length < HANDSHAKE_LENGTH || b[0] !== PSTR.length || !b.subarray(1, 20).equals(PSTR)) return undefined;
  const reserved = Buffer.from(b.subarray(20, 28));
  return {
    reserved,
    infoHash: Buffer.from(b.subarray(28, 48)),
    peerId: Buffer.from(b.subarray(48, 68)),
    extended: (reserved[5]! & 0x10) !== 0,
    fast: (reserved[7]! & 0x04) !== 0,
  };
}
