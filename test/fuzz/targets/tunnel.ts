/**
 * Fuzz targets of the tunnel (src/tunnel/): the packet stream through the PacketFramer, plain
 * and with offload headers (whose headers then pass wireHeader), and the JSON handshake (the
 * object scanner, then the server's parseHello and the client's parseReply). The framer throws
 * only FramingError and hands out whole IPv6 packets, the same ones however the stream is cut;
 * the handshake throws only HandshakeError, and what it accepts, written by our encoder, parses
 * the same.
 */
import { FramingError, isIpv6Packet, PacketFramer } from '../../../src/tunnel/framer.js';
import { encodeHello, encodeReply, HandshakeError, JsonObjectScanner, parseHello, parseReply, type ScannedObject } from '../../../src/tunnel/handshake.js';
import { offloadProblem, segmentCount, VNET_HDR_BYTES, wireHeader } from '../../../src/tunnel/offload.js';
import { bucket, check, chunkings, guarded, messageClass, same, type Target } from '../contract.js';

interface Framed {
  frames: Buffer[];
  pending: number;
  error?: string;
}

function frame(chunks: Buffer[], headerBytes: number): Framed {
  const f = new PacketFramer(headerBytes);
  const frames: Buffer[] = [];
  for (const chunk of chunks) {
    const r = guarded('PacketFramer.push', [FramingError], () => f.push(chunk));
    if (!r.ok) return { frames, pending: f.pending, error: r.error.message };
    // Views into the chunks: copied before the next push, as the link uses them.
    for (const p of r.value) frames.push(Buffer.from(p));
  }
  return { frames, pending: f.pending };
}

/** Whether one list of frames begins with the other (frames carry their lengths: their concatenations say it). */
function onePrefixOfTheOther(a: Buffer[], b: Buffer[]): boolean {
  const [x, y] = [Buffer.concat(a), Buffer.concat(b)];
  const n = Math.min(x.length, y.length);
  return x.subarray(0, n).equals(y.subarray(0, n));
}

function framedChecked(input: Buffer, headerBytes: number): Framed {
  const whole = frame([input], headerBytes);
  for (const chunks of chunkings(input)) {
    const cut = frame(chunks, headerBytes);
    // A push that meets corruption throws away the whole packets of its own chunk (the link
    // closes at once): cut finer, more of the packets before it come out. Those must agree.
    const agree = whole.error === undefined ? Buffer.concat(cut.frames).equals(Buffer.concat(whole.frames)) && cut.pending === whole.pending : onePrefixOfTheOther(cut.frames, whole.frames);
    check(agree && cut.error === whole.error, 'chunking', () =>
      `cut into ${chunks.length} chunks the stream frames differently: ${cut.frames.length} frames, ${cut.error ?? 'ok'} vs ${whole.frames.length}, ${whole.error ?? 'ok'}`);
  }
  const joined = Buffer.concat(whole.frames);
  check(input.subarray(0, joined.length).equals(joined), 'invariant', () => 'the frames are not the stream\'s own bytes in order');
  if (!whole.error) check(joined.length + whole.pending === input.length, 'invariant', () => 'bytes lost between frames and what is held');
  for (const f of whole.frames) check(isIpv6Packet(f.subarray(headerBytes)), 'invariant', () => 'a frame that is not a whole IPv6 packet');
  return whole;
}

const framedSig = (f: Framed) => `frames${bucket(f.frames.length)}:${f.error ? `FramingError: ${messageClass(f.error)}` : `held${bucket(f.pending)}`}`;

/** An IPv6 packet of `payload` bytes (next header `next`). */
export function ipv6Packet(payload: number, next = 59, fill = 0x5a): Buffer {
  const p = Buffer.alloc(40 + payload, fill);
  p.writeUInt32BE(0x60000000, 0);
  p.writeUInt16BE(payload, 4);
  p[6] = next;
  p[7] = 64;
  return p;
}

const tokens = [Buffer.from([0x60, 0, 0, 0]), Buffer.from([0, 0]), Buffer.from([0xff, 0xff]), Buffer.from([0x45]), Buffer.from([0x60, 0, 0, 0, 0, 20, 6, 64])];

export const tunnelTarget: Target = {
  name: 'tunnel',
  about: 'src/tunnel/framer.ts: the PacketFramer over a packet stream (whole, cut, byte by byte; FramingError only)',
  maxLen: 8192,
  tokens,
  run(input) {
    return framedSig(framedChecked(input, 0));
  },
  exact(input) {
    const f = frame([input], 0);
    check(!f.error && f.pending === 0 && Buffer.concat(f.frames).equals(input), 'round-trip', () => 'a valid stream does not frame into exactly its packets');
  },
  growth: [
    { name: 'a stream of small packets', sizes: [128 << 10, 1 << 20], build: (n) => Buffer.concat(Array.from({ length: Math.floor(n / 60) }, () => ipv6Packet(20))), feed: (b) => void new PacketFramer(0).push(b) },
    {
      name: 'largest packets trickled one byte at a time',
      sizes: [64 << 10, 512 << 10],
      build: (n) => Buffer.concat(Array.from({ length: Math.ceil(n / 65575) }, () => ipv6Packet(65535))),
      feed: (input) => {
        const f = new PacketFramer(0);
        for (let i = 0; i < input.length; i++) f.push(input.subarray(i, i + 1));
      },
    },
  ],
};

export const tunnelOffloadTarget: Target = {
  name: 'tunnel-offload',
  about: 'src/tunnel/framer.ts with 10-byte offload headers, each frame\'s header through offload.ts wireHeader (which throws a plain Error with the problem)',
  maxLen: 8192,
  tokens: [...tokens, Buffer.alloc(VNET_HDR_BYTES), Buffer.from([1, 4, 0, 0, 0x10, 0, 40, 0, 16, 0]), Buffer.from([1, 0, 0, 0, 0, 0, 40, 0, 6, 0])],
  run(input) {
    const f = framedChecked(input, VNET_HDR_BYTES);
    const headers = new Set<string>();
    for (const fr of f.frames) {
      const header = fr.subarray(0, VNET_HDR_BYTES);
      const packet = fr.subarray(VNET_HDR_BYTES);
      const r = guarded('wireHeader', [Error], () => wireHeader(header, packet), true);
      if (!r.ok) {
        headers.add('refused');
        continue;
      }
      if (r.value) check(offloadProblem(r.value, packet) === null, 'invariant', () => 'an accepted header with a problem');
      const n = segmentCount(r.value, packet);
      check(Number.isInteger(n) && n >= 1 && n <= 65535, 'invariant', () => `a packet that stands for ${n} segments`);
      headers.add(r.value ? `gso${r.value[1]}` : 'plain');
    }
    // Which header problem is coverage's business: a refused header is not a contract break (the link closes).
    return `${framedSig(f)} | headers:${[...headers].sort().join(',')}`;
  },
  accepted: (sig) => !/Error: |refused/.test(sig),
  exact(input) {
    const f = frame([input], VNET_HDR_BYTES);
    check(!f.error && f.pending === 0 && Buffer.concat(f.frames).equals(input), 'round-trip', () => 'a valid stream does not frame into exactly its packets');
  },
  growth: [],
};

/** One object off the stream: the value, its JSON (what is compared: values can nest 2000 deep), what followed. */
function scan(chunks: Buffer[]): { value?: unknown; json?: string; rest?: Buffer; error?: string } {
  const s = new JsonObjectScanner();
  const after: Buffer[] = [];
  let found: ScannedObject | undefined;
  for (const chunk of chunks) {
    if (found) {
      after.push(chunk);
      continue;
    }
    const r = guarded('JsonObjectScanner.push', [HandshakeError], () => s.push(chunk));
    if (!r.ok) return { error: r.error.message };
    found = r.value;
  }
  return found ? { value: found.value, json: JSON.stringify(found.value), rest: Buffer.concat([found.rest, ...after]) } : {};
}

export const tunnelHandshakeTarget: Target = {
  name: 'tunnel-handshake',
  about: 'src/tunnel/handshake.ts: the JsonObjectScanner (whole, cut, byte by byte), then parseHello and parseReply on the object (HandshakeError only)',
  maxLen: 5000,
  tokens: ['{', '}', '[', ']', '"', '\\', '"Id"', '"id"', '"Token"', '"Offload"', '"vnet-tcp6"', '"Prefix"', '"Error"', '"2001:db8:1:2::/64"', '"fe80::/64"', 'null', '1e400', ':', ','].map((s) => Buffer.from(s)),
  run(input) {
    const whole = scan([input]);
    for (const chunks of chunkings(input)) {
      const cut = scan(chunks);
      check(cut.json === whole.json && cut.error === whole.error && same(cut.rest, whole.rest), 'chunking', () => `cut into ${chunks.length} chunks the handshake reads differently: ${cut.error ?? 'ok'} vs ${whole.error ?? 'ok'}`);
    }
    if (whole.error) return `HandshakeError: ${messageClass(whole.error)}`;
    if (whole.value === undefined) return 'waiting';
    const obj = whole.value as Record<string, unknown>;
    const sig = [`object:rest${bucket(whole.rest!.length)}`];
    const hello = guarded('parseHello', [HandshakeError], () => parseHello(obj));
    if (hello.ok) {
      const again = guarded('parseHello(encoded)', [], () => parseHello(JSON.parse(encodeHello(hello.value).toString()) as Record<string, unknown>));
      check(again.ok && same(again.value, hello.value), 'round-trip', () => 'a parsed hello, encoded again, parses differently');
      sig.push(`hello:${hello.value.token !== undefined ? 'token' : ''}:${hello.value.offload ? 'offload' : ''}`);
    } else sig.push(hello.sig);
    const reply = guarded('parseReply', [HandshakeError], () => parseReply(obj));
    if (reply.ok) {
      const r = reply.value;
      if (r.kind === 'prefix') {
        const again = guarded('parseReply(encoded)', [], () => parseReply(JSON.parse(encodeReply(r).toString()) as Record<string, unknown>));
        check(again.ok && same(again.value, r), 'round-trip', () => 'a parsed reply, encoded again, parses differently');
      }
      sig.push(`reply:${r.kind}`);
    } else sig.push(reply.sig);
    return sig.join(' | ');
  },
  // A hello is not a reply and a reply not a hello: either one is accepted.
  accepted: (sig) => /hello:|reply:/.test(sig),
  exact(input) {
    const s = scan([input]);
    check(s.value !== undefined && s.rest!.length === 0, 'round-trip', () => 'a valid handshake does not scan to one object');
    const obj = s.value as Record<string, unknown>;
    const hello = guarded('parseHello', [HandshakeError], () => parseHello(obj));
    const re = hello.ok ? encodeHello(hello.value) : encodeReply(parseReply(obj));
    check(re.equals(input), 'round-trip', () => 'a valid handshake is not written back as it was');
  },
  growth: [
    {
      name: 'a handshake trickled one byte at a time (up to the 4096-byte cap)',
      sizes: [256, 4000],
      build: (n) => Buffer.from(JSON.stringify({ Id: 'aa:bb:cc:dd:ee:ff', Token: 'x'.repeat(Math.max(0, n - 40)) })),
      feed: (input) => {
        const s = new JsonObjectScanner();
        for (let i = 0; i < input.length; i++) s.push(input.subarray(i, i + 1));
      },
    },
  ],
};
