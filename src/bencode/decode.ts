/**
 * The one strict, bounded bencode decoder. Every byte that reaches sixswarm from a file or the
 * network is decoded here, so it never throws anything but BencodeError, never recurses past
 * `maxDepth`, and never allocates more than the input it was given.
 */

export type BValue = number | bigint | Buffer | BValue[] | BDict;

/** A dictionary: keys are the raw key bytes as latin1 strings (lossless), `span` is where it lay. */
export class BDict extends Map<string, BValue> {
  // Two numbers rather than an array: a torrent can hold a million dictionaries.
  start = 0;
  end = 0;
  /** Byte range [start, end) of this dictionary in the decoded buffer: the infohash needs it. */
  get span(): [number, number] {
    return [this.start, this.end];
  }
}

export class BencodeError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`bad bencode at byte ${offset}: ${message}`);
    this.name = 'BencodeError';
  }
}

export interface DecodeLimits {
  /** Maximum nesting of lists and dictionaries. */
  maxDepth?: number;
  /** Maximum number of values (of any kind) in the whole input. */
  maxItems?: number;
  /** Maximum input size in bytes. */
  maxBytes?: number;
  /** Accept bytes after the first value (extension messages carry a block after the dict). */
  allowTrailing?: boolean;
}

const DEFAULTS: Required<DecodeLimits> = {
  maxDepth: 64,
  maxItems: 4_000_000,
  maxBytes: 64 * 1024 * 1024,
  allowTrailing: false,
};

/** The decoder recurses once per nesting level: far deeper than this would overflow the stack. */
const MAX_SAFE_DEPTH = 1000;

const D = 0x64, L = 0x6c, I = 0x69, E = 0x65, COLON = 0x3a, MINUS = 0x2d, ZERO = 0x30, NINE = 0x39;

/** Decode exactly one value. With `allowTrailing`, use decodePrefix to learn where it ended. */
export function decode(buf: Buffer, limits: DecodeLimits = {}): BValue {
  return decodePrefix(buf, limits).value;
}

/** Decode one value off the front of `buf`; returns it and the offset just past it. */
export function decodePrefix(buf: Buffer, limits: DecodeLimits = {}): { value: BValue; end: number } {
  const lim = { ...DEFAULTS, ...limits };
  lim.maxDepth = Math.min(lim.maxDepth, MAX_SAFE_DEPTH);
  if (buf.length > lim.maxBytes) throw new BencodeError(`input of ${buf.length} bytes exceeds the ${lim.maxBytes}-byte limit`, 0);
  if (buf.length === 0) throw new BencodeError('empty input', 0);
  let pos = 0;
  let items = 0;

  const fail = (msg: string, at = pos): never => {
    throw new BencodeError(msg, at);
  };

  const readInt = (): number | bigint => {
    const start = pos;
    pos++; // 'i'
    const end = buf.indexOf(E, pos);
    if (end < 0) fail('unterminated integer', start);
    const neg = buf[pos] === MINUS;
    const digitsStart = neg ? pos + 1 : pos;
    if (digitsStart === end) fail('integer without digits', start);
    let n = 0;
    for (let k = digitsStart; k < end; k++) {
      const c = buf[k]!;
      if (c < ZERO || c > NINE) fail('non-digit in integer', k);
      n = n * 10 + (c - ZERO);
    }
    if (buf[digitsStart] === ZERO && end - digitsStart > 1) fail('integer with a leading zero', start);
    if (neg && buf[digitsStart] === ZERO) fail('negative zero', start);
    if (end - digitsStart > 20) fail('integer too long', start);
    const from = pos;
    pos = end + 1;
    // Up to 15 digits the sum above is exact (no string for the millions of lengths in a torrent).
    if (end - digitsStart <= 15) return neg ? -n : n;
    const big = BigInt(buf.toString('latin1', from, end));
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  };

  /** Moves past a string's length prefix and its bytes; returns where the bytes start. */
  const skipBytes = (): number => {
    const start = pos;
    const colon = buf.indexOf(COLON, pos);
    if (colon < 0 || colon - pos > 12) fail('bad string length', start);
    if (colon === pos) fail('string without length', start);
    let len = 0;
    for (let k = pos; k < colon; k++) {
      const c = buf[k]!;
      if (c < ZERO || c > NINE) fail('non-digit in string length', k);
      len = len * 10 + (c - ZERO);
    }
    if (buf[pos] === ZERO && colon - pos > 1) fail('string length with a leading zero', start);
    const dataStart = colon + 1;
    if (len > buf.length - dataStart) fail(`string of ${len} bytes runs past the end of the input`, start);
    pos = dataStart + len;
    return dataStart;
  };
  const readBytes = (): Buffer => buf.subarray(skipBytes(), pos);

  // A torrent repeats a few keys ("length", "path") a million times: a key whose bytes match the
  // last short key of its length reuses that string instead of making another.
  const lastKeyAt: number[] = [];
  const lastKey: string[] = [];
  const readKey = (): string => {
    const at = skipBytes();
    const len = pos - at;
    if (len > 16) return buf.toString('latin1', at, pos);
    const prev = lastKeyAt[len];
    if (prev !== undefined) {
      let k = 0;
      while (k < len && buf[prev + k] === buf[at + k]) k++;
      if (k === len) return lastKey[len]!;
    }
    const key = buf.toString('latin1', at, pos);
    lastKeyAt[len] = at;
    lastKey[len] = key;
    return key;
  };

  const readValue = (depth: number): BValue => {
    if (++items > lim.maxItems) fail(`more than ${lim.maxItems} values`);
    if (pos >= buf.length) fail('unexpected end of input');
    const c = buf[pos]!;
    if (c === I) return readInt();
    if (c >= ZERO && c <= NINE) return readBytes();
    if (c === L || c === D) {
      if (depth >= lim.maxDepth) fail(`nested deeper than ${lim.maxDepth} levels`);
      const start = pos;
      pos++;
      if (c === L) {
        const list: BValue[] = [];
        while (true) {
          if (pos >= buf.length) fail('unterminated list', start);
          if (buf[pos] === E) { pos++; return list; }
          list.push(readValue(depth + 1));
        }
      }
      const dict = new BDict();
      while (true) {
        if (pos >= buf.length) fail('unterminated dictionary', start);
        if (buf[pos] === E) { pos++; dict.start = start; dict.end = pos; return dict; }
        const c2 = buf[pos]!;
        if (c2 < ZERO || c2 > NINE) fail('dictionary key is not a string');
        const keyAt = pos;
        const key = readKey();
        if (dict.has(key)) fail(`duplicate dictionary key "${key}"`, keyAt);
        dict.set(key, readValue(depth + 1));
      }
    }
    return fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`);
  };

  const value = readValue(0);
  if (pos !== buf.length && !lim.allowTrailing) fail(`${buf.length - pos} trailing bytes after the value`);
  return { value, end: pos };
}
