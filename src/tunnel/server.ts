/**
 * The tunnel server: accepts clients over TCP, gives each a /64 of its range, and routes IPv6
 * between them and the host's network (or, in the stream mode, terminates it for them).
 *
 * Unlike the original (one TUN device per client, 16 at most) it uses ONE device for the whole
 * range, with `route <range> dev <tun>` in the kernel and the choice of client made here, by
 * the destination's /64. Per client it enforces: one live lease per Id, a source address
 * inside the client's own /64 (no spoofing), and optional byte and packet rate limits.
 *
 * Clients that agree on offload (offload.ts) are served by a second device, `<ifname>-o`,
 * opened with offload on, and a route `<their /64> dev <ifname>-o` while they are connected:
 * the kernel then hands their traffic over in 64 KiB TCP segments, while the original's clients
 * keep getting finished, MTU-sized packets from the first device.
 *
 * Clients that ask for the stream mode (no TUN device of their own, so no root) get their
 * address, prefix::1, configured on the first device for as long as they are connected, and
 * a relay (stream/relay.ts) that dials, listens and binds UDP there on their behalf.
 */
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { hostKey, unmapIp } from '../net/address.js';
import { FairSlots } from '../net/fair-slots.js';
import { formatHostPort, type HostPort } from '../net/hostport.js';
import { errorMessage } from '../util/errors.js';
import type { AssignmentStore } from './assignments.js';
import { destinationOf, isIpv6Packet, sourceOf } from './framer.js';
import { encodeReply, HANDSHAKE_MAX_BYTES, HANDSHAKE_TIMEOUT_MS, parseHello, readHandshake } from './handshake.js';
import { addRoute6, IpBatcher, replaceLocalAddress6, setLinkUp } from './iproute.js';
import { TunnelLink, tuneTunnelSocket } from './link.js';
import { segmentCount, type OffloadHeader } from './offload.js';
import { firstHost, key64, type Prefix } from './prefix.js';
import { DEFAULT_RELAY_LIMITS, Relay, type RelayCounters, type RelayLimits } from './stream/relay.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { TokenPolicy } from './tokens.js';
import { checkIfname, checkMtu, TunDevice } from './tun.js';

export const DEFAULT_SERVER_IFNAME = 'sixsrv0';
/** The offload device is named after the main one plus this, so the main name has 13 characters at most. */
const OFFLOAD_IFNAME_SUFFIX = '-o';
export const SERVER_IFNAME_MAX = 15 - OFFLOAD_IFNAME_SUFFIX.length;
export const DEFAULT_TUNNEL_PORT = 14629;
export const DEFAULT_MAX_CLIENTS = 1024;
/**
 * Connections still in their handshake (10 s at most), in total and per source host (an IPv4
 * address or IPv6 /64). A host at its share loses its own oldest unfinished handshake to a new
 * one; when all are taken, the host holding the most loses its oldest. Silent connections from
 * one host thus never keep another host's client from its tunnel.
 */
const MAX_PENDING_HANDSHAKES = 256;
const MAX_PENDING_PER_HOST = 16;
/** Ids one source host may bring without a token, by default (0: no cap). */
export const DEFAULT_IDS_PER_ADDRESS = 16;
/**
 * A refusal is answered after this delay: the original client reconnects as soon as the server
 * closes, so without it a refused original client would retry once per round trip.
 */
const REFUSAL_DELAY_MS = 1000;
/** How long a refused client gets to read its {"Error": ...} before the socket is destroyed. */
const REFUSAL_LINGER_MS = 1000;
/** A byte bucket must hold at least one largest packet, or such packets could never pass. */
const MIN_BYTE_BURST = 40 + 65535;

export interface TunnelServerOptions {
  listen: HostPort;
  store: AssignmentStore;
  tokens?: TokenPolicy;
  maxClients?: number;
  /** Per client and direction, bytes per second; unlimited when absent. */
  clientRate?: number;
  /** Per client and direction, packets per second; unlimited when absent. */
  clientPps?: number;
  mtu?: number;
  ifname?: string;
  /** Offer segmentation offload to clients that ask (default true). */
  offload?: boolean;
  /** Serve the stream mode to clients that ask (default true). */
  streams?: boolean;
  /** Per-client limits of the stream mode (DEFAULT_RELAY_LIMITS for what is not given). */
  relayLimits?: Partial<RelayLimits>;
  handshakeTimeoutMs?: number;
  /**
   * Without tokens, the Ids one source host may hold (DEFAULT_IDS_PER_ADDRESS); a host at the
   * cap that brings a new Id gets the prefix of its own least recently seen Id. 0: no cap.
   */
  idsPerAddress?: number;
}

export interface LeaseCounters {
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** From the client with a source outside its /64. */
  droppedSpoofed: number;
  /** Over the client's byte or packet rate, either direction. */
  droppedRate: number;
  /** To the client, with its socket queue full. */
  droppedQueue: number;
  /** To the client, offloaded while its lease has no offload (only around a route change). */
  droppedOffload: number;
  /** From the client, refused by the kernel. */
  droppedInvalid: number;
}

/** Everything the server reports, one object per line with --json. */
export type ServerEvent =
  | { event: 'listening'; listen: string; ifname: string; offloadIfname: string | null; range: string; mtu: number; tokens: boolean; maxClients: number }
  | { event: 'warning'; message: string }
  | { event: 'session-up'; id: string; prefix: string; remote: string; mode: LeaseMode; offload: boolean }
  /** The range (or the assignment store) was full: `id` got the prefix of `fromId`, the Id seen least recently (null: before last-seen times were kept). */
  | { event: 'prefix-reused'; id: string; prefix: string; fromId: string; lastSeen: string | null }
  | { event: 'session-replaced'; id: string; prefix: string; oldRemote: string; remote: string; why: string }
  | ({ event: 'session-down'; id: string; prefix: string; remote: string; mode: LeaseMode; reason: string; seconds: number } & LeaseCounters & Partial<StreamCounters>)
  | { event: 'refused'; remote: string; id?: string; reason: string }
  /** droppedUnknownOffload: packets the offload device handed over with offload we do not carry. */
  | { event: 'stopped'; droppedNoSession: number; droppedUnknownOffload: number };

/** How a client's traffic travels: IPv6 packets (offload: in segments up to 64 KiB), or relayed streams. */
export type LeaseMode = 'packets' | 'offload' | 'streams';

/** What a stream-mode session did, in its session-down event. */
export type StreamCounters = Pick<RelayCounters, 'streamsOpened' | 'refused' | 'droppedDatagrams'>;

/** One connected client: its packets' link, or the relay of its streams. */
type Carrier = { link: TunnelLink; relay?: undefined } | { relay: Relay; link?: undefined };

type Lease = {
  id: string;
  prefix: Prefix;
  remote: string;
  mode: LeaseMode;
  since: number;
  /** All but what the link counts. */
  counters: Omit<LeaseCounters, 'droppedQueue' | 'droppedOffload'>;
  limitIn: Limiter | undefined;
  limitOut: Limiter | undefined;
  /** The mode of the lease of the same Id that replaced this one. */
  successor?: LeaseMode;
} & Carrier;

function countersOf(s: Lease): LeaseCounters & Partial<StreamCounters> {
  if (s.relay) {
    const r = s.relay.counters;
    return { ...s.counters, bytesIn: r.bytesFromClient, bytesOut: r.bytesToClient, droppedQueue: 0, droppedOffload: 0, streamsOpened: r.streamsOpened, refused: r.refused, droppedDatagrams: r.droppedDatagrams };
  }
  return { ...s.counters, droppedQueue: s.link.counters.droppedQueue, droppedOffload: s.link.counters.droppedOffload };
}

function closeLease(lease: Lease, reason: string): void {
  if (lease.relay) lease.relay.close(reason);
  else lease.link.close(reason);
}

/** Byte and packet buckets for one direction of one client. */
class Limiter {
  private readonly bytes: TokenBucket | undefined;
  private readonly packets: TokenBucket | undefined;
  constructor(rate: number | undefined, pps: number | undefined) {
    this.bytes = rate ? new TokenBucket(rate, Math.max(rate, MIN_BYTE_BURST)) : undefined;
    this.packets = pps ? new TokenBucket(pps) : undefined;
  }
  /** `packets`: an offloaded TCP segment counts as the packets it will be cut into. */
  allow(len: number, packets: number): boolean {
    return (this.packets?.take(packets) ?? true) && (this.bytes?.take(len) ?? true);
  }
}

export interface TunnelServerEvents {
  log: [ServerEvent];
  /** The TUN device failed while running: the server has stopped itself. */
  fatal: [Error];
}

export class TunnelServer extends EventEmitter<TunnelServerEvents> {
  private readonly maxClients: number;
  private readonly mtu: number;
  private readonly ifname: string;
  private tun: TunDevice | undefined;
  private offloadTun: TunDevice | undefined;
  /** Route and address changes for leases, in the order the leases came and went, batched. */
  private readonly ip = new IpBatcher();
  /** Prefixes whose prefix::1 is (or is about to be) configured here, for their stream-mode clients. */
  private readonly relayed = new Set<bigint>();
  /** The last address change queued per prefix, until it is done. */
  private readonly addressChanges = new Map<bigint, Promise<void>>();
  private readonly relayLimits: RelayLimits;
  private server: Server | undefined;
  private readonly byKey = new Map<bigint, Lease>();
  private readonly byId = new Map<string, Lease>();
  private readonly pending = new FairSlots<Socket>(MAX_PENDING_PER_HOST, MAX_PENDING_HANDSHAKES);
  /** Unfinished handshakes closed to make room for newer ones. */
  private readonly dropped = new WeakSet<Socket>();
  /** Packets from the kernel for a /64 with no live lease (or not IPv6 at all). */
  private droppedNoSession = 0;
  private stopped = false;

  constructor(private readonly opts: TunnelServerOptions) {
    super();
    this.maxClients = opts.maxClients ?? DEFAULT_MAX_CLIENTS;
    if (!Number.isInteger(this.maxClients) || this.maxClients < 1) throw new Error('max clients must be a positive integer');
    this.mtu = checkMtu(opts.mtu);
    this.ifname = opts.ifname ?? DEFAULT_SERVER_IFNAME;
    checkIfname(this.ifname);
    if (this.ifname.length > SERVER_IFNAME_MAX) {
      throw new Error(`the server's interface name has at most ${SERVER_IFNAME_MAX} characters (its offload device adds "${OFFLOAD_IFNAME_SUFFIX}")`);
    }
    if (opts.idsPerAddress !== undefined && !(Number.isInteger(opts.idsPerAddress) && opts.idsPerAddress >= 0)) {
      throw new Error('Ids per address must be a whole number (0: no cap)');
    }
    this.relayLimits = { ...DEFAULT_RELAY_LIMITS, ...opts.relayLimits, ...(opts.clientRate ? { rate: opts.clientRate } : {}) };
    for (const [name, v] of [['client rate', opts.clientRate], ['client packet rate', opts.clientPps]] as const) {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new Error(`${name} must be a positive number`);
    }
  }

  /**
   * Creates the device, routes the range to it, and listens. Rejects with what is missing
   * (root, tun module, addon, iproute2, the port); nothing stays configured then.
   */
  async start(): Promise<void> {
    const range = this.opts.store.range.prefix.text;
    const tun = TunDevice.open(this.ifname);
    try {
      await setLinkUp(tun.name, this.mtu);
      await addRoute6(range, tun.name);
      this.server = await this.listen();
    } catch (e) {
      tun.close();
      throw new Error(`cannot start the tunnel server: ${errorMessage(e)}`);
    }
    this.tun = tun;
    tun.on('packet', (p, h) => this.fromKernel(p, h));
    tun.on('error', (e) => void this.fail(e));
    tun.start();
    const offloadProblem = this.opts.offload === false ? undefined : await this.openOffloadDevice();
    const address = this.server.address();
    const listen = typeof address === 'object' && address ? formatHostPort(address.address, address.port) : String(address);
    this.log({
      event: 'listening',
      listen,
      ifname: tun.name,
      offloadIfname: this.offloadTun?.name ?? null,
      range,
      mtu: this.mtu,
      tokens: this.opts.tokens?.required ?? false,
      maxClients: this.maxClients,
    });
    if (offloadProblem) this.log({ event: 'warning', message: `serving every client without offload: ${offloadProblem}` });
    await this.warnIfNotForwarding();
  }

  /** Opens the offload device; what went wrong if it could not (the server then runs without). */
  private async openOffloadDevice(): Promise<string | undefined> {
    let tun: TunDevice | undefined;
    try {
      tun = TunDevice.open(this.ifname + OFFLOAD_IFNAME_SUFFIX, { vnetHdr: true });
      await setLinkUp(tun.name, this.mtu);
      tun.setOffload(true);
    } catch (e) {
      tun?.close();
      return errorMessage(e);
    }
    if (this.stopped) {
      tun.close();
      return undefined;
    }
    this.offloadTun = tun;
    tun.on('packet', (p, h) => this.fromKernel(p, h));
    tun.on('error', (e) => void this.fail(e));
    tun.start();
    return undefined;
  }

  private listen(): Promise<Server> {
    const { host, port } = this.opts.listen;
    return new Promise((resolve, reject) => {
      const server = createServer({ pauseOnConnect: true }, (s) => this.accept(s));
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(`cannot listen on ${formatHostPort(host, port)}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}`)),
      );
      server.listen({ host, port }, () => {
        server.removeAllListeners('error');
        server.on('error', (e) => this.log({ event: 'warning', message: `listener: ${e.message}` }));
        resolve(server);
      });
    });
  }

  /** Forwarding between the device and the rest of the network is the kernel's job. */
  private async warnIfNotForwarding(): Promise<void> {
    const on = await readFile('/proc/sys/net/ipv6/conf/all/forwarding', 'utf8').then((t) => t.trim() === '1', () => true);
    if (!on) {
      this.log({
        event: 'warning',
        message: 'IPv6 forwarding is off, so clients reach only this host: enable it with `sysctl -w net.ipv6.conf.all.forwarding=1`',
      });
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.server?.close();
    for (const s of [...this.pending.entries()]) s.destroy();
    for (const lease of [...this.byId.values()]) closeLease(lease, 'server stopped');
    const tun = this.tun;
    tun?.close();
    const offloadTun = this.offloadTun;
    offloadTun?.close();
    await this.opts.store.flush().catch((e: unknown) => this.log({ event: 'warning', message: `cannot save last-seen times: ${errorMessage(e)}` }));
    if (tun) this.log({ event: 'stopped', droppedNoSession: this.droppedNoSession, droppedUnknownOffload: offloadTun?.droppedUnknownOffload ?? 0 });
  }

  /** The device failed under us (e.g. removed by hand): nothing can be routed any more, so stop and say why. */
  private async fail(err: Error): Promise<void> {
    if (this.stopped) return;
    await this.stop();
    this.emit('fatal', err);
  }

  private log(e: ServerEvent): void {
    this.emit('log', e);
  }

  private accept(socket: Socket): void {
    const ip = unmapIp(socket.remoteAddress ?? '?');
    const remote = formatHostPort(ip, socket.remotePort ?? 0);
    socket.on('error', () => {}); // reported through the handshake or the link
    if (this.stopped) {
      socket.destroy();
      return;
    }
    tuneTunnelSocket(socket);
    const dropped = this.pending.admit(socket, ip);
    if (dropped) {
      this.dropped.add(dropped);
      dropped.destroy();
    }
    this.handshake(socket, ip, remote).finally(() => this.pending.release(socket));
  }

  private async handshake(socket: Socket, ip: string, remote: string): Promise<void> {
    let id: string | undefined;
    try {
      const { value, rest } = await readHandshake(socket, {
        maxBytes: HANDSHAKE_MAX_BYTES,
        timeoutMs: this.opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      });
      const hello = parseHello(value);
      id = hello.id;
      const verdict = this.opts.tokens?.check(hello.id, hello.token) ?? { ok: true };
      if (!verdict.ok) return await this.refuse(socket, remote, verdict.reason, id);
      if (this.full(hello.id)) return await this.refuse(socket, remote, `server full (${this.maxClients} clients)`, id);
      const cap = this.opts.tokens?.required ? 0 : (this.opts.idsPerAddress ?? DEFAULT_IDS_PER_ADDRESS);
      const { prefix, reused } = await this.opts.store.assign(hello.id, (other) => this.byId.has(other), cap ? { host: hostKey(ip), max: cap } : undefined);
      if (reused) {
        this.log({ event: 'prefix-reused', id: hello.id, prefix: prefix.text, fromId: reused.id, lastSeen: reused.seen ? new Date(reused.seen).toISOString() : null });
      }
      if (this.stopped || socket.destroyed) {
        socket.destroy();
        return;
      }
      // With the store full, a concurrent handshake may have taken this not-yet-connected Id's prefix.
      if (this.opts.store.get(hello.id)?.key !== prefix.key) return await this.refuse(socket, remote, 'the prefix was just given to another Id; try again', id);
      // Checked again: other handshakes may have completed while the assignment was stored.
      if (this.full(hello.id)) return await this.refuse(socket, remote, `server full (${this.maxClients} clients)`, id);
      const mode: LeaseMode = hello.streams && this.opts.streams !== false ? 'streams' : hello.offload && this.offloadTun ? 'offload' : 'packets';
      // prefix::1 is configured here exactly while a stream-mode client holds the prefix (else it belongs to the client's device).
      await this.relayAddress(prefix, mode === 'streams');
      if (this.stopped || socket.destroyed) {
        socket.destroy();
        return;
      }
      this.open(socket, remote, hello.id, prefix, rest, mode);
    } catch (e) {
      const why = this.dropped.has(socket) ? 'unfinished handshake dropped to make room: its host had the most (or its share) waiting' : errorMessage(e);
      await this.refuse(socket, remote, why, id);
    }
  }

  /** No room for `id` (a returning Id replaces its own lease, so it always fits). */
  private full(id: string): boolean {
    return !this.byId.has(id) && this.byId.size >= this.maxClients;
  }

  /** Tells the client why (the original client just reconnects on it), then closes. */
  private async refuse(socket: Socket, remote: string, reason: string, id?: string): Promise<void> {
    this.log({ event: 'refused', remote, ...(id !== undefined ? { id } : {}), reason });
    // Still counted as pending meanwhile, so refused clients cannot pile up without bound.
    await new Promise((resolve) => setTimeout(resolve, REFUSAL_DELAY_MS).unref());
    if (socket.destroyed) return;
    socket.end(encodeReply({ kind: 'error', message: reason }));
    setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
  }

  private open(socket: Socket, remote: string, id: string, prefix: Prefix, rest: Buffer, mode: LeaseMode): void {
    const old = this.byId.get(id);
    if (old) {
      // One lease per Id, and the newcomer wins: the usual cause is the same client coming
      // back after a NAT or link timeout while its old connection still looks alive here.
      this.log({
        event: 'session-replaced',
        id,
        prefix: prefix.text,
        oldRemote: old.remote,
        remote,
        why: 'a reconnecting client (e.g. after a NAT timeout) replaces its stale lease',
      });
      old.successor = mode;
      closeLease(old, 'replaced by a new lease of the same Id');
    }
    const offload = mode === 'offload';
    socket.write(encodeReply({ kind: 'prefix', prefix, offload, streams: mode === 'streams' }));
    const carrier: Carrier = mode === 'streams' ? { relay: new Relay(socket, rest, firstHost(prefix), this.relayLimits) } : { link: new TunnelLink(socket, rest, { offload }) };
    const lease: Lease = {
      id,
      prefix,
      remote,
      mode,
      since: Date.now(),
      counters: { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, droppedSpoofed: 0, droppedRate: 0, droppedInvalid: 0 },
      limitIn: mode === 'streams' ? undefined : this.limiter(),
      limitOut: mode === 'streams' ? undefined : this.limiter(),
      ...carrier,
    };
    this.byId.set(id, lease);
    this.byKey.set(prefix.key, lease);
    if (lease.relay) {
      lease.relay.on('close', (reason) => this.closed(lease, reason));
    } else {
      lease.link.on('packet', (p, h) => this.fromClient(lease, p, h));
      lease.link.on('close', (reason) => this.closed(lease, reason));
    }
    // Until the route is in, its packets still come (finished) from the main device: no loss.
    if (offload) this.changeRoute(prefix, 'replace');
    this.log({ event: 'session-up', id, prefix: prefix.text, remote, mode, offload });
    if (lease.relay) lease.relay.start();
    else lease.link.start();
  }

  /**
   * Configures (or removes) prefix::1 here, after the changes queued before; resolves once done.
   * Configuring it can fail (the client is then refused); removing it only warns.
   */
  private relayAddress(prefix: Prefix, on: boolean): Promise<void> {
    const dev = this.tun?.name;
    if (!dev) return Promise.resolve();
    // Already (about to be) so: wait for that change, as the lease that asked for it does.
    if (this.relayed.has(prefix.key) === on) return this.addressChanges.get(prefix.key) ?? Promise.resolve();
    if (on) this.relayed.add(prefix.key);
    else this.relayed.delete(prefix.key);
    const cidr = `${firstHost(prefix)}/128`;
    const change = (on ? replaceLocalAddress6(this.ip, dev, cidr) : this.ip.run(['addr', 'del', cidr, 'dev', dev])).then(
      () => {},
      (e: unknown) => {
        if (!on) {
          if (!this.stopped) this.log({ event: 'warning', message: `address ${cidr}: ${errorMessage(e)}` });
          return;
        }
        this.relayed.delete(prefix.key);
        throw new Error(`cannot configure ${cidr} for the stream mode: ${errorMessage(e)}`);
      },
    );
    this.addressChanges.set(prefix.key, change);
    const forget = () => {
      if (this.addressChanges.get(prefix.key) === change) this.addressChanges.delete(prefix.key);
    };
    change.then(forget, forget);
    return change;
  }

  /** Queues a route change for `prefix` on the offload device; a failure is a warning. */
  private changeRoute(prefix: Prefix, op: 'replace' | 'del'): void {
    const dev = this.offloadTun?.name;
    if (!dev) return;
    this.ip.run(['route', op, prefix.text, 'dev', dev]).catch((e: unknown) => {
      if (!this.stopped) this.log({ event: 'warning', message: `route for ${prefix.text}: ${errorMessage(e)}` });
    });
  }

  private limiter(): Limiter | undefined {
    const { clientRate, clientPps } = this.opts;
    return clientRate || clientPps ? new Limiter(clientRate, clientPps) : undefined;
  }

  private closed(lease: Lease, reason: string): void {
    if (this.byId.get(lease.id) === lease) this.byId.delete(lease.id);
    this.opts.store.seen(lease.id);
    if (this.byKey.get(lease.prefix.key) === lease) {
      this.byKey.delete(lease.prefix.key);
      // Gone with the device when the server stops.
      if (lease.mode === 'offload' && !this.stopped) this.changeRoute(lease.prefix, 'del');
      // A stream-mode successor keeps the address (the handshake configured it already).
      if (lease.mode === 'streams' && lease.successor !== 'streams' && !this.stopped) void this.relayAddress(lease.prefix, false);
    }
    this.log({
      event: 'session-down',
      id: lease.id,
      prefix: lease.prefix.text,
      remote: lease.remote,
      mode: lease.mode,
      reason,
      seconds: Math.round((Date.now() - lease.since) / 1000),
      ...countersOf(lease),
    });
  }

  /** A packet from a client: only from its own /64, within its rate, into the kernel. */
  private fromClient(lease: Lease, packet: Buffer, header: OffloadHeader): void {
    const c = lease.counters;
    if (key64(sourceOf(packet)) !== lease.prefix.key) {
      c.droppedSpoofed++;
      return;
    }
    if (lease.limitIn && !lease.limitIn.allow(packet.length, segmentCount(header, packet))) {
      c.droppedRate++;
      return;
    }
    if (!(lease.mode === 'offload' ? this.offloadTun : this.tun)?.write(packet, header)) {
      c.droppedInvalid++;
      return;
    }
    c.packetsIn++;
    c.bytesIn += packet.length;
  }

  /** A packet the kernel routed into the range: to the client owning the destination's /64. */
  private fromKernel(packet: Buffer, header: OffloadHeader): void {
    const lease = isIpv6Packet(packet) ? this.byKey.get(key64(destinationOf(packet))) : undefined;
    // A stream-mode client has no packets: the kernel answers for its address, the rest of its /64 goes nowhere.
    if (!lease?.link) {
      this.droppedNoSession++;
      return;
    }
    const c = lease.counters;
    if (lease.limitOut && !lease.limitOut.allow(packet.length, segmentCount(header, packet))) {
      c.droppedRate++;
      return;
    }
    if (!lease.link.send(packet, header)) return; // counted by the link
    c.packetsOut++;
    c.bytesOut += packet.length;
  }
}
