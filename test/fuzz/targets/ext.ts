/**
 * Fuzz targets of the BEP 10 extensions: ut_pex messages (src/ext/ut-pex/codec.ts, from a
 * partner on the Internet and one on loopback) and ut_metadata messages
 * (src/ext/ut-metadata/codec.ts). Both throw only ProtocolError; what they accept, written by
 * our encoder, decodes the same.
 */
import { BDict, decodePrefix, encode } from '../../../src/bencode/index.js';
import { decodeMetadataMessage, encodeMetadataMessage, METADATA_PIECE } from '../../../src/ext/ut-metadata/codec.js';
import { decodePex, encodePex, MAX_PEX_BYTES, type DecodedPex, type DecodeRules } from '../../../src/ext/ut-pex/codec.js';
import { ProtocolError } from '../../../src/wire/frame-decoder.js';
import { check, guarded, same, type Target } from '../contract.js';

const token = (s: string) => Buffer.from(s, 'latin1');

/** Our own address as the rules know it: an entry naming it is "self". */
export const PEX_SELF = { host: '198.51.100.7', port: 6881 };

const rules = (loopbackPartner: boolean): DecodeRules => ({
  partner: loopbackPartner ? 'loopback' : 'global',
  isSelf: (host, port) => host === PEX_SELF.host && port === PEX_SELF.port,
  maxEntries: 200,
});

function pexChecked(input: Buffer, loopback: boolean): string {
  const r = guarded('decodePex', [ProtocolError], () => decodePex(input, rules(loopback)));
  if (!r.ok) return r.sig;
  const d = r.value;
  const keys = d.added.map((p) => `${p.host}|${p.port}`);
  check(new Set(keys).size === keys.length, 'invariant', () => 'an added peer is listed twice');
  check(!d.dropped.some((p) => keys.includes(`${p.host}|${p.port}`)), 'invariant', () => 'a peer is both added and dropped');
  check(d.added.length + d.dropped.length <= 200, 'invariant', () => `${d.added.length + d.dropped.length} entries read past the budget of 200`);
  check(d.added.every((p) => p.port > 0 && p.flags >= 0 && p.flags <= 255), 'invariant', () => 'an added peer has port 0 or flags past a byte');
  const again = guarded('decodePex(encodePex(...))', [], () => decodePex(encodePex(d.added, d.dropped), rules(loopback)));
  check(again.ok && same(strip(again.value), strip(d)), 'round-trip', () => 'decoded PEX, encoded again, decodes differently');
  // Which reasons and how many of each is coverage's business: as a set here every mix would be "new".
  return `ok:${loopback ? 'lo' : 'net'}${d.added.length ? ':added' : ''}${Object.keys(d.filtered).length ? ':filtered' : ''}${d.unread ? ':unread' : ''}`;
}

const strip = (d: DecodedPex) => ({ added: d.added, dropped: d.dropped });

export const pexTarget: Target = {
  name: 'pex',
  about: 'src/ext/ut-pex/codec.ts: decodePex from an Internet partner and a loopback one, 200-entry budget (ProtocolError only)',
  maxLen: 8192,
  bencode: true,
  tokens: ['5:added', '7:added.f', '6:added6', '8:added6.f', '7:dropped', '8:dropped6', '6:\xc6\x33\x64\x07\x1a\xe1', '6:\x7f\x00\x00\x01\x1a\xe1', '6:\x0a\x00\x00\x01\x00\x00', '1:\x11', '18:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1'].map(token),
  run(input) {
    return `${pexChecked(input, false)} | ${pexChecked(input, true)}`;
  },
  exact(input) {
    const d = decodePex(input, rules(false));
    check(encodePex(d.added, d.dropped).equals(input), 'round-trip', () => 'a valid PEX message is not written back as it was');
  },
  growth: [
    {
      name: 'an added list up to the 512 KiB cap',
      sizes: [64 << 10, MAX_PEX_BYTES - 64],
      feed: (b) => void decodePex(b, rules(false)),
      build: (n) => {
        const count = Math.floor((n - 40) / 7);
        const added = Buffer.alloc(count * 6);
        for (let i = 0; i < count; i++) added.writeUInt32BE(0x0b000000 + i, 6 * i), added.writeUInt16BE(6881, 6 * i + 4);
        return encode({ added, 'added.f': Buffer.alloc(count) });
      },
    },
  ],
};

/** The dictionary keys a canonical ut_metadata message of this type has, in order. */
const CANONICAL_KEYS = { request: ['msg_type', 'piece'], reject: ['msg_type', 'piece'], data: ['msg_type', 'piece', 'total_size'] };

export const utMetadataTarget: Target = {
  name: 'ut-metadata',
  about: 'src/ext/ut-metadata/codec.ts: decodeMetadataMessage (ProtocolError only)',
  maxLen: METADATA_PIECE + 1024,
  bencode: true,
  tokens: ['8:msg_type', '5:piece', '10:total_size', 'i0e', 'i1e', 'i2e', 'i3e', 'i16384e', 'i16385e', 'i33554432e', 'i33554433e', 'i2047e', 'i2048e'].map(token),
  run(input) {
    const r = guarded('decodeMetadataMessage', [ProtocolError], () => decodeMetadataMessage(input));
    if (!r.ok) return r.sig;
    const m = r.value;
    const re = encodeMetadataMessage(m);
    const again = guarded('decodeMetadataMessage(encoded)', [], () => decodeMetadataMessage(re));
    check(again.ok && same(again.value, m), 'round-trip', () => 'a decoded ut_metadata message, encoded again, decodes differently');
    const head = decodePrefix(input, { allowTrailing: true }).value as BDict;
    const canonical = same([...head.keys()], CANONICAL_KEYS[m.type]);
    check(!canonical || re.equals(input), 'round-trip', () => 'a canonical ut_metadata message is not written back as it was');
    return `ok:${m.type}${canonical ? '' : ':extra-keys'}`;
  },
  exact(input) {
    check(encodeMetadataMessage(decodeMetadataMessage(input)).equals(input), 'round-trip', () => 'a valid ut_metadata message is not written back as it was');
  },
  // Messages are refused past 16 KiB of data and a 64-value dictionary: the cost is bounded by a constant.
  growth: [],
};
