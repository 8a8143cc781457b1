/**
 * The tunnel client: one TCP connection to a tunnel server, which gives us a /64. It keeps the
 * tunnel up on its own: after any loss it reconnects every 2 s and asks for (and normally gets
 * back) the same prefix. It runs in one of two modes:
 *
 * - TUN mode (root and /dev/net/tun): a TUN device whose IPv6 packets travel the connection;
 *   the device and its address stay while reconnecting. The engine binds to the address of the
 *   `up` event (prefix::1); it never needs to know more.
 * - stream mode (anyone): no device at all. The server terminates IPv6 TCP and UDP at prefix::1
 *   for us and relays them (stream/); the engine uses `network` for IPv6. Streams open when the
 *   connection drops close, as TCP through the device would.
 *
 * Routing, decided once at start:
 * - the host has no IPv6 default route: a default route through the tunnel (like the original
 *   client), so every IPv6 destination is reachable;
 * - it has one (native IPv6 elsewhere): only traffic FROM the tunnel prefix goes through the
 *   tunnel (a source rule and a default route in a table of our own). Native traffic keeps its
 *   path, and traffic bound to prefix::1 never leaves by the native uplink, where the ISP would
 *   drop it for its foreign source address.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { parseHostPort, formatHostPort, type HostPort } from '../net/hostport.js';
import { errorMessage } from '../util/errors.js';
import { destinationOf, isIpv6Packet, sourceOf } from './framer.js';
import { encodeHello, HandshakeError, parseReply, readHandshake } from './handshake.js';
import { defaultTunnelId, overlappingAddress } from './host.js';
import {
  addAddress6,
  addRoute6,
  addSourceRule6,
  delAddress6,
  delSourceRule6,
  hasDefaultRoute6,
  linkIndex,
  setLinkUp,
} from './iproute.js';
import { connectSharedRead, receive } from '../transport/kernel/shared-read.js';
import { connectSlabRead } from '../transport/kernel/slab-read.js';
import { TunnelLink, tuneTunnelSocket } from './link.js';
import type { OffloadHeader } from './offload.js';
import { firstHost, key64, type Prefix } from './prefix.js';
import { ClientRelay } from './stream/client-relay.js';
import { TunnelStreamNetwork } from './stream/stream-network.js';
import { checkIfname, checkMtu, TunDevice } from './tun.js';

export { chooseTunnelMode, type TunnelMode, type TunnelModeChoice } from './mode.js';
import type { TunnelMode } from './mode.js';

/** For `--tunnel auto`: start the tunnel only when this is false. */
export { hostHasGlobalIPv6 } from './host.js';

export const DEFAULT_CLIENT_IFNAME = 'sixtun0';
export const RECONNECT_MS = 2000;
/** Priority of the source rule (before the main table's 32766); its table is this + ifindex. */
const RULE_PRIORITY = 1100;
const TABLE_BASE = 26000;

export type TunnelState = 'idle' | 'connecting' | 'up' | 'down' | 'stopped' | 'failed';
export type TunnelRouting = 'default' | 'source';

export interface TunnelClientOptions {
  /** The server, `HOST:PORT` (IPv4, [IPv6] or a name). */
  server: string;
  /** Defaults to the MAC of the uplink (see defaultTunnelId). */
  id?: string;
  /** Sent as "Token" in the hello when set; servers without tokens ignore it. */
  token?: string;
  /** 1280..1400, default 1280. */
  mtu?: number;
  /** TUN device name, default `sixtun0`. */
  ifname?: string;
  /** Offer segmentation offload to the server (default true; see offload.ts). */
  offload?: boolean;
  /** TUN mode (default) or stream mode (no device: `network` carries IPv6). */
  mode?: TunnelMode;
  /** Why this mode runs, for the status (e.g. "no root: ..."). */
  modeReason?: string;
}

export interface TunnelUp {
  /** e.g. `2001:db8:100::/64` */
  prefix: string;
  /** prefix::1, configured on the TUN device: bind to it. */
  address: string;
}

export interface TunnelStatus {
  state: TunnelState;
  /** tun: a TUN device carries IPv6 packets; stream: the server relays our streams (no device, no root). */
  mode: TunnelMode;
  /** Why this mode runs. */
  modeReason: string;
  server: string;
  id: string | null;
  ifname: string;
  routing: TunnelRouting | null;
  /** Whether the current session carries offloaded (up to 64 KiB) packets; null while not up. */
  offload: boolean | null;
  prefix: string | null;
  address: string | null;
  /** Date.now() when the current session came up; null while not up. */
  connectedSince: number | null;
  /** Times the tunnel came back after being lost. */
  reconnects: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** Outgoing packets dropped: while disconnected, queue full, a source outside our prefix, or offload the tunnel does not carry. */
  droppedOut: number;
  /** Stream mode: relayed streams open now (null in TUN mode). */
  streams: number | null;
  /** Incoming packets dropped: addressed outside our /64, or refused by the kernel. */
  droppedIn: number;
  lastError: string | null;
}

export interface TunnelClientEvents {
  /** The tunnel is (again) usable; `prefix` differs from the last one only if the server changed it. */
  up: [TunnelUp];
  /** The connection was lost (or the client stopped); reconnection is automatic unless stopped. */
  down: [{ reason: string }];
  /** Any state change, with the new snapshot. */
  status: [TunnelStatus];
  /** Configuring the device failed while running: the client has stopped itself. */
  fatal: [Error];
}

export class TunnelClient extends EventEmitter<TunnelClientEvents> {
  private readonly target: HostPort;
  private readonly mtu: number;
  private readonly ifname: string;
  private id: string | null;
  private state: TunnelState = 'idle';
  private routing: TunnelRouting | null = null;
  private table = 0;
  private defaultRouteAdded = false;
  private tun: TunDevice | undefined;
  private socket: Socket | undefined;
  private link: TunnelLink | undefined;
  private prefix: Prefix | undefined;
  private ruleFor: Prefix | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastAttemptAt = 0;
  private everUp = false;
  private connectedSince: number | null = null;
  private lastError: string | null = null;
  private readonly counts = { reconnects: 0, bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, droppedOut: 0, droppedIn: 0 };
  readonly mode: TunnelMode;
  private readonly modeReason: string;
  /** Stream mode: the session's relay. */
  private relay: ClientRelay | undefined;
  /** Stream mode: the engine's Network for IPv6, across sessions (undefined in TUN mode). */
  readonly network: TunnelStreamNetwork | undefined;

  /** Throws on bad options (server address, MTU, interface name). */
  constructor(private readonly opts: TunnelClientOptions) {
    super();
    this.target = parseHostPort(opts.server, 'tunnel server');
    this.mtu = checkMtu(opts.mtu);
    this.ifname = opts.ifname ?? DEFAULT_CLIENT_IFNAME;
    checkIfname(this.ifname);
    this.id = opts.id ?? null;
    this.mode = opts.mode ?? 'tun';
    this.modeReason = opts.modeReason ?? (this.mode === 'tun' ? 'TUN mode asked for' : 'stream mode asked for');
    if (this.mode === 'stream') this.network = new TunnelStreamNetwork((message) => (this.lastError = message));
  }

  status(): TunnelStatus {
    const relayed = this.relay?.counters;
    return {
      state: this.state,
      mode: this.mode,
      modeReason: this.modeReason,
      server: formatHostPort(this.target.host, this.target.port),
      id: this.id,
      ifname: this.tun?.name ?? this.ifname,
      routing: this.routing,
      offload: this.link?.offload ?? null,
      prefix: this.prefix?.text ?? null,
      address: this.prefix ? firstHost(this.prefix) : null,
      connectedSince: this.connectedSince,
      ...this.counts,
      // In stream mode what crossed the connection, sessions before this one included.
      bytesIn: this.counts.bytesIn + (relayed?.bytesIn ?? 0),
      bytesOut: this.counts.bytesOut + (relayed?.bytesOut ?? 0),
      droppedOut: this.counts.droppedOut + (this.tun?.droppedUnknownOffload ?? 0),
      streams: this.mode === 'stream' ? (relayed?.streams ?? 0) : null,
      lastError: this.lastError,
    };
  }

  /**
   * Creates and configures the TUN device, then starts connecting (resolves without waiting for
   * the server: listen for `up`). Rejects with a message saying what is missing (root, the tun
   * module, the addon, iproute2); nothing stays configured then.
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new Error('a TunnelClient starts once');
    this.id ??= await defaultTunnelId();
    if (this.mode === 'stream') {
      // Nothing to configure: the server does the part that needs a kernel.
      if (!this.stopped) this.connect();
      return;
    }
    const otherDefault = await hasDefaultRoute6();
    if (this.stopped) return;
    const tun = TunDevice.open(this.ifname, { vnetHdr: this.opts.offload !== false });
    try {
      await setLinkUp(tun.name, this.mtu);
      this.routing = otherDefault ? 'source' : 'default';
      if (this.routing === 'source') this.table = TABLE_BASE + (await linkIndex(tun.name));
    } catch (e) {
      tun.close();
      throw new Error(`cannot configure the tunnel device ${tun.name}: ${errorMessage(e)}`);
    }
    if (this.stopped) {
      tun.close(); // stop() came while we were configuring
      return;
    }
    this.tun = tun;
    tun.on('packet', (p, h) => this.outgoing(p, h));
    tun.on('error', (e) => void this.fail(e));
    tun.start();
    this.connect();
  }

  /** Closes the connection, removes the device with its address and routes, and our rule. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'failed') return;
    const wasUp = this.state === 'up';
    this.state = 'stopped';
    clearTimeout(this.retryTimer);
    this.link?.close('stopped');
    this.relay?.close('stopped');
    await this.network?.close();
    this.socket?.destroy();
    this.link = undefined;
    this.socket = undefined;
    this.tun?.close();
    this.tun = undefined;
    this.connectedSince = null;
    await this.removeRule();
    if (wasUp) this.emit('down', { reason: 'stopped' });
    this.emit('status', this.status());
  }

  private get stopped(): boolean {
    return this.state === 'stopped' || this.state === 'failed';
  }

  private connect(): void {
    if (this.stopped) return;
    this.lastAttemptAt = Date.now();
    this.setState('connecting');
    // Large reads: in the stream mode into one shared buffer (the engine copies what it keeps, as
    // from its own sockets), in the TUN mode into slabs (packets are cut out of them without copies).
    const at = { host: this.target.host, port: this.target.port };
    const socket = this.mode === 'stream' ? connectSharedRead(at) : connectSlabRead(at);
    // The handshake reads 'data' events: until the relay takes over, chunks come as events, copied.
    if (this.mode === 'stream') receive(socket, (chunk, transient) => socket.emit('data', transient ? Buffer.from(chunk) : chunk));
    this.socket = socket;
    let connected = false;
    socket.on('error', () => {}); // reported through readHandshake / the link
    socket.once('connect', () => {
      connected = true;
      tuneTunnelSocket(socket);
      const token = this.opts.token !== undefined ? { token: this.opts.token } : {};
      const ask = this.mode === 'stream' ? { streams: true } : { offload: this.tun?.vnetHdr ?? false };
      socket.write(encodeHello({ id: this.id!, ...token, ...ask }));
    });
    readHandshake(socket)
      .then(async ({ value, rest }) => {
        if (this.socket !== socket) return;
        const reply = parseReply(value);
        if (reply.kind === 'error') throw new HandshakeError(`server refused the tunnel: ${reply.message}`);
        if (this.mode === 'stream') {
          if (!reply.streams) throw new HandshakeError(`the server does not offer the stream mode, which this host needs (${this.modeReason}): use a sixswarm tunnel-server, or run as root for the TUN mode`);
          this.prefix = reply.prefix;
          return this.attachRelay(socket, rest);
        }
        const clash = await overlappingAddress(reply.prefix, this.tun?.name ?? this.ifname);
        if (clash) throw new HandshakeError(`server sent ${reply.prefix.text}, which overlaps ${clash}; refusing it`);
        await this.configure(reply.prefix);
        if (this.socket !== socket || !this.tun) return;
        // Only when we asked: a server that claims it unasked gets the original framing.
        const offload = (reply.offload ?? false) && this.tun.vnetHdr;
        this.tun.setOffload(offload);
        this.attach(socket, rest, offload);
      })
      .catch((e: unknown) => {
        if (this.socket !== socket) return;
        const msg = errorMessage(e);
        this.lost(connected ? msg : `cannot connect to ${this.status().server}: ${msg.replace(/^connection failed during the handshake: /, '')}`);
      });
  }

  private attach(socket: Socket, rest: Buffer, offload: boolean): void {
    const link = new TunnelLink(socket, rest, { offload });
    this.link = link;
    const ours = this.prefix!.key;
    link.on('packet', (p, h) => {
      // Only traffic for our own /64 belongs here: anything else the kernel might forward on.
      if (isIpv6Packet(p) && key64(destinationOf(p)) === ours && this.tun?.write(p, h)) {
        this.counts.packetsIn++;
        this.counts.bytesIn += p.length;
      } else {
        this.counts.droppedIn++;
      }
    });
    link.on('close', (reason) => {
      if (this.link === link) this.lost(reason);
    });
    this.cameUp();
    link.start();
  }

  /** Stream mode: the session's relay, handed to the network. */
  private attachRelay(socket: Socket, rest: Buffer): void {
    const network = this.network!;
    const address = firstHost(this.prefix!);
    const relay = new ClientRelay(socket, rest, address, { accept: (t) => network.incoming(t) });
    // What crossed the last session's connection stays counted.
    const before = this.relay?.counters;
    if (before) {
      this.counts.bytesIn += before.bytesIn;
      this.counts.bytesOut += before.bytesOut;
    }
    this.relay = relay;
    relay.mux.on('close', (reason) => {
      if (this.relay !== relay) return;
      network.detach();
      this.lost(reason);
    });
    relay.start((take) => receive(socket, take));
    // Attached before `up` is told: the engine redials its peers at once on it.
    network.attach(relay, address);
    this.cameUp();
  }

  /** The connection carries traffic again: said once per session. */
  private cameUp(): void {
    this.connectedSince = Date.now();
    this.lastError = null;
    if (this.everUp) this.counts.reconnects++;
    this.everUp = true;
    this.setState('up');
    const prefix = this.prefix!;
    this.emit('up', { prefix: prefix.text, address: firstHost(prefix) });
  }

  /** Adds the address (and routes) for `prefix`; a changed prefix replaces the old address. */
  private async configure(prefix: Prefix): Promise<void> {
    if (this.prefix?.key === prefix.key) return;
    const tun = this.tun!;
    try {
      if (this.prefix) {
        await delAddress6(tun.name, `${firstHost(this.prefix)}/64`).catch(() => {});
        await this.removeRule();
      }
      this.prefix = prefix;
      await addAddress6(tun.name, `${firstHost(prefix)}/64`);
      if (this.routing === 'default') {
        if (!this.defaultRouteAdded) await addRoute6('default', tun.name, ['metric', '1024']);
        this.defaultRouteAdded = true;
      } else {
        if (!this.defaultRouteAdded) await addRoute6('default', tun.name, ['table', String(this.table)]);
        this.defaultRouteAdded = true;
        await addSourceRule6(prefix.text, this.table, RULE_PRIORITY);
        this.ruleFor = prefix;
      }
    } catch (e) {
      const err = new Error(`cannot configure the tunnel device ${tun.name}: ${errorMessage(e)}`);
      await this.fail(err);
      throw err;
    }
  }

  private async removeRule(): Promise<void> {
    const p = this.ruleFor;
    if (!p) return;
    this.ruleFor = undefined;
    await delSourceRule6(p.text, this.table, RULE_PRIORITY).catch(() => {});
  }

  /** Packets the host sends into the tunnel. */
  private outgoing(packet: Buffer, header: OffloadHeader): void {
    const link = this.link;
    const prefix = this.prefix;
    // Only our own prefix's traffic belongs in the tunnel (the server would drop the rest as
    // spoofed anyway): link-local router solicitations and MLD reports stay here.
    if (!link || !prefix || !isIpv6Packet(packet) || key64(sourceOf(packet)) !== prefix.key || !link.send(packet, header)) {
      this.counts.droppedOut++;
      return;
    }
    this.counts.packetsOut++;
    this.counts.bytesOut += packet.length;
  }

  private lost(reason: string): void {
    if (this.stopped) return;
    const wasUp = this.state === 'up';
    this.link = undefined;
    this.socket?.destroy();
    this.socket = undefined;
    this.connectedSince = null;
    this.lastError = reason;
    this.state = 'down';
    if (wasUp) this.emit('down', { reason });
    this.emit('status', this.status());
    // Attempts start at least RECONNECT_MS apart; a long-lived session that drops retries at once.
    const wait = Math.max(0, this.lastAttemptAt + RECONNECT_MS - Date.now());
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  private async fail(err: Error): Promise<void> {
    if (this.stopped) return;
    this.lastError = err.message;
    await this.stop();
    this.state = 'failed';
    this.emit('status', this.status());
    this.emit('fatal', err);
  }

  private setState(state: TunnelState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('status', this.status());
  }
}
