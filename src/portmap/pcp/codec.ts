/**
 * PCP (RFC 6887) messages: the MAP and ANNOUNCE requests we send and the responses we accept.
 * Addresses travel as 128-bit fields, IPv4 as ::ffff:a.b.c.d. Decoding is strict about what we
 * act on (version, R bit, opcode, length) and skips options (none are needed for MAP).
 */
import { bytesToIp, ipToBytes } from '../../net/address.js';

export const PCP_VERSION = 2;
export const PCP_SERVER_PORT = 5351;
/** Where gateways multicast unsolicited ANNOUNCEs (224.0.0.1 and ff02::1). */
export const PCP_CLIENT_PORT = 5350;
/** RFC 6887 section 7: a PCP message never exceeds 1100 bytes. */
export const PCP_MAX_MESSAGE = 1100;

export const OPCODE_ANNOUNCE = 0;
export const OPCODE_MAP = 1;

const HEADER = 24;
const MAP_BODY = 36;

/** RFC 6887 section 7.4, with what each means for a user. */
const RESULTS: Record<number, string> = {
  0: 'SUCCESS',
  1: 'UNSUPP_VERSION: the gateway does not speak this PCP version',
  2: 'NOT_AUTHORIZED: the gateway does not allow this mapping (PCP may be switched off for this host, or the port is outside the allowed range)',
  3: 'MALFORMED_REQUEST: the gateway could not parse the request',
  4: 'UNSUPP_OPCODE: the gateway does not support this request',
  5: 'UNSUPP_OPTION: the gateway does not support a mandatory option',
  6: 'MALFORMED_OPTION: an option was malformed',
  7: 'NETWORK_FAILURE: the gateway has no working uplink right now',
  8: 'NO_RESOURCES: the gateway is out of mappings or ports right now',
  9: 'UNSUPP_PROTOCOL: the gateway does not map this transport protocol',
  10: 'USER_EX_QUOTA: this host has used up its mapping quota on the gateway',
  11: 'CANNOT_PROVIDE_EXTERNAL: the suggested external port or address is not available',
  12: 'ADDRESS_MISMATCH: the gateway sees our request coming from another address than the one inside it (another NAT in between?)',
  13: 'EXCESSIVE_REMOTE_PEERS: too many remote peers',
};

export function pcpResultText(code: number): string {
  return RESULTS[code] ?? `unknown result code ${code}`;
}

/** A 128-bit PCP address field: IPv6 as is, IPv4 as ::ffff:a.b.c.d. */
export function addressField(ip: string): Buffer {
  const b = ipToBytes(ip);
  if (!b) throw new RangeError(`${ip} is not an IP address`);
  if (b.length === 16) return b;
  return Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), b]);
}

/** A 128-bit address field as text: IPv4-mapped becomes the dotted quad. */
export function fieldAddress(b: Uint8Array): string {
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  return bytesToIp(mapped ? b.subarray(12, 16) : b);
}

function header(opcode: number, lifetime: number, clientAddress: string): Buffer {
  const h = Buffer.alloc(HEADER);
  h[0] = PCP_VERSION;
  h[1] = opcode;
  h.writeUInt32BE(lifetime, 4);
  addressField(clientAddress).copy(h, 8);
  return h;
}

export interface MapRequest {
  /** Requested lifetime in seconds; 0 deletes the mapping (with the same nonce). */
  lifetime: number;
  /** Our address as we send from it: the server compares it with the packet's source. */
  clientAddress: string;
  nonce: Buffer;
  protocol: number;
  internalPort: number;
  suggestedExternalPort: number;
  /** 0.0.0.0 / :: for "any". */
  suggestedExternalAddress: string;
}

export function encodeMapRequest(r: MapRequest): Buffer {
  if (r.nonce.length !== 12) throw new RangeError('a PCP nonce has 12 bytes');
  const body = Buffer.alloc(MAP_BODY);
  r.nonce.copy(body, 0);
  body[12] = r.protocol;
  body.writeUInt16BE(r.internalPort, 16);
  body.writeUInt16BE(r.suggestedExternalPort, 18);
  addressField(r.suggestedExternalAddress).copy(body, 20);
  return Buffer.concat([header(OPCODE_MAP, r.lifetime, r.clientAddress), body]);
}

/** An ANNOUNCE request: asks the server for nothing but a reply (its epoch), so it tells whether PCP is spoken. */
export function encodeAnnounceRequest(clientAddress: string): Buffer {
  return header(OPCODE_ANNOUNCE, 0, clientAddress);
}

export interface MapResult {
  nonce: Buffer;
  protocol: number;
  internalPort: number;
  externalPort: number;
  externalAddress: string;
}

export interface PcpResponse {
  version: number;
  opcode: number;
  resultCode: number;
  /** Seconds: the mapping's lifetime on success, how long an error holds on failure. */
  lifetime: number;
  /** Seconds since the server's state began (section 8.5). */
  epoch: number;
  map?: MapResult;
}

export class PcpDecodeError extends Error {
  override name = 'PcpDecodeError';
}

/**
 * Decodes a datagram from a PCP server. A NAT-PMP-only server answers a PCP request with a
 * version-0 "unsupported version" reply (RFC 6887 section 9): that comes back as version 0 with
 * its result code, so the caller can fall back to NAT-PMP.
 */
export function decodePcpResponse(msg: Buffer): PcpResponse {
  if (msg.length < 2) throw new PcpDecodeError(`a ${msg.length}-byte datagram is no PCP response`);
  const version = msg[0]!;
  if (version === 0) {
    // NAT-PMP framing: version, opcode | 128, 16-bit result, 32-bit seconds since start of epoch.
    if (msg.length < 8 || (msg[1]! & 0x80) === 0) throw new PcpDecodeError('a truncated NAT-PMP reply');
    return { version: 0, opcode: msg[1]! & 0x7f, resultCode: msg.readUInt16BE(2), lifetime: 0, epoch: msg.readUInt32BE(4) };
  }
  if (version !== PCP_VERSION) {
    // A server of another version says so in an UNSUPP_VERSION reply of the common header.
    if (msg.length >= HEADER && (msg[1]! & 0x80) !== 0) return { version, opcode: msg[1]! & 0x7f, resultCode: msg[3]!, lifetime: 0, epoch: msg.readUInt32BE(8) };
    throw new PcpDecodeError(`PCP version ${version} is not spoken here`);
  }
  if (msg.length < HEADER) throw new PcpDecodeError(`a PCP response has at least ${HEADER} bytes, this one ${msg.length}`);
  if (msg.length > PCP_MAX_MESSAGE || msg.length % 4 !== 0) throw new PcpDecodeError(`a PCP response of ${msg.length} bytes (must be a multiple of 4, at most ${PCP_MAX_MESSAGE})`);
  if ((msg[1]! & 0x80) === 0) throw new PcpDecodeError('a PCP request, not a response (R bit clear)');
  const res: PcpResponse = {
    version,
    opcode: msg[1]! & 0x7f,
    resultCode: msg[3]!,
    lifetime: msg.readUInt32BE(4),
    epoch: msg.readUInt32BE(8),
  };
  if (res.opcode === OPCODE_MAP) {
    if (msg.length < HEADER + MAP_BODY) {
      // Error responses may stop after the header only if the request was unparsable; a MAP reply carries its body.
      if (res.resultCode === 0) throw new PcpDecodeError(`a successful MAP response of ${msg.length} bytes (needs ${HEADER + MAP_BODY})`);
      return res;
    }
    const b = msg.subarray(HEADER);
    res.map = {
      nonce: Buffer.from(b.subarray(0, 12)),
      protocol: b[12]!,
      internalPort: b.readUInt16BE(16),
      externalPort: b.readUInt16BE(18),
      externalAddress: fieldAddress(b.subarray(20, 36)),
    };
  }
  return res;
}
