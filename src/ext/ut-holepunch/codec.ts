/**
 * BEP 55 `ut_holepunch` messages: rendezvous, connect and error, each naming one endpoint (IPv4
 * or IPv6) — a fixed binary layout, not bencode: msg_type (1), addr_type (1), address (4 or 16),
 * port (2), err_code (4). We send exactly that; we also read rendezvous and connect without
 * err_code, as libtorrent sends them. Any other length, type or address kind is a ProtocolError,
 * so nothing past 24 bytes is ever read.
 */
import { bytesToIp, ipToBytes } from '../../net/address.js';
import type { PeerAddress } from '../../net/compact.js';
import { ProtocolError } from '../../wire/frame-decoder.js';

export const MSG = { rendezvous: 0, connect: 1, error: 2 } as const;
export type HolepunchType = keyof typeof MSG;

/** BEP 55 error codes (0 is "no error", sent in rendezvous and connect). */
export const HP_ERROR = { noSuchPeer: 1, notConnected: 2, noSupport: 3, noSelf: 4 } as const;
export type HolepunchError = keyof typeof HP_ERROR;

const ERROR_NAMES = new Map<number, HolepunchError>(Object.entries(HP_ERROR).map(([k, v]) => [v, k as HolepunchError]));
const TYPE_NAMES = new Map<number, HolepunchType>(Object.entries(MSG).map(([k, v]) => [v, k as HolepunchType]));

/** What each error means, for people. */
export const ERROR_TEXT: Record<HolepunchError, string> = {
  noSuchPeer: 'the endpoint named is not a valid address',
  notConnected: 'the relay is not connected to that peer',
  noSupport: 'that peer does not support holepunching',
  noSelf: 'the endpoint named is the relay or the asking peer itself',
};

export type HolepunchMessage =
  | { type: 'rendezvous'; peer: PeerAddress }
  | { type: 'connect'; peer: PeerAddress }
  | { type: 'error'; peer: PeerAddress; error: HolepunchError };

/** The longest message (IPv6): 1 + 1 + 16 + 2 + 4. */
export const MAX_MESSAGE_BYTES = 24;

export function encodeHolepunch(m: HolepunchMessage): Buffer {
  // Any address and port of the right size: an error answers whatever endpoint was asked about.
  const ip = ipToBytes(m.peer.host);
  if (!ip || ip.length !== (m.peer.family === 4 ? 4 : 16)) throw new Error(`not an IPv${m.peer.family} address: ${m.peer.host}`);
  if (!Number.isInteger(m.peer.port) || m.peer.port < 0 || m.peer.port > 65535) throw new Error(`bad port ${m.peer.port}`);
  const b = Buffer.alloc(2 + ip.length + 2 + 4);
  b[0] = MSG[m.type];
  b[1] = m.peer.family === 4 ? 0 : 1;
  ip.copy(b, 2);
  b.writeUInt16BE(m.peer.port, 2 + ip.length);
  b.writeUInt32BE(m.type === 'error' ? HP_ERROR[m.error] : 0, 4 + ip.length);
  return b;
}

/**
 * One message. A wrong length, an unknown type or address kind, or an error message whose code
 * is none of the BEP's is a ProtocolError. Port 0 and odd addresses decode (the relay answers
 * them with NoSuchPeer); the caller decides what an address may be used for.
 */
export function decodeHolepunch(payload: Buffer): HolepunchMessage {
  if (payload.length < 2) throw new ProtocolError(`ut_holepunch message of ${payload.length} bytes`);
  const type = TYPE_NAMES.get(payload[0]!);
  if (type === undefined) throw new ProtocolError(`ut_holepunch message type ${payload[0]} is none of rendezvous (0), connect (1), error (2)`);
  const addrType = payload[1]!;
  if (addrType > 1) throw new ProtocolError(`ut_holepunch address type ${addrType} is neither IPv4 (0) nor IPv6 (1)`);
  const ipLen = addrType === 0 ? 4 : 16;
  const full = 2 + ipLen + 2 + 4;
  // libtorrent (2.0) leaves err_code out of rendezvous and connect: those are read without it too.
  const short = type === 'error' ? full : full - 4;
  if (payload.length !== full && payload.length !== short) {
    const sizes = short === full ? `${full} bytes` : `${short} or ${full} bytes`;
    throw new ProtocolError(`ut_holepunch ${type} with an IPv${addrType === 0 ? 4 : 6} address is ${sizes}, not ${payload.length}`);
  }
  const peer: PeerAddress = {
    host: bytesToIp(payload.subarray(2, 2 + ipLen)),
    port: payload.readUInt16BE(2 + ipLen),
    family: addrType === 0 ? 4 : 6,
  };
  // BEP 55: the code is 0 in these; another value is ignored, as libtorrent does.
  if (type === 'rendezvous' || type === 'connect') return { type, peer };
  const code = payload.readUInt32BE(4 + ipLen);
  const error = ERROR_NAMES.get(code);
  if (error === undefined) throw new ProtocolError(`ut_holepunch error code ${code} is none of BEP 55's (1-4)`);
  return { type, peer, error };
}
