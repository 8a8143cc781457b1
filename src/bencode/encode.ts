import { BDict, type BValue } from './decode.js';

/** Values the encoder accepts: decoded values plus plain objects and strings for convenience. */
export type Encodable =
  | number
  | bigint
  | string
  | Buffer
  | Uint8Array
  | Encodable[]
  | BDict
  | Map<string, Encodable>
  | { [key: string]: Encodable | undefined };

/** Encode with keys sorted by raw bytes, as BEP 3 requires. Undefined object fields are skipped. */
export function encode(value: Encodable): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function write(v: Encodable | BValue, out: Buffer[]): void {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new TypeError(`bencode: ${v} is not a safe integer`);
    out.push(Buffer.from(`i${v}e`, 'latin1'));
  } else if (typeof v === 'bigint') {
    out.push(Buffer.from(`i${v}e`, 'latin1'));
  } else if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    out.push(Buffer.from(`${b.length}:`, 'latin1'), b);
  } else if (v instanceof Uint8Array) {
    out.push(Buffer.from(`${v.length}:`, 'latin1'), Buffer.from(v.buffer, v.byteOffset, v.length));
  } else if (Array.isArray(v)) {
    out.push(Buffer.from('l'));
    for (const item of v) write(item, out);
    out.push(Buffer.from('e'));
  } else {
    const entries: [Buffer, Encodable][] = [];
    if (v instanceof Map) {
      // Map keys are latin1 (as the decoder produces them), so raw key bytes survive a round trip.
      for (const [k, val] of v) entries.push([Buffer.from(k, 'latin1'), val as Encodable]);
    } else {
      for (const [k, val] of Object.entries(v)) if (val !== undefined) entries.push([Buffer.from(k, 'utf8'), val]);
    }
    entries.sort((a, b) => Buffer.compare(a[0], b[0]));
    out.push(Buffer.from('d'));
    for (const [k, val] of entries) {
      out.push(Buffer.from(`${k.length}:`, 'latin1'), k);
      write(val, out);
    }
    out.push(Buffer.from('e'));
  }
}
