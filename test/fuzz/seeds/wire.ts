/**
 * Seeds of the wire and BEP 10 handshake corpora: the saved frame streams of fixtures/wire/,
 * every message our encoder writes, and each frame rule broken once (lengths at and past their
 * limits, payloads one byte off, truncations at frame boundaries).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as bencode } from '../../../src/bencode/index.js';
import { encodeExtensionHandshake } from '../../../src/wire/extension-handshake.js';
import { encodeHandshake } from '../../../src/wire/handshake.js';
import { encode, MSG, type Message } from '../../../src/wire/messages.js';
import { seed, truncations, type Seed } from './seed.js';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
/** A frame of message `id` with `payload`, its length prefix as given (or right). */
const frame = (id: number, payload: Buffer | number[] = [], length?: number) => Buffer.concat([u32(length ?? 1 + Buffer.from(payload).length), Buffer.from([id]), Buffer.from(payload)]);
const messages = (list: Message[]) => Buffer.concat(list.map((m) => encode.message(m)));

const EXT = encodeExtensionHandshake({ extensions: { ut_metadata: 1, ut_pex: 2 }, port: 6881, client: 'sixswarm 0.1', reqq: 250, yourIp: '198.51.100.7', ipv6: '2001:db8::1', extra: { metadata_size: 31337 } });

/** `root`: the repository (saved streams come from its fixtures/wire/). */
export function wireSeeds(root: string): Seed[] {
  const saved = readdirSync(join(root, 'fixtures', 'wire'))
    .filter((f) => f.endsWith('.bin'))
    .map((f) => seed(`valid-fixture-${f.replace(/\.bin$/, '')}`, readFileSync(join(root, 'fixtures', 'wire', f))));
  const every = messages([
    { type: 'keep-alive' }, { type: 'choke' }, { type: 'unchoke' }, { type: 'interested' }, { type: 'not-interested' },
    { type: 'have', index: 7 }, { type: 'bitfield', bits: Buffer.from('ffffffffffffffffffffffffe0', 'hex') },
    { type: 'request', index: 1, begin: 16384, length: 16384 }, { type: 'piece', index: 1, begin: 0, block: Buffer.alloc(64, 0xab) },
    { type: 'cancel', index: 1, begin: 16384, length: 16384 }, { type: 'port', port: 6881 }, { type: 'suggest', index: 3 },
    { type: 'have-all' }, { type: 'have-none' }, { type: 'reject', index: 1, begin: 0, length: 1 }, { type: 'allowed-fast', index: 9 },
    { type: 'extended', id: 0, payload: EXT }, { type: 'extended', id: 1, payload: Buffer.from('d8:msg_typei0e5:piecei0ee') },
  ]);
  const boundaries: number[] = [];
  for (let off = 0; off < every.length; off += 4 + every.readUInt32BE(off)) boundaries.push(off, off + 4, off + 5);
  return [
    ...saved,
    seed('valid-every-message', every),
    seed('valid-full-block', messages([{ type: 'piece', index: 0, begin: 0, block: Buffer.alloc(16384, 1) }])),
    seed('valid-pipelined-requests', encode.requests(Array.from({ length: 64 }, (_, i) => ({ index: i >> 2, begin: (i & 3) * 16384, length: 16384 })))),
    seed('after-a-handshake', Buffer.concat([encodeHandshake(Buffer.alloc(20, 1), Buffer.from('-SX0001-012345678901')), every.subarray(0, 40)])),
    seed('length-ffffffff', u32(0xffffffff)),
    seed('length-past-the-largest-frame', frame(MSG.extended, [0], 2 + 64 * 1024 + 1)),
    seed('block-length-0', frame(MSG.request, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
    seed('block-length-16385', frame(MSG.request, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x01])),
    seed('piece-without-block', frame(MSG.piece, [0, 0, 0, 0, 0, 0, 0, 0])),
    seed('piece-block-16385', frame(MSG.piece, Buffer.alloc(8 + 16385))),
    seed('extended-without-id', frame(MSG.extended)),
    seed('bitfield-12-bytes', frame(MSG.bitfield, Buffer.alloc(12, 0xff))),
    seed('bitfield-14-bytes', frame(MSG.bitfield, Buffer.alloc(14, 0xff))),
    seed('bitfield-empty', frame(MSG.bitfield)),
    seed('unknown-id-with-payload', frame(0x63, Buffer.from('ignored'))),
    seed('id-21', frame(21, [1, 2, 3])),
    ...[MSG.choke, MSG.have, MSG.request, MSG.port, MSG.haveAll, MSG.reject, MSG.allowedFast].flatMap((id) => {
      const fixed = { [MSG.choke]: 0, [MSG.have]: 4, [MSG.request]: 12, [MSG.port]: 2, [MSG.haveAll]: 0, [MSG.reject]: 12, [MSG.allowedFast]: 4 }[id]!;
      return [seed(`id-${id}-one-byte-long`, frame(id, Buffer.alloc(fixed + 1))), ...(fixed > 0 ? [seed(`id-${id}-one-byte-short`, frame(id, Buffer.alloc(fixed - 1)))] : [])];
    }),
    ...truncations('every-message', every, boundaries),
  ];
}

export function extHandshakeSeeds(): Seed[] {
  return [
    seed('valid-ours', EXT),
    seed('valid-minimal', encodeExtensionHandshake({ extensions: {}, client: 'x', reqq: 1 })),
    seed('no-m', 'de'),
    seed('not-a-dict', 'li1ee'),
    seed('m-not-a-dict', 'd1:mi1ee'),
    seed('ids-out-of-range', 'd1:md1:ai-1e1:bi256e1:ci99999999999999999999e1:d1:xee'),
    seed('port-0-and-65536', 'd1:mde1:pi65536e4:reqqi0ee'),
    seed('client-101-bytes', `d1:mde1:v101:${'v'.repeat(101)}e`),
    seed('client-escape-sequence', 'd1:mde1:v6:\x1b[2J\x07xe'),
    seed('yourip-5-bytes', 'd1:mde6:yourip5:abcdee'),
    seed('ipv4-16-bytes', `d4:ipv416:${'a'.repeat(16)}1:mdee`),
    seed('ipv6-4-bytes', 'd4:ipv64:abcd1:mdee'),
    seed('metadata-size-0', 'd1:mde13:metadata_sizei0ee'),
    seed('metadata-size-past-64-mib', 'd1:mde13:metadata_sizei67108865ee'),
    seed('depth-9', `d1:m${'l'.repeat(8)}${'e'.repeat(8)}e`),
    seed('2001-values', bencode({ m: {}, x: Array.from({ length: 2000 }, () => 0) })),
    seed('trailing-bytes', 'd1:mdeeXX'),
    ...truncations('ours', EXT, [1, 3, 4, 20, 40, EXT.length - 1]),
  ];
}
