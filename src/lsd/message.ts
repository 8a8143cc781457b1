/**
 * BEP 14 announces: an HTTP-like request in one UDP datagram to the group of each family,
 *
 *     BT-SEARCH * HTTP/1.1\r\n
 *     Host: 239.192.152.143:6771\r\n
 *     Port: <our listening port>\r\n
 *     Infohash: <40 hex digits>\r\n        (one or more)
 *     cookie: <ours, to know our own>\r\n
 *     \r\n\r\n
 *
 * built, and parsed strictly within bounds: anyone on the LAN can send anything, so a datagram is
 * taken only whole and well formed (printable ASCII, CRLF lines, a bounded number of headers, so
 * of info hashes too, one port), and otherwise dropped with the reason.
 */
import type { Family } from '../net/address.js';

export const LSD_PORT = 6771;
export const LSD_GROUP: Record<Family, string> = { 4: '239.192.152.143', 6: 'ff15::efc0:988f' };
/** BEP 14: a packet with several info hashes "should not exceed 1400 bytes". Anything longer is not an announce. */
export const MAX_MESSAGE_BYTES = 1400;
/** Header lines in one announce (so info hashes too): more than fit 1400 bytes as `Infohash: ...` lines. */
export const MAX_HEADERS = 40;
const MAX_COOKIE = 64;

export interface LsdAnnounce {
  /** Where the announcer listens for peers (its address is the datagram's source). */
  port: number;
  /** Distinct, 20 bytes each. */
  infoHashes: Buffer[];
  cookie?: string;
}

export class LsdMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LsdMessageError';
  }
}

/** One announce of our listening `port` for `infoHashes` to the group of `family`. */
export function buildAnnounce(o: { family: Family; port: number; infoHashes: readonly Buffer[]; cookie: string }): Buffer {
  const host = o.family === 6 ? `[${LSD_GROUP[6]}]` : LSD_GROUP[4];
  const lines = [
    'BT-SEARCH * HTTP/1.1',
    `Host: ${host}:${LSD_PORT}`,
    `Port: ${o.port}`,
    ...o.infoHashes.map((h) => `Infohash: ${h.toString('hex')}`),
    `cookie: ${o.cookie}`,
  ];
  // The blank line ends the headers; BEP 14's example has one more CRLF after it, as libtorrent sends.
  const b = Buffer.from(`${lines.join('\r\n')}\r\n\r\n\r\n`, 'latin1');
  if (b.length > MAX_MESSAGE_BYTES) throw new RangeError(`an LSD announce of ${o.infoHashes.length} info hashes is ${b.length} bytes, over ${MAX_MESSAGE_BYTES}`);
  return b;
}

const REQUEST_LINE = /^BT-SEARCH \* HTTP\/1\.[01]$/i;
const HEADER = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;
const INFO_HASH = /^[0-9a-fA-F]{40}$/;
const PORT = /^[0-9]{1,5}$/;

/** Printable ASCII, tab, CR and LF only. */
function plainText(b: Buffer): boolean {
  for (const c of b) if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c > 0x7e) return false;
  return true;
}

/** An announce from the datagram's bytes; throws LsdMessageError saying what is wrong. */
export function parseAnnounce(b: Buffer): LsdAnnounce {
  if (b.length > MAX_MESSAGE_BYTES) throw new LsdMessageError(`${b.length} bytes, over ${MAX_MESSAGE_BYTES}`);
  if (!plainText(b)) throw new LsdMessageError('not plain ASCII text');
  const text = b.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) throw new LsdMessageError('no blank line ends the headers');
  if (!/^[\r\n]*$/.test(text.slice(end + 4))) throw new LsdMessageError('bytes after the headers');
  const lines = text.slice(0, end).split('\r\n');
  if (!REQUEST_LINE.test(lines[0]!)) throw new LsdMessageError('not a BT-SEARCH request');
  if (lines.length - 1 > MAX_HEADERS) throw new LsdMessageError(`more than ${MAX_HEADERS} headers`);
  let port: number | undefined;
  let cookie: string | undefined;
  const hashes = new Map<string, Buffer>();
  for (const line of lines.slice(1)) {
    const m = HEADER.exec(line);
    // `.` matches no lone CR or LF: a line holding one is refused here too.
    if (!m) throw new LsdMessageError('a header line is not "Name: value"');
    const name = m[1]!.toLowerCase();
    const value = m[2]!;
    if (name === 'port') {
      if (port !== undefined) throw new LsdMessageError('more than one Port');
      const n = PORT.test(value) ? Number(value) : 0;
      if (n < 1 || n > 65535) throw new LsdMessageError('the Port is no port number');
      port = n;
    } else if (name === 'infohash') {
      // A value that is no v1 info hash (a later BEP's longer one, say) is passed over, not fatal: the others still count.
      if (INFO_HASH.test(value)) hashes.set(value.toLowerCase(), Buffer.from(value, 'hex'));
    } else if (name === 'cookie') {
      if (cookie !== undefined) throw new LsdMessageError('more than one cookie');
      if (value.length > MAX_COOKIE) throw new LsdMessageError(`a cookie longer than ${MAX_COOKIE} characters`);
      cookie = value;
    }
  }
  if (port === undefined) throw new LsdMessageError('no Port');
  if (hashes.size === 0) throw new LsdMessageError('no Infohash');
  return { port, infoHashes: [...hashes.values()], ...(cookie !== undefined ? { cookie } : {}) };
}
