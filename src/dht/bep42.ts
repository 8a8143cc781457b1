/**
 * BEP 42 (DHT security extension) for IPv4: a node id whose first 21 bits are a CRC-32C of the
 * node's masked IP and a 3-bit random number kept in the id's last byte. One IP can hold only 8
 * such id prefixes, so a host cannot place nodes wherever it likes in the id space. Local
 * addresses (private, loopback, link-local) are exempt, as the BEP says.
 */
import { randomBytes } from 'node:crypto';
import { classify } from '../net/address.js';
import { ID_LENGTH } from './node-id.js';

/** CRC-32C (Castagnoli), reflected, as BEP 42 specifies. */
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC32C_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The 21-bit prefix (in the top bits of a 32-bit number) BEP 42 asks of an id for `ip` and `r` (0-7). */
function prefixOf(ip: Uint8Array, r: number): number {
  const masked = Buffer.from([(ip[0]! & 0x03) | ((r & 7) << 5), ip[1]! & 0x0f, ip[2]! & 0x3f, ip[3]! & 0xff]);
  return crc32c(masked);
}

function ipv4Bytes(host: string): Uint8Array | undefined {
  const c = classify(host);
  return c?.family === 4 ? c.bytes : undefined;
}

/** Whether `host` is exempt from BEP 42 (not a global IPv4 address): any id is fine there. */
export function bep42Exempt(host: string): boolean {
  return classify(host)?.kind !== 'global';
}

/** A fresh BEP 42 id for the global IPv4 address `host`; `random` is the id's last byte. */
export function bep42Id(host: string, random = randomBytes(1)[0]!, rest: Uint8Array = randomBytes(ID_LENGTH)): Buffer {
  const ip = ipv4Bytes(host);
  if (!ip) throw new RangeError(`BEP 42 ids are for IPv4 addresses, not ${host}`);
  const crc = prefixOf(ip, random);
  const id = Buffer.from(rest.subarray(0, ID_LENGTH));
  id[0] = crc >>> 24;
  id[1] = (crc >>> 16) & 0xff;
  id[2] = ((crc >>> 8) & 0xf8) | (id[2]! & 0x07);
  id[19] = random & 0xff;
  return id;
}

/** Whether `id` is one BEP 42 allows at `host` (always true for exempt addresses). */
export function bep42Valid(id: Uint8Array, host: string): boolean {
  if (bep42Exempt(host)) return true;
  const ip = ipv4Bytes(host);
  if (!ip || id.length !== ID_LENGTH) return false;
  const crc = prefixOf(ip, id[19]!);
  return id[0] === crc >>> 24 && id[1] === ((crc >>> 16) & 0xff) && (id[2]! & 0xf8) === ((crc >>> 8) & 0xf8);
}
