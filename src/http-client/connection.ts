/**
 * One HTTP/1.1 connection to one server, kept alive between requests: a GET goes out, its
 * response head comes back (bounded, response-head.ts), then its body is streamed to the caller
 * as it arrives (framed by body-framing.ts) or skipped. One request at a time, never pipelined:
 * a byte the server sends outside a response ends the connection. Everything is bounded in
 * time (the head must come within `headTimeoutMs`, the body must keep moving every
 * `stallTimeoutMs` while the caller reads it) and in size (the caller says how large a body it
 * takes; more is an error before or as soon as it arrives). The caller may pause reading (a rate
 * limit): the socket is paused, so the server's TCP window closes instead of our memory filling.
 */
import type { Duplex } from 'node:stream';
import type { Family } from '../net/address.js';
import { bodyDecoder, type BodyDecoder } from './body-framing.js';
import { HttpClientError } from './client-error.js';
import { headEnd, headerTokens, parseHead, type ResponseHead } from './response-head.js';

export interface HttpRequest {
  /** origin-form: path and query, already percent-encoded. */
  target: string;
  /** The Host field: host[:port] as in the URL. */
  host: string;
  headers?: Record<string, string>;
}

export interface ConnectionTimeouts {
  /** From sending a request to the end of its response head. */
  headTimeoutMs: number;
  /** Longest wait for the next body byte while the caller is reading. */
  stallTimeoutMs: number;
}

export interface Remote {
  host: string;
  port: number;
  family: Family;
}

type State = 'idle' | 'head' | 'await-body' | 'body' | 'closed';

/** Informational responses skipped before the real one: bounded, like everything else. */
const MAX_INTERIM = 4;
const USER_AGENT = 'sixswarm';

export class HttpConnection {
  private state: State = 'idle';
  private head: Buffer = Buffer.alloc(0);
  private scanned = 0;
  private interim = 0;
  /** Bytes that arrived after the head, before the caller asked for the body. */
  private early?: Buffer;
  private decoder?: BodyDecoder;
  private keepAlive = false;
  private requests = 0;
  private paused = false;
  private timer?: NodeJS.Timeout;
  private waiting?: { resolve(v: unknown): void; reject(e: Error): void };
  private sink?: { max: number; got: number; data(b: Buffer): void };
  private why?: HttpClientError;
  /** The server ended the stream while a response waited for readBody: handled once it reads. */
  private ended = false;

  constructor(
    private readonly stream: Duplex,
    readonly remote: Remote,
    private readonly timeouts: ConnectionTimeouts,
  ) {
    stream.on('data', (c: Buffer) => this.onData(c));
    stream.on('end', () => this.onEnd());
    stream.on('close', () => this.onEnd());
    stream.on('error', (e: Error) => this.fail(new HttpClientError(`connection to ${this.where} failed: ${e.message}`, 'closed')));
  }

  private get where(): string {
    return this.remote.family === 6 ? `[${this.remote.host}]:${this.remote.port}` : `${this.remote.host}:${this.remote.port}`;
  }

  /** Open, between responses, and the last response let the connection live on. */
  get reusable(): boolean {
    return this.state === 'idle' && this.keepAlive;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Requests sent on it so far (a failure on a reused connection may be the server's idle close). */
  get used(): number {
    return this.requests;
  }

  /** Send a GET and wait for its response's head (interim 1xx responses are skipped). */
  request(req: HttpRequest): Promise<ResponseHead> {
    if (this.state !== 'idle' || (this.requests > 0 && !this.keepAlive)) return Promise.reject(this.why ?? new HttpClientError('the connection cannot take another request', 'closed'));
    const lines = [`GET ${req.target} HTTP/1.1`, `Host: ${req.host}`, `User-Agent: ${USER_AGENT}`, 'Accept: */*', 'Accept-Encoding: identity'];
    for (const [k, v] of Object.entries(req.headers ?? {})) lines.push(`${k}: ${v}`);
    // A torrent's URL must not smuggle a header or a second request into ours.
    if (lines.some((l) => /[\0\r\n]/.test(l)) || /[\s\u007f]/.test(req.target)) return Promise.reject(new HttpClientError('the request would carry control characters', 'protocol'));
    this.requests++;
    this.state = 'head';
    this.head = Buffer.alloc(0);
    this.scanned = 0;
    this.interim = 0;
    this.stream.write(`${lines.join('\r\n')}\r\n\r\n`);
    this.resumeStream();
    this.arm(this.timeouts.headTimeoutMs, () => `no response from ${this.where} within ${this.timeouts.headTimeoutMs / 1000} s`);
    return this.wait<ResponseHead>();
  }

  /**
   * Stream the body of the response whose head came last to `data`, up to `max` bytes (a larger
   * Content-Length is refused before a byte is read; a body that runs past `max` fails as the
   * excess arrives). Resolves once the body is complete.
   */
  readBody(max: number, data: (bytes: Buffer) => void): Promise<void> {
    if (this.state !== 'await-body') return Promise.reject(this.why ?? new HttpClientError('no response body to read', 'closed'));
    const declared = this.decoder!.length;
    if (declared !== undefined && declared > max) {
      const e = new HttpClientError(`the response body is ${declared} bytes, more than the ${max} asked for`, 'too-large');
      this.fail(e);
      return Promise.reject(e);
    }
    this.sink = { max, got: 0, data };
    this.state = 'body';
    const p = this.wait<void>();
    const early = this.early;
    this.early = undefined;
    if (early) this.onData(early);
    if (this.state === 'body' && this.ended) this.onEnd();
    if (this.state === 'body') {
      if (this.decoder!.done) this.bodyDone();
      else if (!this.paused) {
        this.resumeStream();
        this.armStall();
      }
    }
    return p;
  }

  /** Read and drop a small body (an error page, a redirect's), or close when it may be larger than `max`. */
  async skipBody(max: number): Promise<void> {
    if (this.state !== 'await-body') return;
    const declared = this.decoder!.length;
    if (declared === undefined || declared > max) return this.close();
    await this.readBody(max, () => {});
  }

  /** Stop reading (the caller's rate limit): the server's window closes. */
  pause(): void {
    this.paused = true;
    this.stream.pause();
    if (this.state === 'body') this.disarm();
  }

  resume(): void {
    this.paused = false;
    if (this.state === 'body' || this.state === 'head') this.resumeStream();
    if (this.state === 'body') this.armStall();
  }

  /** Close now; a pending request or body read fails with `why` (or as closed). */
  close(why?: HttpClientError): void {
    if (this.state === 'closed') return;
    this.fail(why ?? new HttpClientError('closed', 'closed'));
  }

  // ---- bytes in -----------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    try {
      switch (this.state) {
        case 'head':
          return this.onHeadBytes(chunk);
        case 'body':
          return this.onBody(chunk);
        case 'await-body':
          // The stream is paused: only what one read delivered can still come; kept for readBody.
          this.early = this.early ? Buffer.concat([this.early, chunk]) : chunk;
          return;
        case 'idle':
          throw new HttpClientError(`${this.where} sent bytes outside any response`, 'protocol');
        default:
          return;
      }
    } catch (e) {
      this.fail(e instanceof HttpClientError ? e : new HttpClientError((e as Error).message, 'protocol'));
    }
  }

  private onHeadBytes(chunk: Buffer): void {
    this.head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
    for (;;) {
      const end = headEnd(this.head, this.scanned);
      if (end < 0) {
        this.scanned = this.head.length;
        return;
      }
      const head = parseHead(this.head.subarray(0, end));
      const rest = this.head.subarray(end);
      if (head.status >= 100 && head.status < 200) {
        // 100 Continue and friends precede the real response; 101 would switch protocols: refused.
        if (head.status === 101 || ++this.interim > MAX_INTERIM) throw new HttpClientError(`unexpected interim response ${head.status}`, 'protocol');
        this.head = rest;
        this.scanned = 0;
        continue;
      }
      this.decoder = bodyDecoder(head);
      const conn = headerTokens(head, 'connection');
      // HTTP/1.1 persists unless told otherwise, 1.0 only when told; a body the close frames ends it anyway.
      this.keepAlive = this.decoder.framed && !conn.includes('close') && (head.minorVersion === 1 || conn.includes('keep-alive'));
      this.head = Buffer.alloc(0);
      this.state = 'await-body';
      this.stream.pause();
      this.disarm();
      if (rest.length > 0) this.early = rest;
      this.settle(undefined, head);
      return;
    }
  }

  private onBody(chunk: Buffer): void {
    const s = this.sink!;
    const used = this.decoder!.feed(chunk, (b) => {
      if (this.state !== 'body') return; // the caller closed us from within
      s.got += b.length;
      if (s.got > s.max) throw new HttpClientError(`${this.where} sent more than the ${s.max} bytes asked for`, 'too-large');
      s.data(b);
    });
    if (this.state !== 'body') return; // the sink closed us
    if (this.decoder!.done) {
      // Bytes past the end of the body would be a response to a request never sent.
      if (used < chunk.length) this.keepAlive = false;
      this.bodyDone();
    } else if (!this.paused) this.armStall();
  }

  private bodyDone(): void {
    this.disarm();
    this.sink = undefined;
    this.decoder = undefined;
    this.state = 'idle';
    if (!this.keepAlive) {
      this.state = 'closed';
      this.why = new HttpClientError('the server ended the connection after the response', 'closed');
      this.stream.destroy();
    }
    this.settle(undefined, undefined);
  }

  private onEnd(): void {
    if (this.state === 'closed') return;
    // A body the close frames may have arrived whole before the caller asked for it.
    if (this.state === 'await-body') {
      this.ended = true;
      return;
    }
    if (this.state === 'body' && this.decoder!.closed()) {
      this.keepAlive = false;
      this.bodyDone();
      return;
    }
    const s = this.sink;
    const detail = this.state === 'body' && s ? ` after ${s.got}${this.decoder!.length !== undefined ? ` of ${this.decoder!.length}` : ''} body bytes` : this.state === 'head' && this.head.length === 0 ? ' before responding' : '';
    const e = new HttpClientError(`${this.where} closed the connection${detail}`, 'closed');
    this.fail(e);
  }

  // ---- timers, waiting, failing -------------------------------------------------------------

  private armStall(): void {
    this.arm(this.timeouts.stallTimeoutMs, () => `${this.where} sent nothing for ${this.timeouts.stallTimeoutMs / 1000} s in the middle of a response`);
  }

  private arm(ms: number, message: () => string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fail(new HttpClientError(message(), 'timeout')), ms);
    this.timer.unref?.();
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private resumeStream(): void {
    if (!this.paused) this.stream.resume();
  }

  private wait<T>(): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting = { resolve: resolve as (v: unknown) => void, reject };
    });
  }

  private settle(error: Error | undefined, value: unknown): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (!w) return;
    if (error) w.reject(error);
    else w.resolve(value);
  }

  private fail(e: HttpClientError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.why = e;
    this.disarm();
    this.sink = undefined;
    this.early = undefined;
    this.stream.destroy();
    this.settle(e, undefined);
  }
}
