/**
 * Seeds of the MSE corpora: whole transcripts of the other side (built by its own machine with
 * fixed keys against the machine under test, so they replay exactly), and each rule broken once.
 * Encrypted fields are edited through the RC4 stream: flipping a ciphertext bit flips the same
 * plaintext bit, so a known field can be set to any value.
 */
import { seed, truncations, type Seed } from './seed.js';
import { initiatorTranscript, responderTranscript } from '../targets/mse.js';

const P = Buffer.from(
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563',
  'hex',
);
const minus = (b: Buffer, n: number) => {
  const out = Buffer.from(b);
  out[out.length - 1]! -= n;
  return out;
};
/** The DH keys no peer may send (0, 1, P-1, P, past P), then a little padding. */
const badKeys: [string, Buffer][] = [
  ['zero', Buffer.alloc(96)],
  ['one', Buffer.concat([Buffer.alloc(95), Buffer.from([1])])],
  ['p-minus-1', minus(P, 1)],
  ['p', P],
  ['all-ff', Buffer.alloc(96, 0xff)],
];

/** `b` with the plaintext under an RC4 byte at `at` changed from `from` to `to`. */
function xorAt(b: Buffer, edits: [at: number, from: number, to: number][]): Buffer {
  const out = Buffer.from(b);
  for (const [at, from, to] of edits) out[at]! ^= from ^ to;
  return out;
}

const insertAt = (b: Buffer, at: number, extra: Buffer) => Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]);

export function mseResponderSeeds(): Seed[] {
  const base = initiatorTranscript(68);
  const e = 96 + 40; // where the encrypted part starts (no PadA)
  const pads = initiatorTranscript(68, { padA: 512, padC: 512 });
  return [
    seed('valid-ia-68', base),
    seed('valid-ia-0', initiatorTranscript(0)),
    seed('valid-ia-4000', initiatorTranscript(4000)),
    seed('valid-pads-512', pads),
    seed('valid-plaintext-only', initiatorTranscript(68, { provide: ['plaintext'] })),
    seed('valid-payload-after', initiatorTranscript(68, { after: Buffer.from('\x00\x00\x00\x01\x02 and the rest of the stream') })),
    ...badKeys.map(([name, key]) => seed(`dh-key-${name}`, Buffer.concat([key, base.subarray(96, 200)]))),
    seed('ya-95-bytes', base.subarray(0, 95)),
    seed('pad-a-513', insertAt(pads, 96, Buffer.from([0]))),
    seed('req1-corrupt', xorAt(base, [[96, 0, 1]])),
    seed('unknown-torrent', xorAt(base, [[116, 0, 1]])),
    seed('wrong-vc', xorAt(base, [[e + 7, 0, 1]])),
    seed('provide-none', xorAt(base, [[e + 11, 3, 0]])),
    seed('provide-unknown-method', xorAt(base, [[e + 11, 3, 4]])),
    seed('pad-c-513', xorAt(base, [[e + 12, 0, 2], [e + 13, 0, 1]])),
    seed('ia-length-65535-short', xorAt(base, [[e + 14, 0, 0xff], [e + 15, 68, 0xff]])),
    ...truncations('ia-68', base, [96, 116, 136, 144, 148, 150, 152, 220]),
  ];
}

export function mseInitiatorSeeds(): Seed[] {
  const base = responderTranscript();
  const e = 96; // no PadB
  const pads = responderTranscript({ padB: 512, padD: 512 });
  return [
    seed('valid-rc4', base),
    seed('valid-pads-512', pads),
    seed('valid-plaintext', responderTranscript({ allowed: ['plaintext'] })),
    seed('valid-payload-after', responderTranscript({ after: Buffer.from('\x13BitTorrent protocol and the rest') })),
    ...badKeys.map(([name, key]) => seed(`dh-key-${name}`, Buffer.concat([key, base.subarray(96)]))),
    seed('pad-b-513', insertAt(pads, 96, Buffer.from([0]))),
    seed('vc-corrupt', xorAt(base, [[e + 7, 0, 1]])),
    seed('select-both', xorAt(base, [[e + 11, 2, 3]])),
    seed('select-none', xorAt(base, [[e + 11, 2, 0]])),
    seed('select-unknown', xorAt(base, [[e + 11, 2, 4]])),
    seed('pad-d-513', xorAt(base, [[e + 12, 0, 2], [e + 13, 0, 1]])),
    ...truncations('rc4', base, [96, 104, 108, 110]),
  ];
}
