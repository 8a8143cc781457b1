/**
 * Where a response's body ends (RFC 9112 section 6.3): a Content-Length, chunked transfer coding,
 * or the connection closing. The chunked decoder keeps to bounds of its own (a chunk-size line of
 * at most MAX_LINE bytes, trailers of at most MAX_TRAILER bytes), so a server cannot make it
 * buffer: data is handed on as views of what arrived, never collected.
 */
import { HttpClientError } from './client-error.js';
import { header, headerTokens, type ResponseHead } from './response-head.js';

const MAX_LINE = 1024;
const MAX_TRAILER = 8 * 1024;
/** Sizes up to 2^53: larger ones are not a length anything here asks for. */
const DECIMAL = /^\d{1,15}$/;
const HEX = /^[0-9a-fA-F]{1,13}$/;

export interface BodyDecoder {
  /** The declared length, when there is one (Content-Length). */
  readonly length: number | undefined;
  /** The body's end is known without the connection closing (a length, or chunked). */
  readonly framed: boolean;
  /** Every byte of the body was decoded. */
  readonly done: boolean;
  /** Decode from `chunk`, handing body bytes to `data`; returns how many bytes of `chunk` belong to the body (the rest follows it). */
  feed(chunk: Buffer, data: (bytes: Buffer) => void): number;
  /** The connection ended: whether that completes the body (it does only when the close frames it). */
  closed(): boolean;
}

/** The decoder for a response to a GET. */
export function bodyDecoder(head: ResponseHead): BodyDecoder {
  if ((head.status >= 100 && head.status < 200) || head.status === 204 || head.status === 304) return new LengthDecoder(0);
  const codings = headerTokens(head, 'transfer-encoding');
  const lengths = head.headers.get('content-length');
  if (codings.length > 0) {
    // Both at once is how request smuggling works; nothing honest needs it.
    if (lengths) throw new HttpClientError('the response has both Transfer-Encoding and Content-Length', 'protocol');
    if (codings.length !== 1 || codings[0] !== 'chunked') throw new HttpClientError(`unsupported Transfer-Encoding "${header(head, 'transfer-encoding')}"`, 'protocol');
    return new ChunkedDecoder();
  }
  if (lengths) {
    const values = new Set(lengths.flatMap((v) => v.split(',')).map((v) => v.trim()));
    const [only] = values;
    if (values.size !== 1 || !DECIMAL.test(only!)) throw new HttpClientError(`bad Content-Length "${lengths.join(', ')}"`, 'protocol');
    return new LengthDecoder(Number(only));
  }
  return new CloseDecoder();
}

class LengthDecoder implements BodyDecoder {
  readonly framed = true;
  private left: number;
  constructor(readonly length: number) {
    this.left = length;
  }
  get done(): boolean {
    return this.left === 0;
  }
  feed(chunk: Buffer, data: (bytes: Buffer) => void): number {
    const n = Math.min(chunk.length, this.left);
    if (n > 0) {
      this.left -= n;
      data(n === chunk.length ? chunk : chunk.subarray(0, n));
    }
    return n;
  }
  closed(): boolean {
    return this.done;
  }
}

class CloseDecoder implements BodyDecoder {
  readonly length = undefined;
  readonly framed = false;
  private ended = false;
  get done(): boolean {
    return this.ended;
  }
  feed(chunk: Buffer, data: (bytes: Buffer) => void): number {
    if (chunk.length > 0) data(chunk);
    return chunk.length;
  }
  closed(): boolean {
    this.ended = true;
    return true;
  }
}

type ChunkState = 'size' | 'data' | 'data-end' | 'trailer' | 'done';

class ChunkedDecoder implements BodyDecoder {
  readonly length = undefined;
  readonly framed = true;
  private state: ChunkState = 'size';
  private line = '';
  private left = 0;
  private trailerBytes = 0;

  get done(): boolean {
    return this.state === 'done';
  }

  feed(chunk: Buffer, data: (bytes: Buffer) => void): number {
    let at = 0;
    while (at < chunk.length && this.state !== 'done') {
      if (this.state === 'data') {
        const n = Math.min(this.left, chunk.length - at);
        data(chunk.subarray(at, at + n));
        at += n;
        this.left -= n;
        if (this.left === 0) this.state = 'data-end';
        continue;
      }
      // A line: the chunk size, the CRLF after a chunk's data, or a trailer line.
      const nl = chunk.indexOf(0x0a, at);
      const end = nl < 0 ? chunk.length : nl;
      this.line += chunk.toString('latin1', at, end);
      if (this.line.length > MAX_LINE) throw new HttpClientError(`a line of the chunked body is longer than ${MAX_LINE} bytes`, 'protocol');
      at = nl < 0 ? chunk.length : nl + 1;
      if (nl < 0) break;
      const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line;
      this.line = '';
      this.onLine(line);
    }
    return at;
  }

  private onLine(line: string): void {
    if (this.state === 'data-end') {
      if (line !== '') throw new HttpClientError('a chunk is longer than its declared size', 'protocol');
      this.state = 'size';
    } else if (this.state === 'size') {
      const size = line.split(';')[0]!.trim();
      if (!HEX.test(size)) throw new HttpClientError(`bad chunk size ${JSON.stringify(line.slice(0, 40))}`, 'protocol');
      this.left = parseInt(size, 16);
      this.state = this.left === 0 ? 'trailer' : 'data';
    } else if (line === '') {
      this.state = 'done';
    } else {
      this.trailerBytes += line.length;
      if (this.trailerBytes > MAX_TRAILER) throw new HttpClientError(`the chunked body's trailer is longer than ${MAX_TRAILER} bytes`, 'protocol');
    }
  }

  closed(): boolean {
    return false;
  }
}
