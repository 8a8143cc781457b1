/**
 * NAT-PMP (RFC 6886) messages: the external-address request, TCP and UDP mapping requests, and
 * their replies (also the gateway's unsolicited address-change announcement, same format as the
 * external-address reply). All fields big-endian; version 0.
 */
import { bytesToIp } from '../../net/address.js';

export const NATPMP_SERVER_PORT = 5351;

export const OP_EXTERNAL_ADDRESS = 0;
export const OP_MAP_UDP = 1;
export const OP_MAP_TCP = 2;

/** RFC 6886 section 3.5, with what each means for a user. */
const RESULTS: Record<number, string> = {
  0: 'Success',
  1: 'Unsupported Version',
  2: 'Not Authorized/Refused: the gateway has NAT-PMP switched off for this host, or does not allow the port',
  3: 'Network Failure: the gateway has no usable external address (no uplink yet, or a private one it will not map)',
  4: 'Out of resources: the gateway cannot create more mappings',
  5: 'Unsupported opcode',
};

export function natpmpResultText(code: number): string {
  return RESULTS[code] ?? `unknown result code ${code}`;
}

export function encodeExternalAddressRequest(): Buffer {
  return Buffer.from([0, OP_EXTERNAL_ADDRESS]);
}

export interface NatPmpMapRequest {
  opcode: typeof OP_MAP_UDP | typeof OP_MAP_TCP;
  internalPort: number;
  suggestedExternalPort: number;
  /** Seconds; 0 deletes (with suggested external port 0). */
  lifetime: number;
}

export function encodeMapRequest(r: NatPmpMapRequest): Buffer {
  const b = Buffer.alloc(12);
  b[1] = r.opcode;
  b.writeUInt16BE(r.internalPort, 4);
  b.writeUInt16BE(r.suggestedExternalPort, 6);
  b.writeUInt32BE(r.lifetime, 8);
  return b;
}

export type NatPmpResponse =
  | { opcode: typeof OP_EXTERNAL_ADDRESS; resultCode: number; epoch: number; externalAddress?: string }
  | { opcode: typeof OP_MAP_UDP | typeof OP_MAP_TCP; resultCode: number; epoch: number; internalPort?: number; externalPort?: number; lifetime?: number };

export class NatPmpDecodeError extends Error {
  override name = 'NatPmpDecodeError';
}

/**
 * Decodes a reply. Error replies may be shorter than success ones (a gateway may send only the
 * 8-byte header with its result), so the body is read only when present; a success must be whole.
 */
export function decodeResponse(msg: Buffer): NatPmpResponse {
  if (msg.length < 8) throw new NatPmpDecodeError(`a ${msg.length}-byte datagram is no NAT-PMP reply (needs 8)`);
  if (msg[0] !== 0) throw new NatPmpDecodeError(`NAT-PMP reply of version ${msg[0]} (expected 0)`);
  const op = msg[1]!;
  if ((op & 0x80) === 0) throw new NatPmpDecodeError('a NAT-PMP request, not a reply');
  const opcode = op & 0x7f;
  const resultCode = msg.readUInt16BE(2);
  const epoch = msg.readUInt32BE(4);
  if (opcode === OP_EXTERNAL_ADDRESS) {
    if (resultCode === 0 && msg.length < 12) throw new NatPmpDecodeError(`a successful external-address reply of ${msg.length} bytes (needs 12)`);
    return { opcode, resultCode, epoch, ...(msg.length >= 12 ? { externalAddress: bytesToIp(msg.subarray(8, 12)) } : {}) };
  }
  if (opcode === OP_MAP_UDP || opcode === OP_MAP_TCP) {
    if (resultCode === 0 && msg.length < 16) throw new NatPmpDecodeError(`a successful mapping reply of ${msg.length} bytes (needs 16)`);
    if (msg.length < 16) return { opcode, resultCode, epoch };
    return { opcode, resultCode, epoch, internalPort: msg.readUInt16BE(8), externalPort: msg.readUInt16BE(10), lifetime: msg.readUInt32BE(12) };
  }
  throw new NatPmpDecodeError(`NAT-PMP reply to unknown opcode ${opcode}`);
}
