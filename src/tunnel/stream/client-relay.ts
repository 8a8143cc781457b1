/**
 * The client's end of one stream-mode session: it asks the server to dial, listen and bind UDP
 * from the client's address, and turns what comes back into Transports and datagram sockets.
 * It lives as long as one tunnel connection; stream-network.ts carries what must outlive it
 * (the listening port, the UDP sockets on our port) from one session to the next.
 *
 * Against a server that misbehaves: data beyond a window, a frame of the wrong shape, or an
 * ACCEPT that reuses an id ends the connection (the client reconnects); more incoming streams
 * than MAX_STREAMS are refused one by one; frames for ids that are gone are dropped.
 */
import type { Socket } from 'node:net';
import type { DatagramSource } from '../../transport/datagram.js';
import type { DialTarget } from '../../transport/network.js';
import { decode, encode, FrameType, ProtocolError, type Endpoint, type FrameHandler, type RemoteError } from './frames.js';
import { MuxConnection } from './mux.js';
import { RelayedTransport, type StreamCarrier } from './relayed-transport.js';

/** What the client lets the server have in flight to it per stream: the engine reads at once, so this only needs to cover the round trip. */
export const CLIENT_WINDOW = 4 * 1024 * 1024;
/** Streams at once (dialed and accepted); more incoming ones are refused. */
export const MAX_STREAMS = 4096;
/** Requests (dials, listens, binds) waiting for their answer. */
const MAX_PENDING = 1024;

/** An error from the far side, shaped like the kernel's (code: ECONNREFUSED, ETIMEDOUT, ...). */
export function remoteError(e: RemoteError, what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${what}: ${e.code} (${e.message}, through the tunnel)`), { code: e.code });
}

interface Pending {
  kind: 'connect' | 'listen' | 'udp';
  target?: Endpoint;
  resolve(value: unknown): void;
  reject(e: Error): void;
}

/** A UDP socket the server holds for us. */
export class RelayedUdpSocket {
  private onMessage: ((b: Buffer, from: DatagramSource) => void) | undefined;
  private readonly errorHandlers: Array<(e: Error) => void> = [];
  closed = false;

  constructor(
    private readonly relay: ClientRelay,
    readonly id: number,
    readonly port: number,
  ) {}

  /** False when the tunnel connection is backed up (the datagram is dropped, as a full queue would). */
  send(b: Buffer, to: Endpoint): boolean {
    if (this.closed) return false;
    return this.relay.sendDatagram(this.id, to, b);
  }

  message(handler: (b: Buffer, from: DatagramSource) => void): void {
    this.onMessage = handler;
  }

  error(handler: (e: Error) => void): void {
    this.errorHandlers.push(handler);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.relay.closeUdp(this.id);
  }

  /** @internal */
  deliver(b: Buffer, from: DatagramSource): void {
    if (!this.closed) this.onMessage?.(b, from);
  }

  /** @internal the socket failed (or an ICMP error for a connected one); `fatal`: it is gone. */
  fail(e: Error, fatal: boolean): void {
    if (this.closed) return;
    if (fatal) this.closed = true;
    for (const h of this.errorHandlers) h(e);
  }
}

export interface ClientRelayEvents {
  /** An incoming connection on a port we listen on. */
  accept(t: RelayedTransport): void;
}

export class ClientRelay implements StreamCarrier, FrameHandler {
  readonly mux: MuxConnection;
  private nextId = 1;
  private readonly streams = new Map<number, RelayedTransport>();
  private readonly pending = new Map<number, Pending>();
  private readonly udp = new Map<number, RelayedUdpSocket>();
  /** Listener ids by port, and ports by listener id. */
  private readonly listeners = new Map<number, number>();
  private closedWith: string | undefined;

  constructor(
    socket: Socket,
    rest: Buffer,
    /** Our address: the local end of every stream. */
    readonly address: string,
    private readonly events: ClientRelayEvents,
  ) {
    this.mux = new MuxConnection(socket, rest, this);
    this.mux.on('close', (reason) => this.lost(reason));
  }

  /** `subscribe`: how the connection's bytes come (default its 'data' events); see MuxConnection.start. */
  start(subscribe?: (receive: (chunk: Buffer) => void) => void): void {
    this.transient = subscribe !== undefined;
    this.mux.start(subscribe);
  }

  /** Chunks come in a shared read buffer: streams hand them on as transient. */
  private transient = false;

  get counters(): { streams: number; bytesIn: number; bytesOut: number } {
    return { streams: this.streams.size, bytesIn: this.mux.bytesIn, bytesOut: this.mux.bytesOut };
  }

  /** A stream from our address to `target` (IPv6), resolved once the server has connected it. */
  connect(target: DialTarget, signal: AbortSignal): Promise<RelayedTransport> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error('connect aborted'));
      const id = this.request('connect', { host: target.host, port: target.port }, resolve as (v: unknown) => void, reject);
      if (id === undefined) return;
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        this.mux.send(encode.reset(id, 'ECANCELED', 'dial aborted'));
        reject(new Error('connect aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const p = this.pending.get(id)!;
      const done = () => signal.removeEventListener('abort', onAbort);
      const [res, rej] = [p.resolve, p.reject];
      p.resolve = (v) => (done(), res(v));
      p.reject = (e) => (done(), rej(e));
      this.mux.send(encode.connect(id, target, CLIENT_WINDOW));
    });
  }

  /** Accept connections to our address on `port`; resolves with the port the server listens on. */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const id = this.request('listen', undefined, resolve as (v: unknown) => void, reject);
      if (id === undefined) return;
      this.mux.send(encode.listen(id, port));
    });
  }

  unlisten(port: number): void {
    for (const [id, p] of this.listeners) {
      if (p !== port) continue;
      this.listeners.delete(id);
      this.mux.send(encode.reset(id, 'ECANCELED', 'no longer listening'));
    }
  }

  /** A UDP socket on our address and `port` (0: any), connected to `connectTo` when given. */
  bindUdp(port: number, connectTo?: Endpoint): Promise<RelayedUdpSocket> {
    return new Promise((resolve, reject) => {
      const id = this.request('udp', connectTo, resolve as (v: unknown) => void, reject);
      if (id === undefined) return;
      this.mux.send(encode.udpBind(id, port, connectTo));
    });
  }

  /** @internal for RelayedUdpSocket */
  sendDatagram(id: number, to: Endpoint, b: Buffer): boolean {
    if (this.mux.isClosed || this.mux.congested) return false;
    this.mux.send(Buffer.concat([encode.datagramHead(id, to, b.length), b]));
    return true;
  }

  /** @internal for RelayedUdpSocket */
  closeUdp(id: number): void {
    if (this.udp.delete(id)) this.mux.send(encode.reset(id, 'ECANCELED', 'closed'));
  }

  forget(id: number): void {
    this.streams.delete(id);
  }

  close(reason: string): void {
    this.mux.close(reason);
  }

  // ---- frames from the server -------------------------------------------------------------------

  data(id: number, bytes: Buffer): void {
    // A stream we closed may still have data in flight: dropped.
    this.streams.get(id)?.data(bytes, this.transient);
  }

  control(type: FrameType, id: number, payload: Buffer): void {
    switch (type) {
      case FrameType.WINDOW:
        return this.streams.get(id)?.windowGranted(decode.window(payload));
      case FrameType.FIN:
        return this.streams.get(id)?.remoteFinished();
      case FrameType.RESET:
        return this.reset(id, decode.error(payload));
      case FrameType.CONNECTED:
        return this.connected(id, payload);
      case FrameType.ACCEPT:
        return this.accepted(id, payload);
      case FrameType.LISTENING: {
        const p = this.take(id, 'listen');
        if (!p) return;
        const port = decode.port(payload);
        this.listeners.set(id, port);
        return p.resolve(port);
      }
      case FrameType.UDP_BOUND: {
        const p = this.take(id, 'udp');
        if (!p) return;
        const socket = new RelayedUdpSocket(this, id, decode.port(payload));
        this.udp.set(id, socket);
        return p.resolve(socket);
      }
      case FrameType.DATAGRAM: {
        const { remote, bytes } = decode.datagram(payload);
        return this.udp.get(id)?.deliver(Buffer.from(bytes), remote);
      }
      case FrameType.UDP_ERROR: {
        const e = decode.error(payload);
        return this.udp.get(id)?.fail(remoteError(e, 'UDP'), false);
      }
      default:
        throw new ProtocolError(`frame type ${type} is not sent by a server`);
    }
  }

  // ---- internals --------------------------------------------------------------------------------

  /** A new request id, or undefined (and `reject` called) when none can be made now. */
  private request(kind: Pending['kind'], target: Endpoint | undefined, resolve: (v: unknown) => void, reject: (e: Error) => void): number | undefined {
    if (this.closedWith !== undefined) {
      reject(Object.assign(new Error(`the tunnel connection was lost (${this.closedWith})`), { code: 'ENETUNREACH' }));
      return undefined;
    }
    if (this.pending.size >= MAX_PENDING) {
      reject(Object.assign(new Error('too many requests waiting for the tunnel server'), { code: 'EAGAIN' }));
      return undefined;
    }
    const id = this.nextId;
    this.nextId = (this.nextId + 2) >>> 0 || 1;
    this.pending.set(id, { kind, ...(target ? { target } : {}), resolve, reject });
    return id;
  }

  /** The pending request `id` of `kind`, removed; undefined when there is none (it was aborted). */
  private take(id: number, kind: Pending['kind']): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    if (p.kind !== kind) throw new ProtocolError(`an answer of the wrong kind for request ${id}`);
    this.pending.delete(id);
    return p;
  }

  private connected(id: number, payload: Buffer): void {
    const p = this.take(id, 'connect');
    if (!p) return;
    const { localPort, window } = decode.connected(payload);
    const t = new RelayedTransport(this, id, { host: p.target!.host, port: p.target!.port, family: 6 }, this.address, localPort, window, CLIENT_WINDOW);
    this.streams.set(id, t);
    p.resolve(t);
  }

  private accepted(id: number, payload: Buffer): void {
    if (id % 2 !== 0 || this.streams.has(id)) throw new ProtocolError(`ACCEPT with stream id ${id}`);
    const { localPort, remote, window } = decode.accept(payload);
    const listening = [...this.listeners.values()].includes(localPort);
    if (!listening || this.streams.size >= MAX_STREAMS) {
      this.mux.send(encode.reset(id, 'ECONNREFUSED', listening ? 'too many streams' : 'not listening on that port'));
      return;
    }
    const t = new RelayedTransport(this, id, { host: remote.host, port: remote.port, family: 6 }, this.address, localPort, window, CLIENT_WINDOW);
    this.streams.set(id, t);
    this.mux.send(encode.window(id, CLIENT_WINDOW));
    this.events.accept(t);
  }

  private reset(id: number, e: RemoteError): void {
    const stream = this.streams.get(id);
    if (stream) return stream.remoteReset(e);
    const p = this.pending.get(id);
    if (p) {
      this.pending.delete(id);
      const what = p.kind === 'connect' ? `connect to [${p.target!.host}]:${p.target!.port}` : p.kind === 'listen' ? 'listen' : 'UDP socket';
      return p.reject(remoteError(e, what));
    }
    const socket = this.udp.get(id);
    if (socket) {
      this.udp.delete(id);
      return socket.fail(remoteError(e, 'UDP socket closed'), true);
    }
    this.listeners.delete(id);
  }

  private lost(reason: string): void {
    this.closedWith = reason;
    for (const s of [...this.streams.values()]) s.lost(reason);
    this.streams.clear();
    const err = () => Object.assign(new Error(`the tunnel connection was lost (${reason})`), { code: 'ENETUNREACH' });
    for (const p of this.pending.values()) p.reject(err());
    this.pending.clear();
    for (const s of this.udp.values()) s.fail(err(), true);
    this.udp.clear();
    this.listeners.clear();
  }
}
