/**
 * Fuzz targets of Message Stream Encryption (src/mse/handshake.ts): hostile bytes fed to the
 * responder (as if a peer dialed us) and to the initiator (as if the peer we dialed answered).
 * Both machines run with fixed keys and padding, so an input replays exactly: the corpus holds
 * whole transcripts (built by the other side's machine, see seeds.ts) whose encrypted fields the
 * mutator reaches through the RC4 stream's XOR. They throw only MseError, and finish, fail or
 * wait the same way (sending the same bytes) however the input is cut.
 */
import { createHash } from 'node:crypto';
import { classifyFirstBytes } from '../../../src/mse/detect.js';
import { InitiatorHandshake, infoHashIndex, MseError, ResponderHandshake, type HandshakeOutcome, type HandshakeStep, type MseEntropy } from '../../../src/mse/handshake.js';
import { encodeHandshake } from '../../../src/wire/handshake.js';
import { CAPTURE_INFO_HASH } from '../capture/torrent.js';
import { bucket, check, chunkings, guarded, messageClass, same, type Target } from '../contract.js';

const sha1 = (s: string) => createHash('sha1').update(s).digest();

/** The torrent both sides talk about: the one libtorrent seeded when its handshakes were captured. */
export const MSE_INFO_HASH = CAPTURE_INFO_HASH;

/** Fixed keys and padding lengths (handed out in order), padding bytes of one value. */
export function fixedEntropy(privateKey: Buffer, pads: number[], fill: number): MseEntropy {
  const queue = [...pads];
  return { privateKey: () => privateKey, padLength: () => queue.shift() ?? 0, padding: (n) => Buffer.alloc(n, fill) };
}

/** The responder the corpus is fed to (PadB 3 bytes, PadD 5). */
export const responderUnderTest = (): ResponderHandshake =>
  new ResponderHandshake({ findInfoHash: infoHashIndex([sha1('another torrent'), MSE_INFO_HASH]), allowed: ['rc4', 'plaintext'], entropy: fixedEntropy(sha1('sixswarm fuzz: responder'), [3, 5], 0xbb) });

/** Our BitTorrent handshake, the initiator's initial payload. */
export const MSE_IA = encodeHandshake(MSE_INFO_HASH, Buffer.from('-SX0001-fuzzfuzzfuzz'));

/** The initiator the corpus is fed to (PadA 4 bytes, PadC 6), after its start(). */
export const initiatorUnderTest = (): InitiatorHandshake =>
  new InitiatorHandshake({ infoHash: MSE_INFO_HASH, initialPayload: MSE_IA, provide: ['rc4', 'plaintext'], entropy: fixedEntropy(sha1('sixswarm fuzz: initiator'), [4, 6], 0xaa) });

interface Run {
  sent: Buffer;
  /** Method, and every payload byte after the handshake, decrypted, however it was cut. */
  done?: { method: string; infoHash: string; payload: Buffer };
  error?: string;
  spokeMse: boolean;
}

function drive(machine: { feed(b: Buffer): HandshakeStep; readonly peerSpokeMse: boolean }, chunks: Buffer[], entry: string): Run {
  const sent: Buffer[] = [];
  let done: HandshakeOutcome | undefined;
  const after: Buffer[] = [];
  for (const chunk of chunks) {
    if (done) {
      // What the transport does with bytes after the handshake: continue the stream's cipher.
      const own = Buffer.from(chunk);
      if (done.method === 'rc4') done.ciphers.decrypt.xor(own, own);
      after.push(own);
      continue;
    }
    const r = guarded(entry, [MseError], () => machine.feed(chunk));
    if (!r.ok) return { sent: Buffer.concat(sent), error: r.error.message, spokeMse: machine.peerSpokeMse };
    sent.push(...r.value.send);
    done = r.value.done;
  }
  return {
    sent: Buffer.concat(sent),
    ...(done ? { done: { method: done.method, infoHash: done.infoHash.toString('hex'), payload: Buffer.concat([done.rest, ...after]) } } : {}),
    spokeMse: machine.peerSpokeMse,
  };
}

function signature(r: Run): string {
  if (r.error) return `MseError: ${messageClass(r.error)}${r.spokeMse ? ':mse' : ''}`;
  if (r.done) return `done:${r.done.method}:payload${bucket(r.done.payload.length)}`;
  return `waiting${r.spokeMse ? ':mse' : ''}`;
}

/**
 * Two runs agree. A feed that fails throws away what it would have sent (the caller closes the
 * connection), so on a failure what went out before may be shorter: one must begin the other.
 */
function sameRun(a: Run, b: Run): boolean {
  const [short, long] = a.sent.length <= b.sent.length ? [a.sent, b.sent] : [b.sent, a.sent];
  const sent = a.error === undefined ? a.sent.equals(b.sent) : long.subarray(0, short.length).equals(short);
  return sent && a.error === b.error && a.spokeMse === b.spokeMse && same(a.done, b.done);
}

function machineTarget(name: string, about: string, make: () => { feed(b: Buffer): HandshakeStep; readonly peerSpokeMse: boolean }, entry: string, extra?: (input: Buffer) => string): Target {
  return {
    name,
    about,
    maxLen: 2048,
    tokens: [Buffer.alloc(8), Buffer.alloc(96), Buffer.alloc(96, 0xff), Buffer.from([0, 0, 0, 1]), Buffer.from([0, 0, 0, 2]), Buffer.from([0, 0, 0, 3]), Buffer.from([2, 0]), Buffer.from([2, 1]), Buffer.from([0xff, 0xff])],
    run(input) {
      const whole = drive(make(), [input], entry);
      for (const chunks of chunkings(input)) {
        const cut = drive(make(), chunks, entry);
        check(sameRun(cut, whole), 'chunking', () => `cut into ${chunks.length} chunks the handshake goes differently: ${signature(cut)} vs ${signature(whole)}`);
      }
      if (whole.done) check(whole.done.infoHash === MSE_INFO_HASH.toString('hex'), 'invariant', () => 'finished for an info hash nobody asked for');
      return `${signature(whole)}${extra ? ` | ${extra(input)}` : ''}`;
    },
    exact(input) {
      const r = drive(make(), [input], entry);
      check(r.done !== undefined, 'round-trip', () => `a valid transcript does not finish the handshake (${signature(r)})`);
    },
    growth: [],
  };
}

export const mseResponderTarget: Target = {
  ...machineTarget(
    'mse-responder',
    'src/mse/handshake.ts ResponderHandshake fed what a dialing peer sends (fixed keys; whole, cut, byte by byte), and classifyFirstBytes',
    responderUnderTest,
    'ResponderHandshake.feed',
    (input) => String(classifyFirstBytes(input)),
  ),
  growth: [
    {
      name: 'an initial payload of up to 65535 bytes trickled one byte at a time',
      sizes: [4096, 65535],
      // Bounded by the 16-bit length, so a quadratic path here is mild: joining every byte onto
      // what came before cost 3.8-5.6x per byte at 64 KiB; joining once costs 0.7-1x.
      maxGrowth: 2,
      build: (n) => initiatorTranscript(Math.min(n, 65535)),
      feed: (input) => {
        const b = responderUnderTest();
        let done = false;
        for (let i = 0; i < input.length && !done; i++) done = b.feed(input.subarray(i, i + 1)).done !== undefined;
        if (!done) throw new Error('the trickled handshake did not finish');
      },
    },
  ],
};

export const mseInitiatorTarget: Target = machineTarget(
  'mse-initiator',
  'src/mse/handshake.ts InitiatorHandshake (after start) fed what the dialed peer answers (fixed keys; whole, cut, byte by byte)',
  () => {
    const a = initiatorUnderTest();
    a.start();
    return a;
  },
  'InitiatorHandshake.feed',
);
// The initiator reads at most 96 + 512 + 8 + 6 + 512 handshake bytes: its cost is bounded by a constant.

/** Encrypts `after` as the side that finished with `outcome` sends it (RC4 continues the stream). */
function payloadOf(outcome: HandshakeOutcome, after: Buffer | undefined): Buffer {
  if (!after) return Buffer.alloc(0);
  const out = Buffer.from(after);
  if (outcome.method === 'rc4') outcome.ciphers.encrypt.xor(out, out);
  return out;
}

/**
 * What a peer dialing us (its own fixed key, PadA and PadC of the lengths given) sends to the
 * responder under test: an initial payload of `iaLength` bytes, then `after`.
 */
export function initiatorTranscript(iaLength: number, opts: { padA?: number; padC?: number; provide?: ('rc4' | 'plaintext')[]; after?: Buffer } = {}): Buffer {
  const ia = iaLength === MSE_IA.length ? MSE_IA : Buffer.alloc(iaLength, 0x42);
  const a = new InitiatorHandshake({ infoHash: MSE_INFO_HASH, initialPayload: ia, provide: opts.provide ?? ['rc4', 'plaintext'], entropy: fixedEntropy(sha1('sixswarm fuzz: a peer dialing us'), [opts.padA ?? 0, opts.padC ?? 0], 0x11) });
  const b = responderUnderTest();
  const first = a.start();
  const step3 = a.feed(Buffer.concat(b.feed(first).send));
  const done = a.feed(Buffer.concat(b.feed(Buffer.concat(step3.send)).send)).done!;
  return Buffer.concat([first, ...step3.send, payloadOf(done, opts.after)]);
}

/**
 * What a peer we dial (its own fixed key, PadB and PadD of the lengths given, choosing from
 * `allowed`) answers the initiator under test, then `after`.
 */
export function responderTranscript(opts: { padB?: number; padD?: number; allowed?: ('rc4' | 'plaintext')[]; after?: Buffer } = {}): Buffer {
  const a = initiatorUnderTest();
  const b = new ResponderHandshake({ findInfoHash: infoHashIndex([MSE_INFO_HASH]), allowed: opts.allowed ?? ['rc4', 'plaintext'], entropy: fixedEntropy(sha1('sixswarm fuzz: a peer we dial'), [opts.padB ?? 0, opts.padD ?? 0], 0x22) });
  const step2 = b.feed(a.start());
  const step4 = b.feed(Buffer.concat(a.feed(Buffer.concat(step2.send)).send));
  return Buffer.concat([...step2.send, ...step4.send, payloadOf(step4.done!, opts.after)]);
}
