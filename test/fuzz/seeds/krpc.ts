/** Seeds of the KRPC corpus: every query, response and error our encoder writes, and each rule broken once. */
import { encode } from '../../../src/bencode/index.js';
import { encodeError, encodeQuery, encodeResponse } from '../../../src/dht/krpc.js';
import { seed, truncations, type Seed } from './seed.js';

const id = Buffer.alloc(20, 0x61);
const t = Buffer.from('aa');
const node = (i: number) => ({ id: Buffer.alloc(20, i), host: `11.0.0.${i}`, port: 6881 + i });

export function krpcSeeds(): Seed[] {
  const getPeers = encodeQuery(t, id, { q: 'get_peers', infoHash: Buffer.alloc(20, 0x62) });
  const nodes = encodeResponse(t, { id, nodes: [node(1), node(2), node(3)], token: Buffer.from('token') });
  return [
    seed('valid-ping', encodeQuery(t, id, { q: 'ping' })),
    seed('valid-find-node', encodeQuery(t, id, { q: 'find_node', target: Buffer.alloc(20, 0x63) })),
    seed('valid-get-peers', getPeers),
    seed('valid-announce-peer', encodeQuery(t, id, { q: 'announce_peer', infoHash: Buffer.alloc(20, 0x62), port: 6881, impliedPort: false, token: Buffer.from('tok') })),
    seed('valid-announce-peer-implied-port', encodeQuery(t, id, { q: 'announce_peer', infoHash: Buffer.alloc(20, 0x62), port: 0, impliedPort: true, token: Buffer.from('tok') })),
    seed('valid-response-ping', encodeResponse(t, { id })),
    seed('valid-response-nodes', nodes),
    seed('valid-response-values', encodeResponse(t, { id, values: [{ host: '11.0.0.9', port: 1, family: 4 }, { host: '11.0.0.10', port: 65535, family: 4 }], token: Buffer.from('t') })),
    seed('valid-error', encodeError(t, 201, 'A Generic Error Ocurred')),
    seed('read-only', encode({ a: { id, ro: 1 }, q: 'ping', t, y: 'q' })),
    seed('unknown-method', encode({ a: { id }, q: 'vote', t, y: 'q' })),
    seed('tid-17-bytes', encode({ a: { id }, q: 'ping', t: Buffer.alloc(17), y: 'q' })),
    seed('no-y', encode({ a: { id }, q: 'ping', t })),
    seed('y-unknown', encode({ t, y: 'x' })),
    seed('id-19-bytes', encode({ a: { id: Buffer.alloc(19) }, q: 'ping', t, y: 'q' })),
    seed('port-0', encode({ a: { id, info_hash: id, port: 0, token: 'x' }, q: 'announce_peer', t, y: 'q' })),
    seed('port-65536', encode({ a: { id, info_hash: id, port: 65536, token: 'x' }, q: 'announce_peer', t, y: 'q' })),
    seed('token-65-bytes', encode({ a: { id, info_hash: id, port: 1, token: Buffer.alloc(65) }, q: 'announce_peer', t, y: 'q' })),
    seed('nodes-27-bytes', encode({ r: { id, nodes: Buffer.alloc(27) }, t, y: 'r' })),
    seed('values-ipv6-and-garbage', encode({ r: { id, values: [Buffer.alloc(18), Buffer.alloc(6, 11), Buffer.alloc(5)] }, t, y: 'r' })),
    seed('values-201', encode({ r: { id, values: Array.from({ length: 201 }, () => Buffer.alloc(6, 11)) }, t, y: 'r' })),
    seed('values-not-strings', encode({ r: { id, values: [1] }, t, y: 'r' })),
    seed('error-empty', encode({ e: [], t, y: 'e' })),
    seed('error-code-only', encode({ e: [202], t, y: 'e' })),
    seed('error-not-a-list', encode({ e: 'x', t, y: 'e' })),
    seed('error-long-message', encode({ e: [203, 'm'.repeat(300)], t, y: 'e' })),
    seed('datagram-1501-bytes', Buffer.concat([getPeers, Buffer.alloc(1501 - getPeers.length)])),
    seed('a-not-a-dict', encode({ a: 1, q: 'ping', t, y: 'q' })),
    seed('not-a-dict', 'le'),
    ...truncations('get-peers', getPeers),
    ...truncations('nodes', nodes, [1, 4, 30, 60, 100, nodes.length - 1]),
  ];
}
