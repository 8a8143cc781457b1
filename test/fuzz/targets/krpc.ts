/**
 * Fuzz target: one DHT datagram through src/dht/krpc.ts parseMessage (KrpcError only, with a
 * reply address only for queries). A parsed query, response or error, written by our encoder,
 * parses the same.
 */
import { encodeError, encodeQuery, encodeResponse, KrpcError, MAX_DATAGRAM, parseMessage, type KrpcMessage } from '../../../src/dht/krpc.js';
import { check, guarded, same, type Target } from '../contract.js';

const token = (s: string) => Buffer.from(s, 'latin1');

/** The same message written by our encoder (ro, unknown keys and a method we do not know are not ours to write). */
function rewritten(m: KrpcMessage): Buffer | undefined {
  if (m.y === 'q') return m.query ? encodeQuery(m.t, m.id, m.query) : undefined;
  if (m.y === 'r') return encodeResponse(m.t, { id: m.id, ...(m.nodes.length ? { nodes: m.nodes } : {}), ...(m.values.length ? { values: m.values } : {}), ...(m.token ? { token: m.token } : {}) }, m.ip);
  return Buffer.byteLength(m.message) <= 200 && Number.isSafeInteger(m.code) ? encodeError(m.t, m.code, m.message) : undefined;
}

/** What survives a rewrite: everything but `ro`. */
function comparable(m: KrpcMessage): unknown {
  if (m.y === 'q') return { ...m, readOnly: false };
  return m;
}

export const krpcTarget: Target = {
  name: 'krpc',
  about: 'src/dht/krpc.ts: parseMessage on one datagram (KrpcError only)',
  maxLen: MAX_DATAGRAM + 16,
  bencode: true,
  tokens: [
    '1:t', '1:y', '1:q', '1:r', '1:e', '1:a', '2:id', '4:ping', '9:find_node', '9:get_peers', '13:announce_peer', '6:target', '9:info_hash',
    '5:nodes', '6:values', '5:token', '4:port', '12:implied_port', '2:ro', '20:aaaaaaaaaaaaaaaaaaaa', '26:aaaaaaaaaaaaaaaaaaaa\x7f\x00\x00\x01\x1a\xe1',
    '6:\xc6\x33\x64\x07\x1a\xe1', 'li201e5:erroree', 'i65536e', 'i0e',
  ].map(token),
  run(input) {
    const r = guarded('parseMessage', [KrpcError], () => parseMessage(input));
    if (!r.ok) {
      const replyTo = (r.error as KrpcError).replyTo;
      check(replyTo === undefined || replyTo.length <= 16, 'invariant', () => `an error reply would echo a ${replyTo!.length}-byte transaction id`);
      return `${r.sig}${replyTo ? ':reply' : ''}`;
    }
    const m = r.value;
    check(m.t.length <= 16, 'invariant', () => `a ${m.t.length}-byte transaction id`);
    if (m.y !== 'e') check(m.id.length === 20, 'invariant', () => `a ${m.id.length}-byte node id`);
    if (m.y === 'r') check(m.values.length <= 200 && (m.token?.length ?? 0) <= 64, 'invariant', () => 'values or token past their bounds');
    const re = rewritten(m);
    if (re) {
      const again = guarded('parseMessage(rewritten)', [], () => parseMessage(re));
      check(again.ok && same(comparable(again.value), comparable(m)), 'round-trip', () => `a parsed ${m.y} message, written by our encoder, parses differently`);
    }
    const what = m.y === 'q' ? `q:${m.query?.q ?? 'unknown'}` : m.y;
    return `ok:${what}`;
  },
  exact(input) {
    const m = parseMessage(input);
    const re = rewritten(m);
    check(re !== undefined && re.equals(input), 'round-trip', () => 'a valid KRPC message is not written back as it was');
  },
  // Datagrams are refused past 1500 bytes before anything is decoded: the cost is bounded by a constant.
  growth: [],
};
