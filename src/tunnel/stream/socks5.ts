/**
 * `tunnel up --socks`: a SOCKS5 proxy (RFC 1928, CONNECT only, no authentication) on a local
 * address, so that any program that speaks SOCKS reaches IPv6 through the stream mode without
 * root: IPv6 destinations leave from our tunnel address, IPv4 ones from this host's own sockets,
 * and names are resolved here (IPv6 first). It is meant for this host: give it a loopback address.
 */
import { lookup } from 'node:dns/promises';
import { connect, createServer, isIP, type Server, type Socket } from 'node:net';
import { bytesToIp, ipToBytes } from '../../net/address.js';
import { errorMessage } from '../../util/errors.js';
import type { RelayedTransport } from './relayed-transport.js';
import { splice } from './splice.js';
import type { TunnelStreamNetwork } from './stream-network.js';

const VERSION = 5;
const NO_AUTH = 0;
const NO_METHOD = 0xff;
const CONNECT = 1;
const ATYP = { v4: 1, name: 3, v6: 4 } as const;
const REPLY = { ok: 0, failure: 1, notAllowed: 2, networkUnreachable: 3, hostUnreachable: 4, refused: 5, ttlExpired: 6, badCommand: 7, badAddress: 8 } as const;
/** A request is at most 4 + 1 + 255 + 2 bytes; a client gets this long to send it. */
const REQUEST_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 20_000;

interface Target {
  host: string;
  port: number;
}

/** Reads exactly `n` bytes (or rejects when the socket ends first). */
class Reader {
  private buf = Buffer.alloc(0);
  private want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      if (this.buf.length > 600) socket.destroy(); // nothing we read is that long
      this.check();
    });
    socket.on('close', () => this.want?.reject(new Error('closed')));
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.want = { n, resolve, reject };
      this.check();
    });
  }

  /** Stops reading; what came after the request goes to the caller. */
  detach(): Buffer {
    this.socket.removeAllListeners('data');
    this.socket.pause();
    return this.buf;
  }

  private check(): void {
    const w = this.want;
    if (!w || this.buf.length < w.n) return;
    this.want = undefined;
    const out = this.buf.subarray(0, w.n);
    this.buf = this.buf.subarray(w.n);
    w.resolve(out);
  }
}

function reply(code: number, bound?: { host: string; port: number }): Buffer {
  const addr = bound ? ipToBytes(bound.host) : undefined;
  const a = addr ?? Buffer.alloc(4);
  const head = Buffer.from([VERSION, code, 0, a.length === 16 ? ATYP.v6 : ATYP.v4]);
  const port = Buffer.alloc(2);
  port.writeUInt16BE(bound?.port ?? 0);
  return Buffer.concat([head, a, port]);
}

function replyFor(e: unknown): number {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'ECONNREFUSED':
      return REPLY.refused;
    case 'ENETUNREACH':
      return REPLY.networkUnreachable;
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return REPLY.hostUnreachable;
    case 'ETIMEDOUT':
      return REPLY.ttlExpired;
    case 'EACCES':
      return REPLY.notAllowed;
    default:
      return REPLY.failure;
  }
}

export class Socks5Server {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();

  constructor(
    private readonly network: TunnelStreamNetwork,
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** Listens on host:port; rejects with why it cannot. */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const server = createServer((s) => void this.serve(s));
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(`cannot listen on ${host}:${port} for SOCKS: ${e.code === 'EADDRINUSE' ? 'the port is in use (pick another with --socks ADDR:PORT)' : e.message}`)),
      );
      server.listen({ host, port }, () => {
        server.removeAllListeners('error');
        server.on('error', () => {});
        this.server = server;
        const a = server.address();
        resolve({ host, port: typeof a === 'object' && a ? a.port : port });
      });
    });
  }

  close(): void {
    this.server?.close();
    for (const s of this.clients) s.destroy();
  }

  private async serve(socket: Socket): Promise<void> {
    this.clients.add(socket);
    socket.on('close', () => this.clients.delete(socket));
    socket.on('error', () => {});
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    const r = new Reader(socket);
    try {
      const [version, nMethods] = await r.read(2);
      if (version !== VERSION) return void socket.destroy();
      const methods = await r.read(nMethods!);
      if (!methods.includes(NO_AUTH)) return void socket.end(Buffer.from([VERSION, NO_METHOD]));
      socket.write(Buffer.from([VERSION, NO_AUTH]));
      const [v, cmd, , atyp] = await r.read(4);
      if (v !== VERSION) return void socket.destroy();
      let host: string;
      if (atyp === ATYP.v4) host = bytesToIp(await r.read(4));
      else if (atyp === ATYP.v6) host = bytesToIp(await r.read(16));
      else if (atyp === ATYP.name) host = (await r.read((await r.read(1))[0]!)).toString('latin1');
      else return void socket.end(reply(REPLY.badAddress));
      const port = (await r.read(2)).readUInt16BE(0);
      if (cmd !== CONNECT) return void socket.end(reply(REPLY.badCommand));
      const early = r.detach();
      socket.setTimeout(0);
      await this.connect(socket, { host, port }, early);
    } catch {
      socket.destroy();
    }
  }

  /** Dials the target (IPv6 through the tunnel first), tells the client, and joins the two. */
  private async connect(socket: Socket, target: Target, early: Buffer): Promise<void> {
    let addresses: Array<{ address: string; family: number }>;
    try {
      addresses = isIP(target.host) ? [{ address: target.host, family: isIP(target.host) }] : await lookup(target.host, { all: true, verbatim: true });
    } catch (e) {
      return void socket.end(reply(replyFor(e)));
    }
    addresses.sort((a, b) => b.family - a.family);
    let last: unknown;
    for (const a of addresses) {
      if (socket.destroyed) return;
      try {
        if (a.family === 6) {
          const stream = (await this.network.dial({ host: a.address, port: target.port }, { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) })) as RelayedTransport;
          if (socket.destroyed) return stream.close();
          socket.write(reply(REPLY.ok, { host: stream.localHost, port: stream.localPort }));
          if (early.length) stream.write(early);
          socket.resume();
          return splice(stream, socket);
        }
        const remote = await this.direct(a.address, target.port);
        if (socket.destroyed) return void remote.destroy();
        socket.write(reply(REPLY.ok, { host: remote.localAddress ?? '0.0.0.0', port: remote.localPort ?? 0 }));
        if (early.length) remote.write(early);
        socket.pipe(remote).pipe(socket);
        remote.on('error', () => socket.destroy());
        socket.on('close', () => remote.destroy());
        socket.resume();
        return;
      } catch (e) {
        last = e;
      }
    }
    this.log(`SOCKS: cannot reach ${target.host}:${target.port}: ${errorMessage(last)}`);
    socket.end(reply(replyFor(last)));
  }

  /** This host's own connection (for IPv4 destinations). */
  private direct(host: string, port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port, timeout: CONNECT_TIMEOUT_MS });
      s.once('connect', () => {
        s.setTimeout(0);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('timeout', () => s.destroy(Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' })));
      s.once('error', reject);
    });
  }
}
