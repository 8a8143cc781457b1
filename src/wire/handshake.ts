/**
 * The 68-byte BEP 3 handshake, with the reserved bits we use (BEP 10 extensions, BEP 6 fast,
 * BEP 52's offer to upgrade a hybrid torrent's connection from its v1 to its v2 info hash).
 */

export const HANDSHAKE_LENGTH = 68;
const PSTR = Buffer.from('BitTorrent protocol', 'latin1');

export interface Handshake {
  reserved: Buffer;
  infoHash: Buffer;
  peerId: Buffer;
  extended: boolean;
  fast: boolean;
  /** BEP 52: it offers to upgrade to the v2 info hash (the 4th bit of the last reserved byte). */
  v2: boolean;
}

/** `v2Upgrade`: we name a hybrid torrent's v1 hash and offer to switch to its v2 one. */
export function encodeHandshake(infoHash: Buffer, peerId: Buffer, v2Upgrade = false): Buffer {
  const b = Buffer.alloc(HANDSHAKE_LENGTH);
  b[0] = PSTR.length;
  PSTR.copy(b, 1);
  b[25] = 0x10; // BEP 10 extension protocol
  b[27] = 0x04 | (v2Upgrade ? 0x10 : 0); // BEP 6 fast extension, BEP 52 upgrade
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
    v2: (reserved[7]! & 0x10) !== 0,
  };
}
