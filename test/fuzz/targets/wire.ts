/**
 * Fuzz targets of the peer wire: a stream of frames through the FrameDecoder (the torrent's
 * size known and not yet known, whole, cut at random and byte by byte, through a reused
 * buffer), the BEP 3 handshake, and BEP 10 extension handshakes, alone and inside the stream.
 * Frames re-encode to the bytes they came from; a stream decodes the same however it is cut.
 */
import { FrameDecoder, ProtocolError, type FrameLimits } from '../../../src/wire/frame-decoder.js';
import { encodeExtensionHandshake, parseExtensionHandshake, type ExtensionHandshake, type OurExtensionHandshake } from '../../../src/wire/extension-handshake.js';
import { encodeHandshake, parseHandshake } from '../../../src/wire/handshake.js';
import { encode, MSG, type Message } from '../../../src/wire/messages.js';
import { bucket, check, chunkings, guarded, messageClass, same, type Target } from '../contract.js';

/** A torrent of 100 pieces: 13-byte bitfields. */
export const WIRE_LIMITS: FrameLimits = { bitfieldBytes: 13, maxBlock: 16 * 1024, maxExtended: 64 * 1024 };
const UNKNOWN_SIZE: FrameLimits = { ...WIRE_LIMITS, bitfieldBytes: 0 };
const KNOWN_IDS = new Set<number>(Object.values(MSG));

interface Decoded {
  /** Each message as the encoder writes it (encoded inside the handler: a piece's block is a view). */
  frames: Buffer[];
  types: string[];
  extended: Buffer[];
  error?: string;
}

function decodeStream(chunks: Buffer[], limits: FrameLimits, transient: boolean): Decoded {
  const d = new FrameDecoder(limits);
  const out: Decoded = { frames: [], types: [], extended: [] };
  const scratch = Buffer.alloc(transient ? Math.max(0, ...chunks.map((c) => c.length)) : 0);
  const onMessage = (m: Message) => {
    out.frames.push(encode.message(m));
    out.types.push(m.type);
    if (m.type === 'extended' && m.id === 0) out.extended.push(m.payload);
  };
  for (const chunk of chunks) {
    let c = chunk;
    if (transient) {
      chunk.copy(scratch);
      c = scratch.subarray(0, chunk.length);
    }
    const r = guarded('FrameDecoder.push', [ProtocolError], () => d.push(c, onMessage, transient));
    if (transient) scratch.fill(0xee);
    if (!r.ok) {
      out.error = r.error.message;
      break;
    }
  }
  // Extended payloads kept past the push must be our own copies (the scratch was scribbled over).
  out.extended = out.extended.map((p) => Buffer.from(p));
  return out;
}

/** Whether every whole frame of `b` has a known id (unknown ones are skipped, so they cannot re-encode). */
function knownIdsOnly(b: Buffer): boolean {
  for (let off = 0; off + 4 < b.length; ) {
    const len = b.readUInt32BE(off);
    if (len > 0 && !KNOWN_IDS.has(b[off + 4]!)) return false;
    off += 4 + len;
  }
  return true;
}

/** The stream with `limits`: the same outcome however it is cut; what decodes re-encodes to its own bytes. */
function stream(input: Buffer, limits: FrameLimits, label: string): Decoded {
  const whole = decodeStream([input], limits, false);
  for (const [k, chunks] of chunkings(input).entries()) {
    for (const transient of [false, true]) {
      const cut = decodeStream(chunks, limits, transient);
      // Encoded frames carry their own lengths: their concatenations are equal only if they all are.
      check(Buffer.concat(cut.frames).equals(Buffer.concat(whole.frames)) && cut.error === whole.error && same(cut.extended, whole.extended), 'chunking', () =>
        `${label}: cut into ${chunks.length} chunks (${k === 0 ? 'random' : 'bytes'}${transient ? ', reused buffer' : ''}) it decodes differently: ${cut.error ?? 'ok'} vs ${whole.error ?? 'ok'}`);
    }
  }
  if (knownIdsOnly(input)) {
    const re = Buffer.concat(whole.frames);
    const exact = whole.error === undefined ? re.length <= input.length && input.subarray(0, re.length).equals(re) : input.subarray(0, re.length).equals(re);
    check(exact, 'round-trip', () => `${label}: decoded frames do not re-encode to the bytes they came from`);
  }
  return whole;
}

export const wireTarget: Target = {
  name: 'wire',
  about: 'src/wire/frame-decoder.ts over a frame stream (100-piece torrent and size unknown; whole, cut, byte by byte, reused buffer), BEP 10 handshakes inside it, parseHandshake',
  maxLen: 8192,
  tokens: [
    Buffer.from([0, 0, 0, 0]), Buffer.from([0, 0, 0, 1, 0]), Buffer.from([0, 0, 0, 5, 4, 0, 0, 0, 1]), Buffer.from([0, 0, 0, 14, 5]),
    Buffer.from([0, 0, 0, 13, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0]), Buffer.from([0, 0, 0x40, 0x09, 7]), Buffer.from([0, 0, 0, 3, 9, 0x1a, 0xe1]),
    Buffer.from([0, 0, 0, 1, 14]), Buffer.from([0, 0, 0, 1, 15]), Buffer.from([0, 0, 0, 2, 20, 0]), Buffer.from([0, 0, 0, 2, 20, 1]),
    Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from('d1:md6:ut_pexi1eee'), Buffer.from('\x13BitTorrent protocol', 'latin1'),
  ],
  run(input) {
    const known = stream(input, WIRE_LIMITS, 'size known');
    const unknown = stream(input, UNKNOWN_SIZE, 'size unknown');
    // Which types came is coverage's business: as a set here it would make every mix "new".
    const sig = [`known:${bucket(known.types.length)}:${known.error ? `ProtocolError: ${messageClass(known.error)}` : 'ok'}`, `unknown:${unknown.error ? `ProtocolError: ${messageClass(unknown.error)}` : 'ok'}`];
    for (const payload of known.extended) {
      const h = guarded('parseExtensionHandshake', [ProtocolError], () => parseExtensionHandshake(payload));
      sig.push(h.ok ? 'ext:ok' : h.sig);
    }
    const hs = guarded('parseHandshake', [], () => parseHandshake(input));
    if (hs.ok && hs.value) {
      check(encodeHandshake(hs.value.infoHash, hs.value.peerId).subarray(28).equals(input.subarray(28, 68)), 'round-trip', () => 'a parsed handshake does not re-encode its info hash and peer id');
      sig.push('handshake');
    }
    return sig.join(' | ');
  },
  // Accepted is framed: a BEP 10 payload inside may still be refused (fixtures/wire's handshake frame holds a broken one).
  accepted: (sig) => /^known:[^|]*:ok \| unknown:ok/.test(sig),
  exact(input) {
    const d = decodeStream([input], WIRE_LIMITS, false);
    check(d.error === undefined && Buffer.concat(d.frames).equals(input), 'round-trip', () => `a valid stream does not re-encode to its own bytes (${d.error ?? 'no error'})`);
  },
  growth: [
    { name: 'a stream of have messages', sizes: [128 << 10, 1 << 20], build: (n) => Buffer.concat(Array.from({ length: n / 9 }, (_, i) => encode.message({ type: 'have', index: i }))), feed: (b) => new FrameDecoder(WIRE_LIMITS).push(b, () => undefined) },
    { name: 'a stream of keep-alives', sizes: [128 << 10, 1 << 20], build: (n) => Buffer.alloc(n), feed: (b) => new FrameDecoder(WIRE_LIMITS).push(b, () => undefined) },
    {
      name: 'piece messages trickled one byte at a time',
      sizes: [64 << 10, 512 << 10],
      build: (n) => Buffer.concat(Array.from({ length: Math.ceil(n / 16393) }, (_, i) => encode.message({ type: 'piece', index: i, begin: 0, block: Buffer.alloc(16384, i) }))),
      feed: (input) => {
        const d = new FrameDecoder(WIRE_LIMITS);
        for (let i = 0; i < input.length; i++) d.push(input.subarray(i, i + 1), () => undefined);
      },
    },
  ],
};

/** Fields of a parsed extension handshake that survive being written by our encoder. */
function stable(h: ExtensionHandshake) {
  return { m: h.m, port: h.port, reqq: h.reqq, yourIp: h.yourIp, ipv4: h.ipv4, ipv6: h.ipv6, metadataSize: h.metadataSize };
}

/** What we would send to say what `h` says. Map keys are latin1 (the raw key bytes), which the encoder keeps. */
function ours(h: ExtensionHandshake): OurExtensionHandshake {
  return {
    extensions: h.m as unknown as Record<string, number>,
    port: h.port,
    client: h.client as string,
    reqq: h.reqq as number,
    yourIp: h.yourIp,
    ipv4: h.ipv4,
    ipv6: h.ipv6,
    extra: { metadata_size: h.metadataSize },
  };
}

export const extHandshakeTarget: Target = {
  name: 'ext-handshake',
  about: 'src/wire/extension-handshake.ts: parseExtensionHandshake on a BEP 10 payload (ProtocolError only)',
  maxLen: 4096,
  bencode: true,
  tokens: ['1:m', '11:ut_metadata', '6:ut_pex', '1:p', '1:v', '4:reqq', '6:yourip', '4:ipv4', '4:ipv6', '13:metadata_size', 'i65535e', 'i65536e', 'i0e', 'i255e', 'i256e', '4:\x7f\x00\x00\x01'].map((s) => Buffer.from(s, 'latin1')),
  run(input) {
    const r = guarded('parseExtensionHandshake', [ProtocolError], () => parseExtensionHandshake(input));
    if (!r.ok) return r.sig;
    const h = r.value;
    for (const id of h.m.values()) check(Number.isInteger(id) && id >= 0 && id <= 255, 'invariant', () => `extension id ${id}`);
    check(h.port === undefined || (h.port >= 1 && h.port <= 65535), 'invariant', () => `port ${h.port}`);
    const again = guarded('parseExtensionHandshake(encoded)', [], () => parseExtensionHandshake(encodeExtensionHandshake(ours(h))));
    check(again.ok && same(stable(again.value), stable(h)), 'round-trip', () => 'a parsed extension handshake, written by our encoder, parses differently');
    return `ok:m${bucket(h.m.size)}`;
  },
  exact(input) {
    const h = parseExtensionHandshake(input);
    check(encodeExtensionHandshake(ours(h)).equals(input), 'round-trip', () => 'a valid extension handshake is not written back as it was');
  },
  growth: [
    {
      name: 'a handshake of many extensions (up to the 2000-value cap)',
      sizes: [8 << 10, 60 << 10],
      feed: (b) => void parseExtensionHandshake(b),
      build: (n) => {
        const count = Math.min(990, Math.floor(n / 20));
        const client = 'v'.repeat(Math.max(0, n - 20 * count - 30));
        return Buffer.from(`d1:md${Array.from({ length: count }, (_, i) => `9:ext${String(i).padStart(6, '0')}i${i % 256}e`).join('')}e1:v${client.length}:${client}e`);
      },
    },
  ],
};
