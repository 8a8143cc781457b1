/**
 * The tracker's HTTP/1.x connections, small and strict: GET requests without a body, one reply
 * each, keep-alive and pipelining. What does not start like a request (a bare "\r\n\r\n",
 * binary) gets 400 at once and a head over 8 KiB gets 431, both closing the connection.
 *
 * A connection waiting for a whole request head holds a FairSlots slot (per source host and in
 * total), and must deliver the head within 10 s (keep-alive idle: 5 s); one that waits while
 * more than half of the slots are taken, within 2 s (idle: 1 s). A host that opens more connections than its share
 * loses its own oldest waiting ones; a full table loses the oldest of the host holding the most.
 */
import type { Socket } from 'node:net';
import { unmapIp } from '../../net/address.js';
import { FairSlots } from '../../net/fair-slots.js';
import { encode } from '../../bencode/index.js';
import { printable } from '../../util/sanitize.js';
import type { BadRequestReporter, HttpHandler } from './http-handler.js';

const MAX_HEAD = 8192;
/** Connections waiting for a request head: in total, and per IPv4 address or IPv6 /64. */
export const HTTP_SLOTS = { total: 2000, perHost: 64 };
const HEAD_MS = { calm: 10_000, loaded: 2000 };
const IDLE_MS = { calm: 5000, loaded: 1000 };
const SWEEP_MS = 250;

const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error' };
const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

interface Waiting {
  socket: Socket;
  source: string;
  /** Bytes of the next request received so far (latin1: one char per byte). */
  head: string;
  /** How far `head` was searched for its end already (each byte is looked at once). */
  scanned: number;
  /** Whether its request line was complete and well formed. */
  lineOk: boolean;
  /** When it started waiting for this head. */
  since: number;
  /** It waited while the slots were scarce: the short deadlines apply to it from then on. */
  hurried: boolean;
}

export class HttpConnections {
  private readonly slots = new FairSlots<Waiting>(HTTP_SLOTS.perHost, HTTP_SLOTS.total);
  private readonly open = new Set<Socket>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly handle: HttpHandler,
    private readonly onBad: BadRequestReporter,
  ) {
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /** Serve one accepted TCP connection. */
  accept(socket: Socket): void {
    const source = unmapIp(socket.remoteAddress ?? '');
    this.open.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const w: Waiting = { socket, source, head: '', scanned: 0, lineOk: false, since: Date.now(), hurried: false };
    this.wait(w);
    socket.on('close', () => {
      this.open.delete(socket);
      this.slots.release(w);
    });
    socket.on('data', (chunk: Buffer) => this.onData(w, chunk));
  }

  /** Stop serving: every connection is closed. */
  close(): void {
    clearInterval(this.timer);
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  private wait(w: Waiting): void {
    w.since = Date.now();
    w.hurried = false;
    this.slots.admit(w, w.source)?.socket.destroy();
  }

  private onData(w: Waiting, chunk: Buffer): void {
    if (w.socket.destroyed || w.socket.writableEnded) return;
    w.head += chunk.toString('latin1');
    for (;;) {
      const problem = this.lineProblem(w);
      if (problem) return this.refuse(w, 400, `malformed HTTP request: ${problem}`);
      const end = w.head.indexOf('\r\n\r\n', Math.max(0, w.scanned - 3));
      w.scanned = w.head.length;
      if (end < 0 || end > MAX_HEAD) {
        if (w.head.length > MAX_HEAD) this.refuse(w, 431, `HTTP request head longer than ${MAX_HEAD} bytes`);
        return;
      }
      const head = w.head.slice(0, end);
      w.head = w.head.slice(end + 4);
      w.scanned = 0;
      w.lineOk = false;
      this.slots.release(w);
      if (!this.respond(w, head)) return;
      if (w.socket.writableNeedDrain) {
        // A client that pipelines requests but does not read the replies gets no more served.
        w.socket.pause();
        w.socket.once('drain', () => w.socket.resume());
      }
      this.wait(w);
      if (w.head.length === 0) return;
    }
  }

  /**
   * Why the head so far cannot be a request: its first byte at once (so "\r\n\r\n" or binary
   * is answered 400 without waiting), its request line once that is complete.
   */
  private lineProblem(w: Waiting): string | undefined {
    if (w.lineOk || w.head.length === 0) return undefined;
    const first = w.head.charCodeAt(0);
    if (first === 0x0d || first === 0x0a) return 'empty line before the request line';
    if (first < 0x41 || first > 0x5a) return 'not a request line';
    const eol = w.head.indexOf('\r\n', Math.max(0, w.scanned - 1));
    if (eol < 0) return undefined;
    if (!REQUEST_LINE.test(w.head.slice(0, eol))) return 'bad request line';
    w.lineOk = true;
    return undefined;
  }

  /** Answer one request head; false when the connection closes after it. */
  private respond(w: Waiting, head: string): boolean {
    const lines = head.split('\r\n');
    const [, method, target, minor] = REQUEST_LINE.exec(lines[0]!)!;
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const m = HEADER_LINE.exec(line);
      if (!m) {
        this.refuse(w, 400, `malformed HTTP header line ${JSON.stringify(printable(line, 60))}`);
        return false;
      }
      headers.set(m[1]!.toLowerCase(), m[2]!);
    }
    // No request of the tracker has a body: one would be read as the next request, so it closes.
    const hasBody = headers.has('transfer-encoding') || (headers.get('content-length') ?? '0') !== '0';
    if (hasBody && method === 'GET') {
      this.refuse(w, 400, 'HTTP GET with a body');
      return false;
    }
    const connection = headers.get('connection')?.toLowerCase();
    const keepAlive = !hasBody && (minor === '1' ? connection !== 'close' : connection === 'keep-alive');
    const reply = this.handle(method!, target!, w.source);
    this.send(w.socket, reply.status, reply.body, !keepAlive);
    return keepAlive;
  }

  private refuse(w: Waiting, status: 400 | 431, reason: string): void {
    this.slots.release(w);
    this.onBad('http', w.source, reason);
    this.send(w.socket, status, encode({ 'failure reason': reason }), true);
  }

  private send(socket: Socket, status: number, body: Buffer, close: boolean): void {
    const head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
    const bytes = Buffer.concat([Buffer.from(head, 'latin1'), body]);
    if (close) socket.end(bytes);
    else socket.write(bytes);
  }

  /** Drop connections whose head (or, idle, whose next request) is late; sooner while slots are scarce. */
  private sweep(): void {
    const loaded = this.slots.size > this.slots.total / 2;
    const now = Date.now();
    const late: Waiting[] = [];
    for (const w of this.slots.entries()) {
      // Sticky: a burst that made the slots scarce is cleared as a whole, not just until it thins.
      if (loaded) w.hurried = true;
      const limit = w.head.length > 0 ? (w.hurried ? HEAD_MS.loaded : HEAD_MS.calm) : w.hurried ? IDLE_MS.loaded : IDLE_MS.calm;
      if (now - w.since > limit) late.push(w);
    }
    for (const w of late) {
      this.slots.release(w);
      w.socket.destroy();
    }
  }
}
