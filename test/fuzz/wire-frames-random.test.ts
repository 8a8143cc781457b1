/**
 * Round-trip fuzz of the wire codec: whatever the decoder accepts, the encoder turns back into
 * exactly the bytes it came from, however the stream is chunked; mutated streams only ever end
 * in a ProtocolError; and the saved corpus (fixtures/wire/) keeps its edge cases decoding.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, ProtocolError, type FrameLimits } from '../../src/wire/frame-decoder.js';
import { encode, type Message } from '../../src/wire/messages.js';
import { ROOT } from '../support/sixswarm.js';

const LIMITS: FrameLimits = { bitfieldBytes: 13, maxBlock: 16 * 1024, maxExtended: 64 * 1024 };
const CORPUS = join(ROOT, 'fixtures', 'wire');

const u32 = () => randomBytes(4).readUInt32BE(0);
const block = () => ({ index: u32(), begin: u32(), length: 1 + Math.floor(Math.random() * LIMITS.maxBlock) });

/** A random valid message (bitfields of the torrent's size, blocks within the limit). */
function randomMessage(): Message {
  const kinds = ['keep-alive', 'choke', 'unchoke', 'interested', 'not-interested', 'have-all', 'have-none', 'have', 'suggest', 'allowed-fast', 'request', 'cancel', 'reject', 'bitfield', 'piece', 'port', 'extended'] as const;
  const type = kinds[Math.floor(Math.random() * kinds.length)]!;
  switch (type) {
    case 'have':
    case 'suggest':
    case 'allowed-fast':
      return { type, index: u32() };
    case 'request':
    case 'cancel':
    case 'reject':
      return { type, ...block() };
    case 'bitfield': {
      const bits = randomBytes(LIMITS.bitfieldBytes);
      return { type, bits };
    }
    case 'piece':
      return { type, index: u32(), begin: u32(), block: randomBytes(1 + Math.floor(Math.random() * 2000)) };
    case 'port':
      return { type, port: Math.floor(Math.random() * 65536) };
    case 'extended':
      return { type, id: Math.floor(Math.random() * 256), payload: randomBytes(Math.floor(Math.random() * 300)) };
    default:
      return { type };
  }
}

/** Decode with the stream cut at random places (optionally through one overwritten buffer), re-encode each message. */
function roundTrip(stream: Buffer, transient: boolean): Buffer {
  const d = new FrameDecoder(LIMITS);
  const out: Buffer[] = [];
  const scratch = Buffer.alloc(stream.length);
  for (let i = 0; i < stream.length; ) {
    const n = 1 + Math.floor(Math.random() * Math.min(4096, stream.length - i));
    let chunk = stream.subarray(i, i + n);
    if (transient) {
      chunk.copy(scratch);
      chunk = scratch.subarray(0, n);
    }
    // Encoding inside the handler: a piece's block is only valid while its message is handled.
    d.push(chunk, (m) => out.push(encode.message(m)), transient);
    if (transient) scratch.fill(0xee);
    i += n;
  }
  return Buffer.concat(out);
}

describe('wire codec round trip', () => {
  it('random message streams come back byte for byte, however they are chunked', () => {
    for (let round = 0; round < 300; round++) {
      const stream = Buffer.concat(Array.from({ length: 1 + Math.floor(Math.random() * 40) }, () => encode.message(randomMessage())));
      expect(roundTrip(stream, round % 2 === 1).equals(stream)).toBe(true);
    }
  });

  it('the saved corpus decodes and re-encodes to the same bytes', () => {
    const files = readdirSync(CORPUS).filter((f) => f.endsWith('.bin'));
    expect(files.length).toBeGreaterThan(4);
    for (const f of files) {
      const stream = readFileSync(join(CORPUS, f));
      expect(roundTrip(stream, false).equals(stream), f).toBe(true);
      expect(roundTrip(stream, true).equals(stream), f).toBe(true);
    }
  });

  it('mutated streams either decode to messages that re-encode to their own bytes or end in a ProtocolError', () => {
    let errors = 0;
    for (let round = 0; round < 3000; round++) {
      const stream = Buffer.concat(Array.from({ length: 1 + Math.floor(Math.random() * 10) }, () => encode.message(randomMessage())));
      const m = Buffer.from(stream);
      for (let k = 0; k < 1 + (round % 4); k++) m[Math.floor(Math.random() * m.length)] = Math.floor(Math.random() * 256);
      const d = new FrameDecoder(LIMITS);
      let consumed = 0;
      const got: Buffer[] = [];
      try {
        d.push(m, (msg) => got.push(encode.message(msg)));
        consumed = m.length;
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        errors++;
        continue;
      }
      // Unknown ids are skipped by design, so compare only when every frame was a known one.
      const again = Buffer.concat(got);
      if (again.length === consumed) expect(again.equals(m)).toBe(true);
    }
    expect(errors).toBeGreaterThan(0); // the mutations do reach the error paths
  });

  it('a frame cut into one-byte chunks costs work linear in its size (a trickling peer cannot burn CPU)', () => {
    // 1 MiB of extended payload in 2^20 pushes: quadratic buffering would take hours; linear, well under a second.
    const big = encode.extended(1, randomBytes(1024 * 1024 - 8));
    const d = new FrameDecoder({ ...LIMITS, maxExtended: 1024 * 1024 });
    const t = performance.now();
    let got = 0;
    for (let i = 0; i < big.length; i++) d.push(big.subarray(i, i + 1), () => got++);
    expect(got).toBe(1);
    expect(performance.now() - t).toBeLessThan(10_000);
  });
});
