/**
 * Raw query-string parsing for tracker requests. info_hash and peer_id are binary, so values
 * are percent-decoded to bytes (URLSearchParams would decode them as UTF-8 and corrupt them).
 */

export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryError';
  }
}

const MAX_PARAMS = 256;

export function parseQuery(query: string): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  if (!query) return out;
  const parts = query.split('&');
  if (parts.length > MAX_PARAMS) throw new QueryError(`more than ${MAX_PARAMS} parameters`);
  for (const part of parts) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = percentDecode(eq < 0 ? part : part.slice(0, eq)).toString('latin1');
    const value = percentDecode(eq < 0 ? '' : part.slice(eq + 1));
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
  return out;
}

function percentDecode(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new QueryError(`bad percent escape "%${hex}"`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c === 0x2b) {
      bytes.push(0x20);
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // A raw non-ASCII character in the request line: keep its UTF-8 bytes.
      for (const b of Buffer.from(s[i]!, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes);
}

/** Typed access to a parsed query; every bad value becomes a QueryError naming the parameter. */
export class Query {
  constructor(private readonly params: Map<string, Buffer[]>) {}

  all(name: string): Buffer[] {
    return this.params.get(name) ?? [];
  }

  bytes(name: string): Buffer | undefined {
    return this.params.get(name)?.[0];
  }

  text(name: string): string | undefined {
    return this.bytes(name)?.toString('latin1');
  }

  fixed(name: string, length: number): Buffer {
    const v = this.bytes(name);
    if (!v) throw new QueryError(`missing ${name}`);
    if (v.length !== length) throw new QueryError(`${name} must be ${length} bytes, got ${v.length}`);
    return v;
  }

  int(name: string, min: number, max: number): number | undefined {
    const t = this.text(name);
    if (t === undefined || t === '') return undefined;
    if (!/^\d{1,16}$/.test(t)) throw new QueryError(`${name} must be a non-negative integer`);
    const n = Number(t);
    if (n < min || n > max) throw new QueryError(`${name} must be between ${min} and ${max}`);
    return n;
  }
}
