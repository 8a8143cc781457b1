/** BEP 3, BEP 6 and BEP 52 (hash request, hashes, hash reject) messages: ids, the decoded shapes, and encoders. */

export const MSG = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  // BEP 6 (fast extension)
  suggest: 0x0d,
  haveAll: 0x0e,
  haveNone: 0x0f,
  reject: 0x10,
  allowedFast: 0x11,
  // BEP 10
  extended: 20,
  // BEP 52
  hashRequest: 21,
  hashes: 22,
  hashReject: 23,
} as const;

/** Bytes of a hash request's payload: the pieces root, then base layer, index, length and proof layers (uint32 each). */
export const HASH_REQUEST_BYTES = 32 + 16;

/** The payload of a BEP 52 hash request, hashes or hash reject message (see merkle/file-tree.ts HashRange). */
export interface HashRequest {
  /** The pieces root of the file whose tree is meant. */
  root: Buffer;
  base: number;
  index: number;
  count: number;
  proofLayers: number;
}

/** The block size we request; the de facto standard every client serves. */
export const BLOCK_SIZE = 16 * 1024;

export interface BlockRef {
  index: number;
  begin: number;
  length: number;
}

export type Message =
  | { type: 'keep-alive' }
  | { type: 'choke' }
  | { type: 'unchoke' }
  | { type: 'interested' }
  | { type: 'not-interested' }
  | { type: 'have'; index: number }
  | { type: 'bitfield'; bits: Buffer }
  | ({ type: 'request' } & BlockRef)
  | { type: 'piece'; index: number; begin: number; block: Buffer }
  | ({ type: 'cancel' } & BlockRef)
  | { type: 'port'; port: number }
  | { type: 'suggest'; index: number }
  | { type: 'have-all' }
  | { type: 'have-none' }
  | ({ type: 'reject' } & BlockRef)
  | { type: 'allowed-fast'; index: number }
  | { type: 'extended'; id: number; payload: Buffer }
  | ({ type: 'hash-request' } & HashRequest)
  /** `hashes`: the requested ones, then the uncle hashes, 32 bytes each. */
  | ({ type: 'hashes' } & HashRequest & { hashes: Buffer })
  | ({ type: 'hash-reject' } & HashRequest);

function frame(id: number, payloadLength: number): Buffer {
  const b = Buffer.allocUnsafe(5 + payloadLength);
  b.writeUInt32BE(1 + payloadLength, 0);
  b[4] = id;
  return b;
}

/** Message types without a payload, by their decoded name. */
const SIMPLE = {
  choke: MSG.choke,
  unchoke: MSG.unchoke,
  interested: MSG.interested,
  'not-interested': MSG.notInterested,
  'have-all': MSG.haveAll,
  'have-none': MSG.haveNone,
} as const;

const WITH_INDEX = { have: MSG.have, suggest: MSG.suggest, 'allowed-fast': MSG.allowedFast } as const;
const WITH_BLOCK = { request: MSG.request, cancel: MSG.cancel, reject: MSG.reject } as const;

function withIndex(id: number, index: number): Buffer {
  const b = frame(id, 4);
  b.writeUInt32BE(index, 5);
  return b;
}

function withHashRequest(id: number, r: HashRequest, hashes?: Uint8Array): Buffer {
  const b = frame(id, HASH_REQUEST_BYTES + (hashes?.length ?? 0));
  r.root.copy(b, 5);
  b.writeUInt32BE(r.base, 37);
  b.writeUInt32BE(r.index, 41);
  b.writeUInt32BE(r.count, 45);
  b.writeUInt32BE(r.proofLayers, 49);
  if (hashes) b.set(hashes, 53);
  return b;
}

function withBlock(id: number, r: BlockRef): Buffer {
  const b = frame(id, 12);
  b.writeUInt32BE(r.index, 5);
  b.writeUInt32BE(r.begin, 9);
  b.writeUInt32BE(r.length, 13);
  return b;
}

export const encode = {
  keepAlive: (): Buffer => Buffer.alloc(4),
  /** Any message in its wire form (the inverse of the frame decoder). */
  message(m: Message): Buffer {
    switch (m.type) {
      case 'keep-alive':
        return encode.keepAlive();
      case 'choke':
      case 'unchoke':
      case 'interested':
      case 'not-interested':
      case 'have-all':
      case 'have-none':
        return frame(SIMPLE[m.type], 0);
      case 'have':
      case 'suggest':
      case 'allowed-fast':
        return withIndex(WITH_INDEX[m.type], m.index);
      case 'request':
      case 'cancel':
      case 'reject':
        return withBlock(WITH_BLOCK[m.type], m);
      case 'bitfield':
        return encode.bitfield(m.bits);
      case 'piece':
        return Buffer.concat([encode.pieceHeader(m.index, m.begin, m.block.length), m.block]);
      case 'port': {
        const b = frame(MSG.port, 2);
        b.writeUInt16BE(m.port, 5);
        return b;
      }
      case 'extended':
        return encode.extended(m.id, m.payload);
      case 'hash-request':
        return withHashRequest(MSG.hashRequest, m);
      case 'hash-reject':
        return withHashRequest(MSG.hashReject, m);
      case 'hashes':
        return withHashRequest(MSG.hashes, m, m.hashes);
    }
  },
  /** Many requests in one buffer (one write for a whole batch). */
  requests(list: readonly BlockRef[]): Buffer {
    const b = Buffer.allocUnsafe(17 * list.length);
    list.forEach((r, i) => {
      const o = i * 17;
      b.writeUInt32BE(13, o);
      b[o + 4] = MSG.request;
      b.writeUInt32BE(r.index, o + 5);
      b.writeUInt32BE(r.begin, o + 9);
      b.writeUInt32BE(r.length, o + 13);
    });
    return b;
  },
  bitfield(bits: Uint8Array): Buffer {
    const b = frame(MSG.bitfield, bits.length);
    b.set(bits, 5);
    return b;
  },
  /** Header of a piece message; the block follows in a second write to avoid a copy. */
  pieceHeader(index: number, begin: number, length: number): Buffer {
    const b = frame(MSG.piece, 8);
    b.writeUInt32BE(9 + length, 0); // the frame's length counts the block that follows
    b.writeUInt32BE(index, 5);
    b.writeUInt32BE(begin, 9);
    return b;
  },
  extended(id: number, payload: Uint8Array): Buffer {
    const b = frame(MSG.extended, 1 + payload.length);
    b[5] = id;
    b.set(payload, 6);
    return b;
  },
};
