/**
 * An HTTP/1.1 response's status line and header fields, parsed from the bytes a server sent,
 * within fixed bounds: the head may be at most MAX_HEAD_BYTES and hold at most MAX_HEADERS fields,
 * so a server cannot make us buffer or parse without end. Anything malformed is an HttpClientError.
 */
import { HttpClientError } from './client-error.js';

export const MAX_HEAD_BYTES = 16 * 1024;
export const MAX_HEADERS = 100;

export interface ResponseHead {
  status: number;
  reason: string;
  /** HTTP/1.0 or 1.1: a 1.0 server closes after each response unless it says keep-alive. */
  minorVersion: 0 | 1;
  /** Field names lower-cased; a repeated field keeps every value, in order. */
  headers: ReadonlyMap<string, readonly string[]>;
}

/** The first value of a field (undefined when absent). */
export function header(head: ResponseHead, name: string): string | undefined {
  return head.headers.get(name)?.[0];
}

/** A field's comma-separated tokens, lower-cased, over all its values (Connection, Transfer-Encoding). */
export function headerTokens(head: ResponseHead, name: string): string[] {
  return (head.headers.get(name) ?? []).flatMap((v) => v.split(',')).map((t) => t.trim().toLowerCase()).filter((t) => t.length > 0);
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Where the head ends in `buf` (the offset of its first body byte), or -1 while it is incomplete.
 * `from`: bytes before it were looked at already (so a head trickled in byte by byte is scanned
 * once, not once per byte). A bare LF line end is accepted as many servers' is; an incomplete
 * head past MAX_HEAD_BYTES is an error.
 */
export function headEnd(buf: Buffer, from = 0): number {
  for (let i = buf.indexOf(0x0a, Math.max(0, from - 3)); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    if (buf[i + 1] === 0x0a) return i + 2;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
    if (i + 1 >= MAX_HEAD_BYTES) break;
  }
  if (buf.length > MAX_HEAD_BYTES) throw new HttpClientError(`the response head is larger than ${MAX_HEAD_BYTES} bytes`, 'protocol');
  return -1;
}

/** Parse a complete head (what headEnd measured, its blank line included). */
export function parseHead(bytes: Buffer): ResponseHead {
  // latin1: one character per byte, so nothing a server sends is decoded into something longer.
  const lines = bytes.toString('latin1').split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const m = STATUS_LINE.exec(lines[0] ?? '');
  if (!m) throw new HttpClientError(`not an HTTP/1.x status line: ${JSON.stringify((lines[0] ?? '').slice(0, 60))}`, 'protocol');
  if (lines.length - 1 > MAX_HEADERS) throw new HttpClientError(`the response has more than ${MAX_HEADERS} header fields`, 'protocol');
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    // A folded line (leading whitespace) or a name with spaces is how smuggling starts: refused.
    if (!TOKEN.test(name)) throw new HttpClientError(`malformed header line: ${JSON.stringify(line.slice(0, 60))}`, 'protocol');
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    const list = headers.get(key);
    if (list) list.push(value);
    else headers.set(key, [value]);
  }
  return { status: Number(m[2]), reason: m[3] ?? '', minorVersion: m[1] === '0' ? 0 : 1, headers };
}
