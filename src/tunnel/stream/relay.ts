/**
 * The server's end of one client's stream-mode session: it terminates IPv6 TCP and UDP at the
 * client's address (prefix::1, configured on the server while the session lasts) and relays
 * them to the client over its tunnel connection: dials leave from that address, listeners accept
 * on it, UDP sockets are bound to it.
 *
 * Everything a client can make the server hold is bounded per client: streams, listeners, UDP
 * sockets, dials and accepts per second, and the bytes buffered for it. The receive windows the
 * server grants on the client's streams come out of one budget (`bufferBytes`), with a small
 * window kept back for every stream that may still open, so a client's uploads to slow peers
 * never hold more than its budget and a new stream always gets room. What peers send toward the
 * client is read only while the client's window and the tunnel connection have room.
 * Half-closed streams are closed after `halfClosedMs`.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { connectSlabRead } from '../../transport/kernel/slab-read.js';
import { classify } from '../../net/address.js';
import { TokenBucket } from '../../util/token-bucket.js';
import { decode, encode, FrameType, MAX_DATA_BYTES, ProtocolError, type Endpoint, type FrameHandler } from './frames.js';
import { MuxConnection, ReceiveWindow, SendCredit } from './mux.js';

export interface RelayLimits {
  /** TCP streams at once, dialed and accepted (pending dials included). */
  maxStreams: number;
  /** Bytes the client may have in flight toward peers (the windows granted to it), in total. */
  bufferBytes: number;
  /** Incoming connections accepted per second (bursts of twice that); more are closed at once. */
  acceptRate: number;
  /** Dials per second (bursts of twice that); more are refused. */
  dialRate: number;
  maxListeners: number;
  maxUdpSockets: number;
  /** Bytes per second each way (the server's --client-rate), paced rather than dropped. */
  rate?: number;
  /** How long a stream may stay half-closed (one side sent FIN) before it is closed. */
  halfClosedMs: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  maxStreams: 512,
  bufferBytes: 32 * 1024 * 1024,
  acceptRate: 50,
  dialRate: 50,
  maxListeners: 8,
  maxUdpSockets: 64,
  halfClosedMs: 60_000,
};

/** The window a stream starts with, the least one ever gets, and the most it grows to. */
const INITIAL_WINDOW = 256 * 1024;
const MIN_WINDOW = 16 * 1024;
const MAX_STREAM_WINDOW = 4 * 1024 * 1024;
const DIAL_TIMEOUT_MS = 30_000;

export interface RelayCounters {
  streamsOpened: number;
  /** Dials, accepts, listens and UDP sockets refused by a limit or a policy. */
  refused: number;
  /** Datagrams dropped: the tunnel connection backed up, or over the rate. */
  droppedDatagrams: number;
  bytesToClient: number;
  bytesFromClient: number;
}

export interface RelayEvents {
  close: [reason: string];
}

/** Destinations a client may reach through us: unicast beyond this host (never its loopback, link-local or internal networks). */
function reachable(host: string): boolean {
  const k = classify(host)?.kind;
  return k === 'global' || k === 'teredo' || k === '6to4';
}

function errno(e: unknown): { code: string; message: string } {
  const err = e as NodeJS.ErrnoException;
  return { code: err.code ?? 'EIO', message: err.message ?? String(e) };
}

class RelayStream {
  readonly window: ReceiveWindow;
  credit: SendCredit | undefined;
  /** Bytes from the peer waiting for the client's window or the tunnel connection. */
  private held: Buffer[] = [];
  /** The client finished sending (FIN); the peer did ('end'), and we told the client. */
  private clientDone = false;
  private peerDone = false;
  private finSent = false;
  private halfClosedTimer: NodeJS.Timeout | undefined;
  private cancelWait: (() => void) | undefined;
  private paceTimer: NodeJS.Timeout | undefined;
  /** Window owed to the client but held back by the rate (--client-rate), and when it goes. */
  owedGrant = 0;
  grantTimer: NodeJS.Timeout | undefined;
  gone = false;

  constructor(
    private readonly relay: Relay,
    readonly id: number,
    readonly socket: Socket,
    window: number,
  ) {
    this.window = new ReceiveWindow(window);
  }

  /** The client may now be sent `initial` bytes: reading from the peer starts. */
  open(initial: number): void {
    this.credit = new SendCredit(initial);
    const s = this.socket;
    s.setNoDelay(true);
    s.on('data', (chunk: Buffer) => this.fromPeer(chunk));
    // Sockets are half-open: the peer's FIN reaches the client as FIN once its data has.
    s.on('end', () => this.peerFinished());
    s.on('close', (hadError) => (hadError ? undefined : this.peerFinished()));
    s.on('error', (e) => this.relay.streamGone(this, errno(e)));
    s.resume();
  }

  private fromPeer(chunk: Buffer): void {
    if (this.gone) return;
    this.held.push(chunk);
    this.flushHeld();
  }

  private peerFinished(): void {
    if (this.peerDone || this.gone) return;
    this.peerDone = true;
    this.flushHeld();
  }

  /** Sends held bytes as far as the window, the tunnel connection and the rate allow. */
  flushHeld(): void {
    if (this.gone || !this.credit) return;
    const mux = this.relay.mux;
    while (this.held.length > 0) {
      if (this.credit.available === 0) return void this.socket.pause(); // until WINDOW
      if (mux.congested) {
        this.socket.pause();
        this.cancelWait ??= mux.whenWritable(() => {
          this.cancelWait = undefined;
          this.flushHeld();
        });
        return;
      }
      let chunk = this.held[0]!;
      const n = Math.min(chunk.length, this.credit.available, MAX_DATA_BYTES);
      const wait = this.relay.pace(n);
      if (wait > 0) {
        this.socket.pause();
        this.paceTimer ??= setTimeout(() => {
          this.paceTimer = undefined;
          this.flushHeld();
        }, wait);
        return;
      }
      if (n < chunk.length) {
        this.held[0] = chunk.subarray(n);
        chunk = chunk.subarray(0, n);
      } else {
        this.held.shift();
      }
      this.credit.spend(n);
      this.relay.counters.bytesToClient += n;
      mux.sendData(this.id, [chunk], n);
    }
    if (!this.peerDone) {
      this.socket.resume();
      return;
    }
    if (!this.finSent) {
      this.finSent = true;
      mux.send(encode.fin(this.id));
    }
    this.halfClose();
  }

  /** DATA from the client: to the peer; the window comes back once the kernel has the bytes. */
  fromClient(bytes: Buffer): void {
    this.window.take(bytes.length);
    if (this.gone || this.clientDone) return;
    this.relay.counters.bytesFromClient += bytes.length;
    this.socket.write(bytes, () => this.relay.written(this, bytes.length));
  }

  windowGranted(n: number): void {
    this.credit?.grant(n);
    this.flushHeld();
  }

  clientFinished(): void {
    if (this.clientDone || this.gone) return;
    this.clientDone = true;
    this.socket.end();
    this.halfClose();
  }

  /** Both sides done: the stream goes. One side done: the other has `halfClosedMs` to finish. */
  private halfClose(): void {
    if (this.clientDone && this.finSent) return this.relay.streamGone(this, undefined);
    if (!this.clientDone && !this.finSent) return;
    this.halfClosedTimer ??= setTimeout(() => this.relay.streamGone(this, { code: 'ETIMEDOUT', message: 'half-closed too long' }), this.relay.halfClosedMs);
    this.halfClosedTimer.unref();
  }

  destroy(): void {
    this.gone = true;
    clearTimeout(this.halfClosedTimer);
    clearTimeout(this.paceTimer);
    clearTimeout(this.grantTimer);
    this.cancelWait?.();
    this.held = [];
    this.socket.destroy();
  }
}

interface RelayUdp {
  socket: dgram.Socket;
  /** Connected to one endpoint (a UDP tracker's flow): datagrams go there only. */
  connected: boolean;
}

export class Relay extends EventEmitter<RelayEvents> implements FrameHandler {
  readonly mux: MuxConnection;
  readonly counters: RelayCounters = { streamsOpened: 0, refused: 0, droppedDatagrams: 0, bytesToClient: 0, bytesFromClient: 0 };
  private readonly streams = new Map<number, RelayStream>();
  private readonly servers = new Map<number, Server>();
  private readonly udp = new Map<number, RelayUdp>();
  private nextIncoming = 2;
  /** Receive windows granted on the client's streams, in total. */
  private granted = 0;
  private readonly accepts: TokenBucket;
  private readonly dials: TokenBucket;
  /** --client-rate: toward the client (reads from peers wait), and from it (window grants wait). */
  private readonly paceOut: TokenBucket | undefined;
  private readonly paceIn: TokenBucket | undefined;
  private closed = false;

  constructor(
    socket: Socket,
    rest: Buffer,
    /** The client's address, where everything is bound. */
    readonly address: string,
    private readonly limits: RelayLimits,
  ) {
    super();
    this.mux = new MuxConnection(socket, rest, this);
    this.mux.on('close', (reason) => this.shutDown(reason));
    this.accepts = new TokenBucket(limits.acceptRate, limits.acceptRate * 2);
    this.dials = new TokenBucket(limits.dialRate, limits.dialRate * 2);
    if (limits.rate) {
      this.paceOut = new TokenBucket(limits.rate, this.paceBurst);
      this.paceIn = new TokenBucket(limits.rate, this.paceBurst);
    }
  }

  start(): void {
    this.mux.start();
  }

  get halfClosedMs(): number {
    return this.limits.halfClosedMs;
  }

  close(reason: string): void {
    this.mux.close(reason);
  }

  // ---- frames from the client -------------------------------------------------------------------

  data(id: number, bytes: Buffer): void {
    this.streams.get(id)?.fromClient(bytes);
  }

  control(type: FrameType, id: number, payload: Buffer): void {
    switch (type) {
      case FrameType.WINDOW:
        return this.windowFrame(id, decode.window(payload));
      case FrameType.FIN:
        return this.streams.get(id)?.clientFinished();
      case FrameType.RESET:
        return this.reset(id);
      case FrameType.CONNECT:
        return this.dial(id, payload);
      case FrameType.LISTEN:
        return this.listen(id, decode.port(payload));
      case FrameType.UDP_BIND:
        return this.bindUdp(id, payload);
      case FrameType.DATAGRAM:
        return this.datagramFromClient(id, payload);
      default:
        throw new ProtocolError(`frame type ${type} is not sent by a client`);
    }
  }

  // ---- streams ----------------------------------------------------------------------------------

  /** A new id from the client: odd, and not in use. */
  private checkNewId(id: number): void {
    if (id % 2 !== 1 || this.streams.has(id) || this.servers.has(id) || this.udp.has(id)) throw new ProtocolError(`a new object with id ${id}`);
  }

  /** The receive window a new stream gets, or 0 when the budget has no room (nor the stream count). */
  private newWindow(): number {
    if (this.streams.size >= this.limits.maxStreams) return 0;
    // A minimal window stays kept back for every stream that may still open.
    const reserve = MIN_WINDOW * (this.limits.maxStreams - this.streams.size - 1);
    const room = this.limits.bufferBytes - this.granted - reserve;
    const w = Math.min(INITIAL_WINDOW, Math.max(MIN_WINDOW, room));
    return this.granted + w <= this.limits.bufferBytes ? w : 0;
  }

  private refuse(id: number, code: string, message: string): void {
    this.counters.refused++;
    this.mux.send(encode.reset(id, code, message));
  }

  private dial(id: number, payload: Buffer): void {
    this.checkNewId(id);
    const { to, window } = decode.connect(payload);
    if (!reachable(to.host)) return this.refuse(id, 'EACCES', `${to.host} is not a global unicast address; the tunnel server does not relay there`);
    if (to.port === 0) return this.refuse(id, 'EINVAL', 'port 0');
    if (!this.dials.take()) return this.refuse(id, 'EAGAIN', `more than ${this.limits.dialRate} dials per second`);
    const w = this.newWindow();
    if (w === 0) return this.refuse(id, 'EMFILE', `too many streams or buffered bytes (at most ${this.limits.maxStreams} streams)`);
    const socket = connectSlabRead({ host: to.host, port: to.port, family: 6, localAddress: this.address, allowHalfOpen: true });
    const stream = this.addStream(id, socket, w);
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' })), DIAL_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      if (stream.gone) return;
      this.mux.send(encode.connected(id, socket.localPort ?? 0, w));
      stream.open(window);
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      this.streamGone(stream, errno(e));
    });
  }

  private addStream(id: number, socket: Socket, window: number): RelayStream {
    const stream = new RelayStream(this, id, socket, window);
    this.streams.set(id, stream);
    this.granted += window;
    this.counters.streamsOpened++;
    return stream;
  }

  /** A stream ended: the client hears why (unless it asked), its window goes back to the budget. */
  streamGone(stream: RelayStream, why: { code: string; message: string } | undefined): void {
    if (stream.gone) return;
    stream.destroy();
    this.streams.delete(stream.id);
    this.granted -= stream.window.size;
    if (why) this.mux.send(encode.reset(stream.id, why.code, why.message));
  }

  /** The kernel took `n` bytes the client sent: grant them back, and grow the window of a stream the client keeps full. */
  written(stream: RelayStream, n: number): void {
    if (stream.gone || this.closed) return;
    const w = stream.window;
    // It (nearly) used up its window before we gave any back: the window, not the peer, holds it back.
    const starved = w.exhausted;
    const pressed = w.pressed;
    let grant = w.consumed(n, starved);
    if (grant > 0 && pressed && w.size < MAX_STREAM_WINDOW) {
      const room = this.limits.bufferBytes - this.granted - MIN_WINDOW * (this.limits.maxStreams - this.streams.size);
      const more = Math.min(w.size, MAX_STREAM_WINDOW - w.size, room);
      if (more > 0) {
        this.granted += more;
        grant += w.grow(more);
      }
    }
    if (grant > 0) this.grant(stream, grant);
  }

  /** The most the rate lets through at once. */
  private get paceBurst(): number {
    return Math.max(this.limits.rate ?? 0, 256 * 1024);
  }

  /** Sends window to the client; over the rate, it goes later, as the rate allows. */
  private grant(stream: RelayStream, n: number): void {
    stream.owedGrant += n;
    this.flushGrant(stream);
  }

  private flushGrant(stream: RelayStream): void {
    while (stream.owedGrant > 0 && !stream.gone && !stream.grantTimer) {
      let n = stream.owedGrant;
      if (this.paceIn) {
        n = Math.min(n, this.paceBurst);
        const wait = this.paceIn.msUntil(n);
        if (wait > 0) {
          stream.grantTimer = setTimeout(() => {
            stream.grantTimer = undefined;
            this.flushGrant(stream);
          }, Math.ceil(wait));
          return;
        }
        this.paceIn.take(n);
      }
      stream.owedGrant -= n;
      this.mux.send(encode.window(stream.id, n));
    }
  }

  /** Milliseconds to wait before `n` more bytes may go to the client (0: now, and taken). */
  pace(n: number): number {
    if (!this.paceOut) return 0;
    const wait = this.paceOut.msUntil(n);
    if (wait === 0) this.paceOut.take(n);
    return Math.ceil(wait);
  }

  private reset(id: number): void {
    const stream = this.streams.get(id);
    if (stream) return this.streamGone(stream, undefined);
    const server = this.servers.get(id);
    if (server) {
      this.servers.delete(id);
      server.close();
      return;
    }
    const u = this.udp.get(id);
    if (u) {
      this.udp.delete(id);
      u.socket.close();
    }
  }

  // ---- listening --------------------------------------------------------------------------------

  private listen(id: number, port: number): void {
    this.checkNewId(id);
    if (this.servers.size >= this.limits.maxListeners) return this.refuse(id, 'EMFILE', `at most ${this.limits.maxListeners} listeners`);
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => this.incoming(s));
    this.servers.set(id, server);
    server.once('error', (e) => {
      if (this.servers.get(id) !== server) return;
      this.servers.delete(id);
      this.mux.send(encode.reset(id, errno(e).code, `cannot listen on [${this.address}]:${port}: ${errno(e).message}`));
    });
    server.listen({ host: this.address, port, ipv6Only: true, backlog: 64 }, () => {
      if (this.servers.get(id) !== server || this.closed) return void server.close();
      const a = server.address();
      this.mux.send(encode.listening(id, typeof a === 'object' && a ? a.port : port));
    });
  }

  private incoming(socket: Socket): void {
    socket.on('error', () => {});
    const w = this.closed ? 0 : this.newWindow();
    if (w === 0 || !this.accepts.take()) {
      this.counters.refused++;
      socket.destroy();
      return;
    }
    const id = this.nextIncoming;
    this.nextIncoming = (this.nextIncoming + 2) >>> 0 || 2;
    const remote: Endpoint = { host: socket.remoteAddress ?? '::', port: socket.remotePort ?? 0 };
    const stream = this.addStream(id, socket, w);
    const unanswered = () => {
      if (!stream.credit) this.streamGone(stream, { code: 'ECONNRESET', message: 'connection closed by peer' });
    };
    socket.once('close', unanswered);
    // A client that neither takes nor refuses it within the dial timeout loses it (and the peer is let go).
    setTimeout(unanswered, DIAL_TIMEOUT_MS).unref();
    this.mux.send(encode.accept(id, socket.localPort ?? 0, remote, w));
  }

  /** A grant; on an accepted stream not yet open, the client's answer to ACCEPT: then reading starts. */
  private windowFrame(id: number, n: number): void {
    const stream = this.streams.get(id);
    if (!stream) return;
    if (stream.credit) return stream.windowGranted(n);
    if (id % 2 === 0) return stream.open(n);
    throw new ProtocolError(`WINDOW on stream ${id} before it is connected`);
  }

  // ---- UDP --------------------------------------------------------------------------------------

  private bindUdp(id: number, payload: Buffer): void {
    this.checkNewId(id);
    if (this.udp.size >= this.limits.maxUdpSockets) return this.refuse(id, 'EMFILE', `at most ${this.limits.maxUdpSockets} UDP sockets`);
    const { port, connectTo } = decode.udpBind(payload);
    if (connectTo && !reachable(connectTo.host)) return this.refuse(id, 'EACCES', `${connectTo.host} is not a global unicast address`);
    const socket = dgram.createSocket({ type: 'udp6', ipv6Only: true });
    const u: RelayUdp = { socket, connected: connectTo !== undefined };
    this.udp.set(id, u);
    const fail = (e: Error) => {
      if (this.udp.get(id) !== u) return;
      this.udp.delete(id);
      socket.close();
      this.mux.send(encode.reset(id, errno(e).code, errno(e).message));
    };
    socket.once('error', fail);
    socket.bind(port, this.address, () => {
      const ready = () => {
        if (this.udp.get(id) !== u) return;
        socket.off('error', fail);
        socket.on('error', (e) => this.mux.send(encode.udpError(id, errno(e).code, errno(e).message)));
        socket.on('message', (b, rinfo) => this.datagramToClient(id, b, { host: rinfo.address, port: rinfo.port }));
        this.mux.send(encode.udpBound(id, socket.address().port));
      };
      if (connectTo) socket.connect(connectTo.port, connectTo.host, ready);
      else ready();
    });
  }

  private datagramToClient(id: number, b: Buffer, from: Endpoint): void {
    if (this.closed || this.mux.congested || this.pace(b.length) > 0) {
      this.counters.droppedDatagrams++;
      return;
    }
    this.mux.send(encode.datagramHead(id, from, b.length));
    this.mux.send(b);
  }

  private datagramFromClient(id: number, payload: Buffer): void {
    const u = this.udp.get(id);
    if (!u) return;
    const { remote, bytes } = decode.datagram(payload);
    // Over --client-rate, or to where a client may not go: dropped, as UDP is.
    if (!reachable(remote.host) || remote.port === 0 || (this.paceIn && !this.paceIn.take(bytes.length))) {
      this.counters.droppedDatagrams++;
      return;
    }
    const copy = Buffer.from(bytes);
    if (u.connected) u.socket.send(copy, () => {});
    else u.socket.send(copy, remote.port, remote.host, () => {});
  }

  // ---- the end ----------------------------------------------------------------------------------

  private shutDown(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.destroy();
    this.streams.clear();
    this.granted = 0;
    for (const l of this.servers.values()) l.close();
    this.servers.clear();
    for (const u of this.udp.values()) u.socket.close();
    this.udp.clear();
    this.emit('close', reason);
  }
}
