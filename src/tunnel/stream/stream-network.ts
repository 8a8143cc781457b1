/**
 * The tunnel's stream mode as the engine's Network for IPv6: peers dialed and accepted, HTTP and
 * UDP trackers, and the UDP socket on our port (uTP) all run over relays the tunnel server holds
 * at our address in its prefix; no socket of this host carries IPv6, so neither root nor a TUN
 * device is needed. Composed with the kernel's network for IPv4 (transport/by-family.ts).
 *
 * It outlives the tunnel's sessions: what the engine set up (the listening port, the UDP sockets
 * on our port) is set up again on each new session. While the tunnel is down, dials and flows
 * wait for the next session, as a SYN through the TUN device would be retransmitted until the
 * tunnel is back (within their own timeout, else ENETUNREACH); datagrams are dropped.
 */
import { Duplex } from 'node:stream';
import type { Family } from '../../net/address.js';
import { DatagramRoutes, type DatagramChannel, type DatagramFlow, type DatagramHandler, type DatagramKind, type DatagramSource } from '../../transport/datagram.js';
import { checkOnly, type DialOneOptions, type DialTarget, type Listening, type ListenOptions, type Network } from '../../transport/network.js';
import type { Transport } from '../../transport/transport.js';
import { errorMessage } from '../../util/errors.js';
import type { ClientRelay, RelayedUdpSocket } from './client-relay.js';
import type { RelayedTransport } from './relayed-transport.js';

/** Ports picked for `listen({port: 0})` come from the top of the range, clear of the kernel's ephemeral ports (32768-60999). */
const PICK_FROM = 61000;
const PICK_TO = 65535;
/** How long a UDP flow (a tracker's) waits for the tunnel to come back. */
const FLOW_WAIT_MS = 10_000;

function down(what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${what}: IPv6 goes through the tunnel, which is not connected (reconnecting)`), { code: 'ENETUNREACH' });
}

function onlyIpv6(family: Family, what: string): void {
  if (family !== 6) throw new Error(`the tunnel's stream mode carries IPv6 only, not ${what} over IPv${family}`);
}

/** The UDP socket on one port of our address: kept across sessions, bound again on each. */
class RelayedDatagramChannel implements DatagramChannel {
  readonly family = 6 as const;
  private readonly routes = new DatagramRoutes();
  private readonly errorHandlers: Array<(e: Error) => void> = [];
  private socket: RelayedUdpSocket | undefined;

  constructor(
    private readonly network: TunnelStreamNetwork,
    readonly port: number,
  ) {}

  address(): DatagramSource {
    return { host: this.network.address ?? '::', port: this.port };
  }

  send(b: Buffer, port: number, host: string, done?: (err: Error | null) => void): void {
    if (!this.socket || this.socket.closed) return done?.(down('UDP send'));
    const sent = this.socket.send(b, { host, port });
    done?.(sent ? null : Object.assign(new Error('the tunnel connection is backed up; datagram dropped'), { code: 'ENOBUFS' }));
  }

  receive(kind: DatagramKind, handler: DatagramHandler): () => void {
    return this.routes.set(kind, handler);
  }

  onError(handler: (e: Error) => void): void {
    this.errorHandlers.push(handler);
  }

  /** A new session: bind our port there. */
  async attach(relay: ClientRelay): Promise<void> {
    const socket = await relay.bindUdp(this.port);
    socket.message((b, from) => this.routes.deliver(b, from));
    socket.error((e) => this.errorHandlers.forEach((h) => h(e)));
    this.socket = socket;
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }
}

/** http.request's connection to a relayed stream: returned at once, connecting. */
class RelayedDuplex extends Duplex {
  private transport: RelayedTransport | undefined;
  private waiting: Array<() => void> = [];

  constructor(connecting: Promise<Transport>) {
    super();
    connecting.then(
      (t) => {
        const transport = t as RelayedTransport;
        if (this.destroyed) return transport.close();
        this.transport = transport;
        transport.start({
          data: (chunk, transient) => this.push(transient ? Buffer.from(chunk) : chunk),
          drain: () => {},
          close: (reason) => (transport.endedCleanly ? this.push(null) : this.destroy(Object.assign(new Error(reason), { code: 'ECONNRESET' }))),
        });
        for (const w of this.waiting.splice(0)) w();
        this.emit('connect');
      },
      (e: Error) => this.destroy(e),
    );
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (!this.transport) return void this.waiting.push(() => this._write(chunk, _enc, cb));
    this.transport.write(chunk);
    cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (!this.transport) return void this.waiting.push(() => this._final(cb));
    this.transport.finish();
    cb();
  }

  override _read(): void {}

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.transport?.close();
    cb(err);
  }
}

export class TunnelStreamNetwork implements Network {
  private relay: ClientRelay | undefined;
  /** Our address (prefix::1) once a session told us. */
  address: string | undefined;
  /** What comes in on each port we listen on (the engine's, and `tunnel up --forward`'s). */
  private readonly listens = new Map<number, (t: Transport) => void>();
  private readonly channels = new Map<number, RelayedDatagramChannel>();
  private closed = false;

  /** `warn`: something set up on a new session failed (the listener, a UDP socket): said, not fatal. */
  constructor(private readonly warn: (message: string) => void = () => {}) {}

  /** Waiting for the next session. */
  private waiters = new Set<{ ready: (relay: ClientRelay) => void; fail: (e: Error) => void }>();

  /** A session came up: listen and bind again there. */
  attach(relay: ClientRelay, address: string): void {
    this.relay = relay;
    this.address = address;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const w of waiters) w.ready(relay);
    if (this.closed) return;
    for (const port of this.listens.keys()) {
      relay.listen(port).catch((e: unknown) => {
        if (this.relay === relay) this.warn(`cannot listen on [${address}]:${port} through the tunnel: ${errorMessage(e)}`);
      });
    }
    for (const ch of this.channels.values()) {
      ch.attach(relay).catch((e: unknown) => {
        if (this.relay === relay) this.warn(`cannot bind UDP port ${ch.port} through the tunnel: ${errorMessage(e)}`);
      });
    }
  }

  /** The session went (its streams went with it). */
  detach(): void {
    this.relay = undefined;
    for (const ch of this.channels.values()) ch.close();
  }

  /** @internal for the relay: a stream came in on our port. */
  incoming(t: RelayedTransport): void {
    const onStream = this.closed ? undefined : this.listens.get(t.localPort);
    if (!onStream) return t.close();
    onStream(t);
  }

  /** The session, now or once the tunnel is back; rejects when `signal` aborts first (or the network closes). */
  private session(signal: AbortSignal, what: string): Promise<ClientRelay> {
    if (this.closed) return Promise.reject(new Error('network closed'));
    if (this.relay) return Promise.resolve(this.relay);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiters.delete(waiter);
        reject(down(what));
      };
      const waiter = {
        ready: (relay: ClientRelay) => {
          signal.removeEventListener('abort', onAbort);
          resolve(relay);
        },
        fail: (e: Error) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  async dial(target: DialTarget, opts: DialOneOptions): Promise<Transport> {
    checkOnly('tcp', opts);
    const relay = await this.session(opts.signal, `connect to [${target.host}]:${target.port}`);
    return relay.connect(target, opts.signal);
  }

  async listen(opts: ListenOptions, onStream: (t: Transport) => void): Promise<Listening[]> {
    if (!opts.ipv6) return [];
    const port = opts.port || PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM + 1));
    if (this.listens.has(port)) throw Object.assign(new Error(`port ${port} is already in use`), { code: 'EADDRINUSE' });
    this.listens.set(port, onStream);
    const relay = this.relay;
    // While the tunnel is down the port is ours all the same: the listener comes with the next session.
    if (relay) await relay.listen(port).catch((e: unknown) => this.warn(`cannot listen on port ${port} through the tunnel: ${errorMessage(e)}`));
    return [{ family: 6, address: this.address ?? '::', port }];
  }

  listening(): Listening[] {
    return [...this.listens.keys()].map((port) => ({ family: 6, address: this.address ?? '::', port }));
  }

  async datagrams(family: Family, port?: number): Promise<DatagramChannel> {
    onlyIpv6(family, 'UDP');
    const at = port ?? this.listens.keys().next().value;
    if (at === undefined) throw new Error('not listening over IPv6');
    let ch = this.channels.get(at);
    if (!ch) {
      ch = new RelayedDatagramChannel(this, at);
      this.channels.set(at, ch);
      if (this.relay) await ch.attach(this.relay).catch((e: unknown) => this.warn(`cannot bind UDP port ${at} through the tunnel: ${errorMessage(e)}`));
    }
    return ch;
  }

  async openFlow(family: Family, host: string, port: number): Promise<DatagramFlow> {
    onlyIpv6(family, 'UDP');
    const relay = await this.session(AbortSignal.timeout(FLOW_WAIT_MS), `UDP to [${host}]:${port}`);
    const socket = await relay.bindUdp(0, { host, port });
    return {
      send: (b, done) => done?.(socket.send(b, { host, port }) ? null : down('UDP send')),
      onMessage: (h) => socket.message((b) => h(b)),
      onError: (h) => socket.error(h),
      close: () => socket.close(),
    };
  }

  openStream(target: DialTarget & { family: Family }): Duplex {
    onlyIpv6(target.family, 'HTTP');
    // Its owner's timeout destroys the stream: the dial goes with it.
    const abort = new AbortController();
    const duplex = new RelayedDuplex(this.dial(target, { signal: abort.signal }));
    duplex.once('close', () => abort.abort());
    return duplex;
  }

  /** Every stream leaves from the tunnel's address already. */
  setLocalAddress(): void {}

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters) w.fail(new Error('network closed'));
    this.waiters.clear();
    for (const port of this.listens.keys()) this.relay?.unlisten(port);
    for (const ch of this.channels.values()) ch.close();
    this.channels.clear();
  }
}
