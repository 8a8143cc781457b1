/**
 * The daemon's HTTP(S) listener on one or more addresses: Node's parser with tight limits (16
 * KiB of headers within 10 s, the whole request within 60 s, idle keep-alive 5 s), and
 * connections held fairly: per source host (an IPv4 address or an IPv6 /64) and in total, a
 * host over its share loses its own oldest connection, so one host cannot lock others out. A
 * handler that throws costs its own request only (an HttpError becomes its status; anything
 * else a 500).
 */
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Socket } from 'node:net';
import { familyOf, unmapIp, type Family } from '../net/address.js';
import { FairSlots } from '../net/fair-slots.js';
import { HttpError } from './http-error.js';

export interface Bind {
  host: string;
  port: number;
}

export interface FrontOptions {
  binds: readonly Bind[];
  tls?: { cert: Buffer; key: Buffer };
  /** Connections per source host, and in all. */
  slots?: { perHost: number; total: number };
}

export type Handler = (req: IncomingMessage, res: ServerResponse, source: string) => Promise<void>;

/** Said about every response: no sniffing, no framing by other sites, no referrer leaving. */
export const BASE_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...BASE_HEADERS, 'Content-Type': 'application/json; charset=UTF-8', 'Cache-Control': 'no-store', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...BASE_HEADERS, 'Content-Type': 'text/plain; charset=UTF-8', 'Cache-Control': 'no-store', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** How long a refused request's unread body is still read (and dropped) before its connection closes. */
const LINGER_MS = 2000;

/**
 * Closing a socket with bytes of the client's still unread makes the kernel send a reset, which
 * can destroy the refusal (a 413) before the client reads it. Like nginx's lingering close, the
 * connection is half-closed after the reply and what still comes is dropped, until the client
 * closes or LINGER_MS pass. Node's server closes a finished `Connection: close` response through
 * destroySoon, so that is the step replaced.
 */
function lingerBeforeClose(socket: Socket): void {
  socket.destroySoon = () => {
    socket.end();
    socket.resume();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('end', () => socket.destroy());
    socket.once('close', () => clearTimeout(timer));
  };
}

export interface Listening {
  family: Family;
  address: string;
  port: number;
}

export class HttpFront {
  private readonly servers: Server[] = [];
  private readonly slots: FairSlots<Socket>;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly o: FrontOptions,
    private readonly handle: Handler,
    /** Told of requests that failed inside the handler (bugs), with the error. */
    private readonly onInternalError: (e: unknown) => void = () => {},
  ) {
    this.slots = new FairSlots(o.slots?.perHost ?? 1024, o.slots?.total ?? 4096);
  }

  get tls(): boolean {
    return !!this.o.tls;
  }

  async listen(): Promise<Listening[]> {
    const out: Listening[] = [];
    try {
      for (const b of this.o.binds) {
        const server = this.makeServer();
        this.servers.push(server);
        // Port 0: the first address picks a free port, and the others take the same one.
        const port = b.port === 0 && out[0] ? out[0].port : b.port;
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          // A backlog for a burst of a thousand connections at once.
          server.listen({ host: b.host, port, ipv6Only: familyOf(b.host) === 6, backlog: 2048 }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        const a = server.address();
        if (a && typeof a === 'object') out.push({ family: a.family === 'IPv6' ? 6 : 4, address: a.address, port: a.port });
      }
    } catch (e) {
      await this.close();
      throw e;
    }
    return out;
  }

  /** Stop listening and close every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers.length = 0;
  }

  private makeServer(): Server {
    const options = { maxHeaderSize: 16 * 1024, requestTimeout: 60_000, headersTimeout: 10_000, keepAliveTimeout: 5000 };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => void this.serve(req, res);
    const server = this.o.tls ? createHttps({ ...options, cert: this.o.tls.cert, key: this.o.tls.key }, onRequest) : createHttp(options, onRequest);
    server.setTimeout(120_000);
    // TLS: the TCP connection; plain HTTP: the same socket requests arrive on.
    server.on(this.o.tls ? 'secureConnection' : 'connection', (socket: Socket) => this.admit(socket));
    if (this.o.tls) server.on('connection', (socket: Socket) => this.track(socket));
    // What Node's parser refuses: too many header bytes (431), too slow (408), anything else (400).
    server.on('clientError', (e: NodeJS.ErrnoException, socket: Socket) => {
      const status = e.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    });
    return server;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private admit(socket: Socket): void {
    this.track(socket);
    const evicted = this.slots.admit(socket, unmapIp(socket.remoteAddress ?? ''));
    evicted?.destroy();
    socket.once('close', () => this.slots.release(socket));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const source = unmapIp(req.socket.remoteAddress ?? '');
    try {
      await this.handle(req, res, source);
    } catch (e) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof HttpError) {
        if (e.headers.Connection === 'close' && !req.complete) lingerBeforeClose(req.socket);
        sendText(res, e.status, `${e.message}\n`, e.headers);
        return;
      }
      this.onInternalError(e);
      sendText(res, 500, 'internal error (the daemon\'s log says more)\n');
    }
  }
}
