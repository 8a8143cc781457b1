/**
 * The strict bounded bencode decoder: every malformed input is a BencodeError (never another
 * exception, never a hang), limits hold, and encode/decode round-trip byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BDict, BencodeError, decode, decodePrefix, encode, type BValue } from '../../src/bencode/index.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const fails = (input: string | Buffer, pattern: RegExp, limits = {}) => {
  const buf = typeof input === 'string' ? b(input) : input;
  let err: unknown;
  try {
    decode(buf, limits);
  } catch (e) {
    err = e;
  }
  expect(err, `${buf.toString('latin1').slice(0, 60)} should not decode`).toBeInstanceOf(BencodeError);
  expect((err as Error).message).toMatch(pattern);
};

describe('bencode decoder rejects malformed input', () => {
  it('rejects a negative string length (l-3:e)', () => fails('l-3:e', /unexpected byte 0x2d/));

  it('rejects leading zeros in integers and string lengths', () => {
    fails('i03e', /leading zero/);
    fails('i-03e', /leading zero|negative zero/);
    fails('03:abc', /leading zero/);
    expect(decode(b('i0e'))).toBe(0);
    expect(decode(b('0:'))).toEqual(Buffer.alloc(0));
  });

  it('rejects negative zero and integers without digits', () => {
    fails('i-0e', /negative zero/);
    fails('ie', /without digits/);
    fails('i-e', /without digits/);
    fails('i+1e', /non-digit/);
    fails('i1.5e', /non-digit/);
    fails('i 1e', /non-digit/);
  });

  it('rejects unterminated values', () => {
    fails('', /empty input/);
    fails('i12', /unterminated integer/);
    fails('l', /unterminated list/);
    fails('li1e', /unterminated list/);
    fails('d', /unterminated dictionary/);
    fails('d1:a', /unexpected end of input/);
    fails('d1:ai1e', /unterminated dictionary/);
    fails('5:abc', /runs past the end/);
    fails('3', /bad string length/);
  });

  it('rejects trailing bytes unless asked to allow them', () => {
    fails('i1ei2e', /3 trailing bytes/);
    fails('le ', /1 trailing bytes/);
    expect(decodePrefix(b('d1:ai1ee<block>'), { allowTrailing: true })).toMatchObject({ end: 8 });
  });

  it('rejects non-string dictionary keys and duplicate keys', () => {
    fails('di1ei2ee', /key is not a string/);
    fails('dlei1ee', /key is not a string/);
    fails('d1:ai1e1:ai2ee', /duplicate dictionary key "a"/);
    fails('d1:bi1e1:a0:1:bi2ee', /duplicate dictionary key "b"/);
  });

  it('rejects huge or malformed string lengths without allocating', () => {
    fails('4294967296:abc', /runs past the end/);
    fails('999999999999:x', /runs past the end/);
    fails(`${'9'.repeat(13)}:x`, /bad string length/);
    fails('1x:a', /non-digit in string length/);
  });

  it('rejects integers longer than 20 digits but keeps 64-bit values exact', () => {
    fails(`i${'1'.repeat(21)}e`, /integer too long/);
    expect(decode(b('i9223372036854775807e'))).toBe(9223372036854775807n);
    expect(decode(b('i-9223372036854775808e'))).toBe(-9223372036854775808n);
    expect(decode(b('i9007199254740991e'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decode(b('i9007199254740992e'))).toBe(9007199254740992n);
  });

  it('rejects unknown type bytes', () => {
    fails('x', /unexpected byte 0x78/);
    fails('l\x00e', /unexpected byte 0x00/);
  });
});

describe('bencode decoder limits', () => {
  it('stops 50,000 nested lists at the depth limit, quickly', () => {
    const deep = b('l'.repeat(50_000) + 'e'.repeat(50_000));
    const t = performance.now();
    fails(deep, /nested deeper than 64 levels/);
    fails(b('d1:a'.repeat(50_000) + 'i1e' + 'e'.repeat(50_000)), /nested deeper than 64 levels/);
    expect(performance.now() - t).toBeLessThan(200);
  });

  it('counts depth exactly: maxDepth nested containers decode, one more does not', () => {
    const nest = (n: number) => b('l'.repeat(n) + 'e'.repeat(n));
    expect(() => decode(nest(8), { maxDepth: 8 })).not.toThrow();
    fails(nest(9), /nested deeper than 8 levels/, { maxDepth: 8 });
  });

  it('never overflows the stack, even when a caller asks for an absurd depth', () => {
    fails(b('l'.repeat(50_000) + 'e'.repeat(50_000)), /nested deeper than/, { maxDepth: Infinity });
  });

  it('enforces maxItems over the whole input', () => {
    const list = (n: number) => b(`l${'i1e'.repeat(n)}e`);
    expect(decode(list(4), { maxItems: 5 })).toHaveLength(4); // the list itself counts
    fails(list(5), /more than 5 values/, { maxItems: 5 });
    fails(b(`d${'1:ai1e'.repeat(1)}${'1:bli1ei2ei3ee'}e`), /more than 4 values/, { maxItems: 4 });
  });

  it('enforces maxBytes before looking at the input', () => {
    fails(b('0:'.padEnd(100, 'x')), /exceeds the 50-byte limit/, { maxBytes: 50 });
  });
});

/** A random value of bounded size, as the decoder would produce it. */
function randomValue(depth: number, rnd: () => number): BValue {
  const kind = depth > 3 ? Math.floor(rnd() * 2) : Math.floor(rnd() * 4);
  if (kind === 0) {
    const r = rnd();
    if (r < 0.1) return BigInt.asIntN(64, BigInt(`0x${randomBytes(8).toString('hex')}`));
    return Math.floor((rnd() - 0.5) * 2 ** 40);
  }
  if (kind === 1) return randomBytes(Math.floor(rnd() * 40));
  if (kind === 2) return Array.from({ length: Math.floor(rnd() * 5) }, () => randomValue(depth + 1, rnd));
  const d = new BDict();
  for (let i = Math.floor(rnd() * 5); i > 0; i--) d.set(randomBytes(1 + Math.floor(rnd() * 6)).toString('latin1'), randomValue(depth + 1, rnd));
  return d;
}

/** Decoded values compared structurally (BDict spans differ between inputs). */
function plain(v: BValue): unknown {
  if (v instanceof BDict) return [...v.entries()].sort(([a], [c]) => Buffer.compare(b(a), b(c))).map(([k, x]) => [k, plain(x)]);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'bigint' && Number.isSafeInteger(Number(v))) return Number(v);
  return v;
}

describe('bencode round trip', () => {
  it('encode then decode gives the same value, and re-encoding the same bytes', () => {
    const rnd = Math.random;
    for (let i = 0; i < 500; i++) {
      const v = randomValue(0, rnd);
      const bytes = encode(v);
      const back = decode(bytes);
      expect(plain(back)).toEqual(plain(v));
      expect(encode(back).equals(bytes)).toBe(true);
    }
  });

  it('encodes dictionary keys sorted by raw bytes and keeps binary keys intact', () => {
    const d = new BDict([['\xff', 1], ['a', 2], ['B', 3], ['', 4]]);
    expect(encode(d).toString('latin1')).toBe('d0:i4e1:Bi3e1:ai2e1:\xffi1ee');
    expect([...(decode(encode(d)) as BDict).keys()]).toEqual(['', 'B', 'a', '\xff']);
  });

  it('records where each dictionary lay in the input (the infohash needs it)', () => {
    const input = b('d4:infod6:lengthi5eee');
    const info = (decode(input) as BDict).get('info') as BDict;
    expect(input.subarray(...info.span).toString()).toBe('d6:lengthi5ee');
  });
});

describe('bencode fuzz', () => {
  it('mutated valid inputs only ever throw BencodeError, and finish quickly', () => {
    const seeds = [
      encode({ announce: 'http://t.example/a', info: { name: 'x', 'piece length': 16384, pieces: randomBytes(40), length: 3 } }),
      encode({ m: { ut_pex: 1, ut_metadata: 2 }, p: 6881, v: 'client', yourip: randomBytes(16), reqq: 250 }),
      encode([[1, [2, [3, [4]]]], { a: { b: { c: [] } } }, -42, '']),
      ...Array.from({ length: 10 }, () => encode(randomValue(0, Math.random))),
    ];
    const alphabet = b('ilde:-0123456789x');
    const t = performance.now();
    let decoded = 0;
    for (let round = 0; round < 20_000; round++) {
      const src = seeds[round % seeds.length]!;
      const m = Buffer.from(src);
      let out: Buffer = m;
      const op = round % 5;
      const at = Math.floor(Math.random() * m.length);
      if (op === 0) m[at] = alphabet[Math.floor(Math.random() * alphabet.length)]!;
      else if (op === 1) m[at] = Math.floor(Math.random() * 256);
      else if (op === 2) out = m.subarray(0, at);
      else if (op === 3) out = Buffer.concat([m.subarray(0, at), m.subarray(at, at + 1 + Math.floor(Math.random() * 8)), m.subarray(at)]);
      else out = Buffer.concat([m.subarray(0, at), m.subarray(Math.min(m.length, at + 1 + Math.floor(Math.random() * 4)))]);
      try {
        decode(out, { maxDepth: 16, maxItems: 10_000 });
        decoded++;
      } catch (e) {
        if (!(e instanceof BencodeError)) throw new Error(`${(e as Error).name} (not BencodeError) on ${out.toString('hex')}: ${(e as Error).message}`);
      }
    }
    expect(decoded).toBeGreaterThan(0); // some mutations stay valid: the fuzzer is not just producing junk
    expect(performance.now() - t).toBeLessThan(5000);
  });

  it('random bytes only ever throw BencodeError', () => {
    for (let i = 0; i < 5000; i++) {
      const junk = randomBytes(1 + Math.floor(Math.random() * 64));
      try {
        decode(junk);
      } catch (e) {
        expect(e).toBeInstanceOf(BencodeError);
      }
    }
  });
});
