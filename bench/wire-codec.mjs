#!/usr/bin/env node
/**
 * Why sixswarm has its own wire codec: parse the same stream of piece messages (16 KiB blocks,
 * delivered in 64 KiB chunks like socket reads) with our bounded FrameDecoder and with
 * bittorrent-protocol 5.0.9 (which has no limits), and print MB/s of each.
 * Usage: bench/wire-codec.mjs [MiB=1024]   (run `npm run build` first)
 */
import { randomBytes } from 'node:crypto';
import { FrameDecoder } from '../dist/src/wire/frame-decoder.js';
import { encodeHandshake } from '../dist/src/wire/handshake.js';
import Wire from 'bittorrent-protocol';

const MiB = Number(process.argv[2] ?? 1024);
const BLOCK = 16384;
const block = randomBytes(BLOCK);
/** One 4 MiB stretch of piece messages, cut into 64 KiB "reads" (re-used, as a socket re-reads). */
function makeChunks() {
  const msgs = [];
  for (let i = 0; i < 256; i++) {
    const h = Buffer.alloc(13);
    h.writeUInt32BE(9 + BLOCK, 0);
    h[4] = 7;
    h.writeUInt32BE(i >> 4, 5);
    h.writeUInt32BE((i & 15) * BLOCK, 9);
    msgs.push(h, block);
  }
  const all = Buffer.concat(msgs);
  const chunks = [];
  for (let o = 0; o < all.length; o += 65536) chunks.push(all.subarray(o, o + 65536));
  return { chunks, bytes: all.length };
}
const { chunks, bytes } = makeChunks();
const rounds = Math.ceil((MiB * 1048576) / bytes);
const total = rounds * bytes;
const sink = Buffer.alloc(BLOCK * 16);

function ours() {
  const d = new FrameDecoder({ bitfieldBytes: 1024, maxBlock: 131072, maxExtended: 1 << 20 });
  let pieces = 0;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    for (const c of chunks) d.push(c, (m) => {
      if (m.type === 'piece') { m.block.copy(sink, m.begin); pieces++; }
    });
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, pieces };
}

async function theirs() {
  const wire = new Wire();
  let pieces = 0;
  wire.on('piece', (index, offset, buf) => { sink.set(buf, offset); pieces++; });
  wire.on('error', () => {});
  const hs = encodeHandshake(Buffer.alloc(20, 1), Buffer.alloc(20, 2));
  wire.write(hs);
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    for (const c of chunks) {
      if (!wire.write(c)) await new Promise((res) => wire.once('drain', res));
    }
  }
  await new Promise((res) => setImmediate(res));
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, pieces };
}

const a = ours();
const b = await theirs();
const rate = (r) => ((total / 1e6) / (r.ms / 1000)).toFixed(0);
console.log(`stream: ${(total / 1048576).toFixed(0)} MiB of 16 KiB piece messages in 64 KiB chunks`);
console.log(`sixswarm FrameDecoder (bounded):   ${rate(a)} MB/s  (${a.pieces} pieces)`);
console.log(`bittorrent-protocol 5.0.9 (unbounded): ${rate(b)} MB/s  (${b.pieces} pieces)`);
console.log(`ratio ours/theirs: ${(b.ms / a.ms).toFixed(2)}`);
process.exit(0);
