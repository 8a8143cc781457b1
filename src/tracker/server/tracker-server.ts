/**
 * The built-in tracker: HTTP and UDP (BEP 15) on every bind address, both families, one shared
 * store. With port 0 every socket gets the same (first free) port, so one URL per family works.
 * A wildcard UDP bind is a socket per address of the host, kept in step with its addresses, so
 * that every reply leaves from the address it was asked on (see udp-addresses.ts).
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { canonicalIp, familyOf, type Family } from '../../net/address.js';
import { HTTP_SLOTS, HttpConnections } from './http-connections.js';
import { httpHandler } from './http-handler.js';
import type { StoreLimits } from './swarm-store.js';
import { TrackerCore, type ServerAnnounceEvent } from './tracker-core.js';
import { UdpTrackerHandler } from './udp-handler.js';
import { udpAddresses, WILDCARD } from './udp-addresses.js';

export type { ServerAnnounceEvent } from './tracker-core.js';

export interface TrackerServerOptions {
  /** 0 (default) picks a free port, the same for every socket. */
  port?: number;
  /** Neither given: both. */
  http?: boolean;
  udp?: boolean;
  /** IP literals; default 0.0.0.0 and :: (IPv6 sockets are always ipv6Only). */
  bind?: string[];
  honorIpParams?: boolean;
  /** Seconds; default 1800. Peers expire after twice this. */
  intervalSec?: number;
  limits?: Partial<Omit<StoreLimits, 'peerTtlMs'>>;
}

export interface BoundSocket {
  type: 'listening';
  transport: 'http' | 'udp';
  address: string;
  family: Family;
  port: number;
}

export interface BadRequestEvent {
  type: 'bad-request';
  transport: 'http' | 'udp';
  source: string;
  reason: string;
}

export interface TrackerServerEvents {
  announce: [ev: ServerAnnounceEvent];
  'bad-request': [ev: BadRequestEvent];
  /** A UDP socket of a wildcard bind, opened after listen() for an address the host gained. */
  listening: [socket: BoundSocket];
  /** A UDP socket of a wildcard bind, closed because the host lost its address. */
  closed: [socket: BoundSocket];
  /** An address the host gained that the tracker cannot answer on (reported once per address). */
  warning: [message: string];
}

type Closer = () => Promise<void>;

const PORT_ATTEMPTS = 10;
/** How often the addresses behind a wildcard UDP bind are looked at again (getifaddrs: cheap). */
const RESCAN_MS = 5_000;

export class TrackerServer extends EventEmitter<TrackerServerEvents> {
  readonly bound: BoundSocket[] = [];
  readonly core: TrackerCore;
  private readonly closers: Closer[] = [];
  private readonly udp: UdpTrackerHandler;
  private readonly http: HttpConnections;
  private sweepTimer: NodeJS.Timeout | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private readonly binds: { address: string; family: Family }[];
  /** UDP sockets by the address they are bound to. */
  private readonly udpSockets = new Map<string, Closer>();
  /** Families whose UDP side is a wildcard bind: a socket per address of the host. */
  private readonly udpEverywhere = new Set<Family>();
  /** Addresses the rescan could not bind, reported once. */
  private readonly unbindable = new Set<string>();

  constructor(private readonly opts: TrackerServerOptions = {}) {
    super();
    const intervalSec = opts.intervalSec ?? 1800;
    if (!Number.isInteger(intervalSec) || intervalSec < 1 || intervalSec > 86_400) throw new RangeError('interval must be 1-86400 seconds');
    this.binds = (opts.bind ?? ['0.0.0.0', '::']).map((raw) => {
      const text = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
      const family = familyOf(text);
      if (!family) throw new RangeError(`--bind needs an IP address, got "${raw}"`);
      return { address: canonicalIp(text)!, family };
    });
    const onBad = (transport: 'http' | 'udp', source: string, reason: string) =>
      this.emit('bad-request', { type: 'bad-request', transport, source, reason });
    this.core = new TrackerCore({ intervalSec, honorIpParams: opts.honorIpParams ?? false, ...(opts.limits ? { limits: opts.limits } : {}) }, (ev) =>
      this.emit('announce', ev),
    );
    this.udp = new UdpTrackerHandler(this.core, onBad);
    this.http = new HttpConnections(httpHandler(this.core, onBad), onBad);
  }

  /** Bind every socket; resolves to what was bound. Rejects (with nothing left open) when a bind fails. */
  async listen(): Promise<BoundSocket[]> {
    const wantHttp = this.opts.http ?? !this.opts.udp;
    const wantUdp = this.opts.udp ?? !this.opts.http;
    const requested = this.opts.port ?? 0;
    for (let attempt = 1; ; attempt++) {
      let port = requested;
      try {
        for (const b of this.binds) {
          if (wantHttp) port = await this.listenHttp(b.address, b.family, port);
          if (wantUdp) port = b.address === WILDCARD[b.family] ? await this.listenUdpEverywhere(b.family, port) : await this.listenUdp(b.address, b.family, port);
        }
        break;
      } catch (e) {
        await this.closeSockets();
        // Port 0: the port the first socket got may be taken on another address or protocol; pick again.
        if (requested !== 0 || (e as { code?: string }).code !== 'EADDRINUSE' || attempt >= PORT_ATTEMPTS) throw e;
      }
    }
    const sweepMs = Math.min(60_000, this.core.intervalSec * 1000);
    this.sweepTimer = setInterval(() => this.core.sweep(), sweepMs);
    this.sweepTimer.unref();
    if (this.udpEverywhere.size > 0) {
      this.rescanTimer = setInterval(() => void this.rescan(), RESCAN_MS);
      this.rescanTimer.unref();
    }
    return this.bound;
  }

  /** The port all sockets share. */
  get port(): number {
    return this.bound[0]?.port ?? 0;
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    clearInterval(this.rescanTimer);
    this.rescanTimer = undefined;
    this.http.close(); // its connections first: a listener closes only once they are gone
    await this.closeSockets();
  }

  private async closeSockets(): Promise<void> {
    const closers = [...this.closers.splice(0), ...this.udpSockets.values()];
    this.udpSockets.clear();
    this.bound.length = 0;
    await Promise.all(closers.map((c) => c()));
  }

  /** A UDP socket on every address of the family the host has now; an address that is not ready yet (IPv6 duplicate detection) is left to the rescan. */
  private async listenUdpEverywhere(family: Family, port: number): Promise<number> {
    this.udpEverywhere.add(family);
    for (const address of udpAddresses(family)) {
      if (this.udpSockets.has(address)) continue;
      try {
        port = await this.listenUdp(address, family, port);
      } catch (e) {
        if ((e as { code?: string }).code !== 'EADDRNOTAVAIL') throw e;
      }
    }
    return port;
  }

  /** Follow the host's addresses: a socket for each new one, on the tracker's port; close those of addresses gone. */
  private async rescan(): Promise<void> {
    const port = this.port;
    for (const family of this.udpEverywhere) {
      const now = new Set(udpAddresses(family));
      for (const b of this.bound.filter((x) => x.transport === 'udp' && x.family === family && !now.has(x.address))) {
        const close = this.udpSockets.get(b.address);
        this.udpSockets.delete(b.address);
        this.bound.splice(this.bound.indexOf(b), 1);
        await close?.();
        this.emit('closed', b);
      }
      for (const address of now) {
        if (!this.rescanTimer) return; // closed meanwhile
        if (this.udpSockets.has(address)) continue;
        try {
          await this.listenUdp(address, family, port);
          this.unbindable.delete(address);
          this.emit('listening', this.bound.at(-1)!);
        } catch (e) {
          if (this.unbindable.has(address) || (e as { code?: string }).code === 'EADDRNOTAVAIL') continue;
          this.unbindable.add(address);
          this.emit('warning', `cannot answer UDP on ${address} port ${port}, an address this host gained: ${(e as Error).message}`);
        }
      }
    }
  }

  private listenHttp(address: string, family: Family, port: number): Promise<number> {
    const server = net.createServer((socket) => this.http.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      // A long accept queue: newcomers are not to be refused in the kernel while FairSlots,
      // which drops the oldest waiting connection of the host holding the most, could admit them.
      server.listen({ host: address, port, ipv6Only: family === 6, backlog: HTTP_SLOTS.total }, () => {
        server.off('error', reject);
        server.on('error', () => undefined);
        this.closers.push(() => new Promise<void>((done) => server.close(() => done())));
        const bound = (server.address() as AddressInfo).port;
        this.bound.push({ type: 'listening', transport: 'http', address, family, port: bound });
        resolve(bound);
      });
    });
  }

  private listenUdp(address: string, family: Family, port: number): Promise<number> {
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
    return new Promise((resolve, reject) => {
      const onErr = (e: Error) => {
        socket.close();
        reject(e);
      };
      socket.once('error', onErr);
      socket.bind({ address, port, exclusive: true }, () => {
        socket.off('error', onErr);
        // A send error (e.g. ICMP from a vanished client) concerns one packet only.
        socket.on('error', () => undefined);
        socket.on('message', (msg, rinfo) => {
          try {
            this.udp.onMessage(socket, family, msg, rinfo);
          } catch (e) {
            // A bug must cost this one datagram, not the whole tracker.
            this.emit('bad-request', { type: 'bad-request', transport: 'udp', source: rinfo.address, reason: `internal error: ${(e as Error).message}` });
          }
        });
        this.udpSockets.set(address, () => new Promise<void>((done) => socket.close(() => done())));
        const bound = socket.address().port;
        this.bound.push({ type: 'listening', transport: 'udp', address, family, port: bound });
        resolve(bound);
      });
    });
  }
}
