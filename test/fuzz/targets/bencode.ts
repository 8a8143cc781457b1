/**
 * Fuzz target: the bencode decoder (whole values with the default limits, prefixes with tight
 * ones) and the encoder. Whatever is accepted re-encodes to a value that decodes the same, and
 * to the very same bytes when its dictionaries' keys were sorted (the decoder refuses every
 * other non-canonical form).
 */
import { BDict, BencodeError, decode, decodePrefix, encode, type BValue } from '../../../src/bencode/index.js';
import { check, guarded, kindOf, type Target } from '../contract.js';

/** Whether every dictionary in `v` lists its keys in strictly ascending byte order. */
export function sortedKeys(v: BValue): boolean {
  if (Array.isArray(v)) return v.every(sortedKeys);
  if (v instanceof BDict) {
    let prev: string | undefined;
    for (const [k, item] of v) {
      if (prev !== undefined && prev >= k) return false;
      prev = k;
      if (!sortedKeys(item)) return false;
    }
  }
  return true;
}

const TIGHT = { allowTrailing: true, maxItems: 1024 };

const token = (s: string) => Buffer.from(s, 'latin1');

export const bencodeTarget: Target = {
  name: 'bencode',
  about: 'src/bencode: decode (default limits), decodePrefix (trailing bytes, 1024 values), encode',
  maxLen: 4096,
  bencode: true,
  tokens: ['i0e', 'i-1e', 'le', 'de', '0:', '1:a', '4:spam', 'i9223372036854775808e', 'd1:ai1e1:bi2ee', 'l'.repeat(70)].map(token),
  run(input) {
    const sig: string[] = [];
    const whole = guarded('decode', [BencodeError], () => decode(input));
    if (whole.ok) {
      const v = whole.value;
      sig.push(`ok:${kindOf(v)}`);
      const re = encode(v);
      const again = guarded('decode(encode(value))', [], () => decode(re));
      check(again.ok && encode(again.value).equals(re), 'round-trip', () => 'an accepted value, encoded, does not decode to the same value');
      const canonical = sortedKeys(v);
      check(re.equals(input) === canonical, 'round-trip', () =>
        canonical ? 'a canonical input does not re-encode to its own bytes' : 'an input with unsorted keys re-encodes to its own bytes');
    } else sig.push(whole.sig);

    const prefix = guarded('decodePrefix', [BencodeError], () => decodePrefix(input, TIGHT));
    if (prefix.ok) {
      const { end } = prefix.value;
      check(end > 0 && end <= input.length, 'invariant', () => `decodePrefix ended at ${end} of ${input.length}`);
      const part = guarded('decode(prefix)', [], () => decode(input.subarray(0, end), TIGHT));
      check(part.ok, 'invariant', () => 'the prefix decodePrefix accepted does not decode on its own');
      sig.push(end === input.length ? 'prefix:all' : 'prefix:part');
    } else sig.push(prefix.sig);
    return sig.join(' | ');
  },
  exact(input) {
    check(encode(decode(input)).equals(input), 'round-trip', () => 'a valid entry does not re-encode to its own bytes');
  },
  growth: [
    { name: 'a list of integers', sizes: [128 << 10, 1 << 20], build: (n) => Buffer.from(`l${'i123456e'.repeat(n / 8)}e`), feed: (b) => void decode(b) },
    {
      name: 'a dictionary of distinct keys',
      sizes: [128 << 10, 1 << 20],
      build: (n) => Buffer.from(`d${Array.from({ length: n / 14 }, (_, i) => `8:${String(i).padStart(8, '0')}i1e`).join('')}e`),
      feed: (b) => void decode(b),
    },
    { name: 'nested lists at the depth limit, side by side', sizes: [128 << 10, 1 << 20], build: (n) => Buffer.from(`l${`${'l'.repeat(62)}${'e'.repeat(62)}`.repeat(n / 124)}e`), feed: (b) => void decode(b) },
    { name: 'short strings', sizes: [128 << 10, 1 << 20], build: (n) => Buffer.from(`l${'10:0123456789'.repeat(n / 13)}e`), feed: (b) => void decode(b) },
    { name: 'encoding a decoded dictionary', sizes: [128 << 10, 1 << 20], build: (n) => Buffer.from(`d${Array.from({ length: n / 14 }, (_, i) => `8:${String(i).padStart(8, '0')}i1e`).join('')}e`), feed: (b) => void encode(decode(b)) },
  ],
};
