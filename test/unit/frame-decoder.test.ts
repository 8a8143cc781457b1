/**
 * The bounded peer-wire frame decoder: length limits are checked from the 4-byte prefix alone,
 * every fixed-size message has exactly its size, and how the bytes are chunked never matters.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, ProtocolError, type FrameLimits } from '../../src/wire/frame-decoder.js';
import { encode, MSG, type Message } from '../../src/wire/messages.js';

const LIMITS: FrameLimits = { bitfieldBytes: 13, maxBlock: 16 * 1024, maxExtended: 64 * 1024 }; // 100 pieces

function frame(id: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(5 + payload.length);
  b.writeUInt32BE(1 + payload.length, 0);
  b[4] = id;
  b.set(payload, 5);
  return b;
}

function feed(bytes: Buffer, limits = LIMITS, chunk = bytes.length): Message[] {
  const d = new FrameDecoder(limits);
  const out: Message[] = [];
  for (let i = 0; i < bytes.length; i += chunk) d.push(bytes.subarray(i, i + chunk), (m) => out.push(m));
  return out;
}

function rejects(bytes: Buffer, pattern: RegExp, limits = LIMITS): void {
  expect(() => feed(bytes, limits)).toThrow(ProtocolError);
  expect(() => feed(bytes, limits)).toThrow(pattern);
}

describe('frame decoder limits', () => {
  it('rejects a 2^31 length prefix from the 4 prefix bytes alone', () => {
    const d = new FrameDecoder(LIMITS);
    const prefix = Buffer.from([0x80, 0, 0, 0]);
    expect(() => d.push(prefix, () => {})).toThrow(/2147483648 bytes exceeds/);
    rejects(Buffer.from([0xff, 0xff, 0xff, 0xff]), /4294967295 bytes exceeds/);
  });

  it('accepts the largest legal frame (a full block) and rejects one byte more', () => {
    const block = randomBytes(LIMITS.maxBlock);
    const ok = feed(Buffer.concat([encode.pieceHeader(3, 0, block.length), block]));
    expect(ok).toEqual([{ type: 'piece', index: 3, begin: 0, block }]);
    rejects(frame(MSG.piece, Buffer.alloc(8 + LIMITS.maxBlock + 1)), /exceeds|byte block/);
  });

  it('bounds frames by the largest message type, not only by the block size', () => {
    // An extended message may be bigger than a block; anything past the largest type is refused.
    const big = { ...LIMITS, maxExtended: 100_000 };
    expect(feed(frame(MSG.extended, Buffer.alloc(1 + 100_000)), big)).toHaveLength(1);
    rejects(frame(MSG.extended, Buffer.alloc(2 + 100_000)), /exceeds/, big);
  });

  it('gives keep-alives for zero-length frames', () => {
    expect(feed(Buffer.alloc(12))).toEqual([{ type: 'keep-alive' }, { type: 'keep-alive' }, { type: 'keep-alive' }]);
  });
});

describe('frame decoder per-type lengths', () => {
  const fixed: [string, number, number][] = [
    ['choke', MSG.choke, 0],
    ['unchoke', MSG.unchoke, 0],
    ['interested', MSG.interested, 0],
    ['not-interested', MSG.notInterested, 0],
    ['have', MSG.have, 4],
    ['request', MSG.request, 12],
    ['cancel', MSG.cancel, 12],
    ['port', MSG.port, 2],
    ['suggest', MSG.suggest, 4],
    ['have-all', MSG.haveAll, 0],
    ['have-none', MSG.haveNone, 0],
    ['reject', MSG.reject, 12],
    ['allowed-fast', MSG.allowedFast, 4],
  ];

  it.each(fixed)('%s (id %i) takes exactly %i payload bytes', (type, id, size) => {
    const payload = Buffer.alloc(size);
    if (size === 12) payload.writeUInt32BE(16384, 8); // a valid block length
    expect(feed(frame(id, payload))).toMatchObject([{ type }]);
    rejects(frame(id, Buffer.alloc(size + 1)), new RegExp(`type ${id} with ${size + 1} payload bytes`));
    if (size > 0) rejects(frame(id, Buffer.alloc(size - 1)), new RegExp(`type ${id} with ${size - 1} payload bytes`));
  });

  it('rejects a have without its payload', () => rejects(frame(MSG.have), /type 4 with 0 payload bytes \(expected 4\)/));

  it('decodes the fields of fixed messages', () => {
    const bytes = Buffer.concat([
      encode.message({ type: 'have', index: 0xfffffffe }),
      encode.message({ type: 'request', index: 7, begin: 16384, length: 100 }),
      encode.message({ type: 'cancel', index: 7, begin: 16384, length: 100 }),
      encode.message({ type: 'reject', index: 1, begin: 0, length: 1 }),
      frame(MSG.port, Buffer.from([0x1a, 0xe1])),
    ]);
    expect(feed(bytes)).toEqual([
      { type: 'have', index: 0xfffffffe },
      { type: 'request', index: 7, begin: 16384, length: 100 },
      { type: 'cancel', index: 7, begin: 16384, length: 100 },
      { type: 'reject', index: 1, begin: 0, length: 1 },
      { type: 'port', port: 6881 },
    ]);
  });

  it('rejects requests for zero bytes or more than a block', () => {
    rejects(encode.message({ type: 'request', index: 0, begin: 0, length: 0 }), /block length 0 outside/);
    rejects(encode.message({ type: 'request', index: 0, begin: 0, length: LIMITS.maxBlock + 1 }), /block length 16385 outside/);
    rejects(encode.message({ type: 'cancel', index: 0, begin: 0, length: 2 ** 32 - 1 }), /outside/);
  });

  it('rejects a piece message too short to hold its header', () => {
    rejects(frame(MSG.piece, Buffer.alloc(8)), /piece message with a 0-byte block/);
    rejects(frame(MSG.piece, Buffer.alloc(3)), /piece message/);
  });

  it('rejects an extended message without an id', () => rejects(frame(MSG.extended), /without an id/));

  it('ignores unknown message ids (their size is still bounded)', () => {
    expect(feed(Buffer.concat([frame(99, Buffer.alloc(50)), encode.message({ type: 'unchoke' })]))).toEqual([{ type: 'unchoke' }]);
    rejects(frame(99, Buffer.alloc(2 + LIMITS.maxExtended)), /exceeds/);
  });
});

describe('frame decoder bitfield size', () => {
  it('accepts exactly ceil(pieces / 8) bytes', () => {
    const bits = Buffer.alloc(13, 0xff);
    expect(feed(encode.bitfield(bits))).toEqual([{ type: 'bitfield', bits }]);
  });

  it('rejects a shorter, longer or empty bitfield', () => {
    rejects(encode.bitfield(Buffer.alloc(12)), /bitfield of 12 bytes \(expected 13\)/);
    rejects(encode.bitfield(Buffer.alloc(14)), /bitfield of 14 bytes \(expected 13\)/);
    rejects(encode.bitfield(Buffer.alloc(0)), /bitfield of 0 bytes/);
  });

  it('accepts any bitfield that fits the frame limit while the piece count is unknown', () => {
    const unknown = { ...LIMITS, bitfieldBytes: 0 };
    expect(feed(encode.bitfield(Buffer.alloc(500)), unknown)).toHaveLength(1);
  });

  it('allows a bitfield bigger than a block for a torrent with many pieces', () => {
    const many = { ...LIMITS, bitfieldBytes: 40_000 }; // 320,000 pieces
    expect(feed(encode.bitfield(Buffer.alloc(40_000)), many)).toHaveLength(1);
    rejects(encode.bitfield(Buffer.alloc(40_001)), /exceeds|expected 40000/, many);
  });
});

describe('frame decoder chunking', () => {
  /** Messages with their buffers as hex: a deep compare of large buffers element by element is slow. */
  const norm = (ms: Message[]) => JSON.stringify(ms, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('hex') : v));

  function stream(): Buffer {
    const parts: Buffer[] = [encode.bitfield(randomBytes(13)), encode.keepAlive(), encode.message({ type: 'unchoke' })];
    for (let i = 0; i < 40; i++) {
      const block = randomBytes(1 + Math.floor(Math.random() * LIMITS.maxBlock));
      parts.push(encode.message({ type: 'request', index: i, begin: i * 16384, length: 16384 }));
      parts.push(encode.pieceHeader(i, 0, block.length), block);
      parts.push(encode.message({ type: 'have', index: i }));
      parts.push(encode.extended(i % 3, randomBytes(Math.floor(Math.random() * 300))));
      parts.push(frame(200, randomBytes(7))); // unknown: skipped
    }
    return Buffer.concat(parts);
  }

  it('gives the same messages fed byte by byte as fed whole', () => {
    const bytes = stream();
    const whole = feed(bytes);
    expect(whole.length).toBe(3 + 40 * 4);
    expect(norm(feed(bytes, LIMITS, 1))).toBe(norm(whole));
  });

  it('gives the same messages for random chunk sizes', () => {
    const bytes = stream();
    const whole = feed(bytes);
    for (let round = 0; round < 20; round++) {
      const d = new FrameDecoder(LIMITS);
      const out: Message[] = [];
      for (let i = 0; i < bytes.length; ) {
        const n = 1 + Math.floor(Math.random() * 40_000);
        d.push(bytes.subarray(i, i + n), (m) => out.push(m));
        i += n;
      }
      expect(norm(out)).toBe(norm(whole));
    }
  });

  it('decodes transient chunks (one reused read buffer, overwritten after every push) the same', () => {
    const bytes = stream();
    const whole = feed(bytes);
    const shared = Buffer.alloc(40_000);
    for (let round = 0; round < 20; round++) {
      const d = new FrameDecoder(LIMITS);
      const out: string[] = [];
      const kept: Message[] = [];
      for (let i = 0; i < bytes.length; ) {
        const n = Math.min(1 + Math.floor(Math.random() * (round < 3 ? 7 : 40_000)), bytes.length - i);
        bytes.copy(shared, 0, i, i + n);
        d.push(
          shared.subarray(0, n),
          (m) => {
            // A piece's block is valid while its message is handled; what a handler keeps must be a copy.
            out.push(norm([m]));
            if (m.type === 'bitfield' || m.type === 'extended') kept.push(m);
          },
          true,
        );
        shared.fill(0xee); // the next read overwrites everything
        i += n;
      }
      expect(`[${out.map((x) => x.slice(1, -1)).join(',')}]`).toBe(norm(whole));
      expect(norm(kept)).toBe(norm(whole.filter((m) => m.type === 'bitfield' || m.type === 'extended')));
    }
  });

  it('holds back an incomplete frame until its last byte arrives', () => {
    const d = new FrameDecoder(LIMITS);
    const out: Message[] = [];
    const have = encode.message({ type: 'have', index: 5 });
    d.push(have.subarray(0, 8), (m) => out.push(m));
    expect(out).toEqual([]);
    d.push(have.subarray(8), (m) => out.push(m));
    expect(out).toEqual([{ type: 'have', index: 5 }]);
  });

  it('reports a bad frame even when it arrives split across chunks', () => {
    const bad = Buffer.concat([encode.message({ type: 'interested' }), frame(MSG.have, Buffer.alloc(3))]);
    const d = new FrameDecoder(LIMITS);
    const out: Message[] = [];
    expect(() => {
      for (const byte of bad) d.push(Buffer.from([byte]), (m) => out.push(m));
    }).toThrow(/type 4 with 3 payload bytes/);
    expect(out).toEqual([{ type: 'interested' }]);
  });
});

describe('frame decoder: BEP 52 hash messages', () => {
  const root = Buffer.alloc(32, 0xab);
  const req = { root, base: 2, index: 512, count: 512, proofLayers: 9 };

  it('decodes hash request, hash reject and hashes as encoded', () => {
    const hashes = randomBytes(32 * 3);
    const all = [
      { type: 'hash-request' as const, ...req },
      { type: 'hash-reject' as const, ...req },
      { type: 'hashes' as const, ...req, hashes },
    ];
    for (const chunk of [1, 7, 1000]) expect(feed(Buffer.concat(all.map((m) => encode.message(m))), LIMITS, chunk)).toEqual(all);
  });

  it('rejects a hash request or reject of any other size', () => {
    rejects(frame(MSG.hashRequest, Buffer.alloc(47)), /message type 21 with 47 payload bytes \(expected 48\)/);
    rejects(frame(MSG.hashReject, Buffer.alloc(49)), /message type 23 with 49 payload bytes/);
  });

  it('rejects hashes that are not whole 32-byte hashes after the header, or too many of them', () => {
    rejects(frame(MSG.hashes, Buffer.alloc(47)), /hashes message of 47 bytes/);
    rejects(frame(MSG.hashes, Buffer.alloc(48 + 31)), /hashes message of 79 bytes/);
    const big = { ...LIMITS, maxExtended: 1024 * 1024 };
    expect(feed(frame(MSG.hashes, Buffer.alloc(48 + 32 * 8256)), big)).toHaveLength(1);
    rejects(frame(MSG.hashes, Buffer.alloc(48 + 32 * 8257)), /hashes message of/, big);
  });

  it('reads the four numbers as unsigned 32-bit values (checked against the tree above it)', () => {
    const m = feed(encode.message({ type: 'hash-request', root, base: 2 ** 32 - 1, index: 2 ** 31, count: 2 ** 32 - 1, proofLayers: 0 }))[0]!;
    expect(m).toMatchObject({ base: 2 ** 32 - 1, index: 2 ** 31, count: 2 ** 32 - 1 });
  });
});
