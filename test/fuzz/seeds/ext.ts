/** Seeds of the ut_pex and ut_metadata corpora: what our encoders write, and each rule broken once. */
import { encode } from '../../../src/bencode/index.js';
import { encodeMetadataMessage } from '../../../src/ext/ut-metadata/codec.js';
import { encodePex, type PexPeer } from '../../../src/ext/ut-pex/codec.js';
import { PEX_SELF } from '../targets/ext.js';
import { seed, truncations, type Seed } from './seed.js';

const v4 = (host: string, port: number, flags = 0): PexPeer => ({ host, port, family: 4, flags });
const v6 = (host: string, port: number, flags = 0): PexPeer => ({ host, port, family: 6, flags });
const compact4 = (...hosts: [number, number, number, number, number][]) => Buffer.concat(hosts.map(([a, b, c, d, port]) => Buffer.from([a, b, c, d, port >> 8, port & 255])));

export function pexSeeds(): Seed[] {
  const ours = encodePex([v4('11.0.0.1', 6881, 0x12), v4('11.0.0.2', 51413), v6('2a00::1', 6881, 0x01)], [v4('11.0.0.3', 6881), v6('2a00::2', 1)]);
  const many = Array.from({ length: 250 }, (_, i) => v4(`11.0.${i >> 8}.${i & 255}`, 6881));
  return [
    seed('valid-ours', ours),
    seed('valid-empty', encodePex([], [])),
    seed('valid-documentation-ranges', encodePex([v4('198.51.100.1', 1), v6('2001:db8::1', 2)], [])),
    seed('entries-past-the-budget', encodePex(many, [])),
    seed('added-7-bytes', encode({ added: Buffer.alloc(7, 11) })),
    seed('ipv6-entries-in-added', encode({ added: Buffer.alloc(36, 0x2a), 'added.f': Buffer.alloc(2) })),
    seed('ipv6-sized-as-three-ipv4', encode({ added: Buffer.concat([Buffer.from([0x2a, 0, 0, 0, 0, 0]), Buffer.alloc(12)]), 'added.f': Buffer.alloc(1) })),
    seed('flags-length-wrong', encode({ added: compact4([11, 0, 0, 1, 1], [11, 0, 0, 2, 2]), 'added.f': Buffer.alloc(5) })),
    seed('loopback-private-multicast-port-0', encode({ added: compact4([127, 0, 0, 1, 6881], [10, 0, 0, 1, 6881], [224, 0, 0, 1, 6881], [11, 0, 0, 1, 0]) })),
    seed('self', encode({ added: compact4([198, 51, 100, 7, PEX_SELF.port]) })),
    seed('duplicate', encode({ added: compact4([11, 0, 0, 1, 1], [11, 0, 0, 1, 1]) })),
    seed('added-and-dropped', encode({ added: compact4([11, 0, 0, 1, 1]), dropped: compact4([11, 0, 0, 1, 1]) })),
    seed('v4-mapped-in-added6', encode({ added6: Buffer.concat([Buffer.alloc(10), Buffer.from([0xff, 0xff, 11, 0, 0, 1, 0, 1])]) })),
    seed('added-an-integer', encode({ added: 5 })),
    seed('not-a-dict', 'le'),
    seed('257-values', encode({ x: Array.from({ length: 256 }, () => 0) })),
    seed('depth-5', 'd1:xlllleeeee'),
    ...truncations('ours', ours, [1, 8, 20, 40, ours.length - 1]),
  ];
}

export function utMetadataSeeds(): Seed[] {
  const data = encodeMetadataMessage({ type: 'data', piece: 1, totalSize: 16384 + 100, data: Buffer.alloc(100, 0x64) });
  return [
    seed('valid-request', encodeMetadataMessage({ type: 'request', piece: 0 })),
    seed('valid-reject', encodeMetadataMessage({ type: 'reject', piece: 2047 })),
    seed('valid-data-last-piece', data),
    seed('valid-data-whole-piece', encodeMetadataMessage({ type: 'data', piece: 0, totalSize: 40000, data: Buffer.alloc(16384, 0x61) })),
    seed('extra-keys', 'd3:aaai1e8:msg_typei0e5:piecei0e3:zzz0:e'),
    seed('msg-type-3', 'd8:msg_typei3e5:piecei0ee'),
    seed('msg-type-negative', 'd8:msg_typei-1e5:piecei0ee'),
    seed('piece-2048', 'd8:msg_typei0e5:piecei2048ee'),
    seed('piece-a-string', 'd8:msg_typei0e5:piece1:0e'),
    seed('no-piece', 'd8:msg_typei0ee'),
    seed('total-size-0', 'd8:msg_typei1e5:piecei0e10:total_sizei0ee'),
    seed('total-size-past-32-mib', 'd8:msg_typei1e5:piecei0e10:total_sizei33554433ee'),
    seed('piece-past-the-last', 'd8:msg_typei1e5:piecei1e10:total_sizei100ee'),
    seed('data-one-byte-short', Buffer.concat([Buffer.from('d8:msg_typei1e5:piecei0e10:total_sizei100ee'), Buffer.alloc(99)])),
    seed('data-one-byte-long', Buffer.concat([Buffer.from('d8:msg_typei1e5:piecei0e10:total_sizei100ee'), Buffer.alloc(101)])),
    seed('request-trailing', 'd8:msg_typei0e5:piecei0eeX'),
    seed('not-a-dict', 'i0e'),
    ...truncations('data', data, [1, 13, 25, 45, 48, 60]),
  ];
}
