/**
 * The engine: one peer id, the dual-stack listeners, the hashing pool, and the torrents. It
 * routes incoming connections to the torrent their handshake names.
 */
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Family } from '../net/address.js';
import { DualStackListener, type Listening } from '../net/listeners.js';
import type { Metainfo } from '../metainfo/types.js';
import { HashPool } from '../storage/hash-pool.js';
import { PeerWire } from '../wire/peer-wire.js';
import { OwnAddresses } from './own-addresses.js';
import { CLIENT_NAME, PEER_ID_PREFIX } from '../version.js';
import { TorrentSession, type TorrentSessionOptions } from './torrent-session.js';
import type { AnnounceIpPolicy } from '../tracker/session.js';
import { canonicalIp } from '../net/address.js';

const MAX_HANDSHAKING = 256;

export interface ClientOptions {
  port: number;
  ipv4: boolean;
  ipv6: boolean;
  stateDir: string;
  /** Bind outgoing connections of a family to this local address (the tunnel's address). */
  localAddress?: Partial<Record<Family, string>>;
  maxPeersPerTorrent?: number;
  /** Tracker announces: policy for ipv4=/ipv6=, extra tracker tiers; undefined turns trackers off. */
  trackers?: { announceIp: AnnounceIpPolicy; extraTiers?: string[][] };
}

export class Client extends EventEmitter {
  readonly peerId = Buffer.concat([Buffer.from(PEER_ID_PREFIX, 'latin1'), randomBytes(12)]);
  readonly hashPool = new HashPool();
  readonly ownAddresses = new OwnAddresses();
  private readonly listener = new DualStackListener((s) => this.onIncoming(s));
  private readonly torrents = new Map<string, TorrentSession>();
  private readonly handshaking = new Set<PeerWire>();
  /** Local address per family for outgoing connections; shared by reference with every swarm. */
  readonly localAddress: Partial<Record<Family, string>>;

  constructor(readonly opts: ClientOptions) {
    super();
    this.localAddress = { ...opts.localAddress };
  }

  get port(): number {
    return this.listener.port;
  }

  listen(): Promise<Listening[]> {
    return this.listener.listen({ port: this.opts.port, ipv4: this.opts.ipv4, ipv6: this.opts.ipv6 });
  }

  addTorrent(meta: Metainfo, dir: string, opts: Pick<TorrentSessionOptions, 'writable'>): TorrentSession {
    if (this.torrents.has(meta.infoHashHex)) throw new Error(`torrent ${meta.infoHashHex} is already running`);
    const t = new TorrentSession(meta, dir, {
      ...opts,
      stateDir: this.opts.stateDir,
      hashPool: this.hashPool,
      swarm: {
        peerId: this.peerId,
        clientName: CLIENT_NAME,
        port: () => this.port,
        ownAddresses: () => this.ownAddresses.get(),
        families: { 4: this.opts.ipv4, 6: this.opts.ipv6 },
        localAddress: this.localAddress,
        maxPeers: this.opts.maxPeersPerTorrent,
      },
      trackers: this.opts.trackers && { ...this.opts.trackers, isSelf: (host, port) => this.isSelf(host, port) },
    });
    this.torrents.set(meta.infoHashHex, t);
    return t;
  }

  /** Our addresses changed (a tunnel came up): tell the trackers soon instead of at the next interval. */
  announceSoon(): void {
    for (const t of this.torrents.values()) t.trackers?.requestMorePeers();
  }

  /** Our addresses changed: peers that could not be reached (no IPv6 route yet) are dialed again now. */
  redialFailedPeers(): void {
    for (const t of this.torrents.values()) t.swarm?.redialFailed();
  }

  /** Whether an address is one of our own listeners (trackers hand us back to ourselves). */
  isSelf(host: string, port: number): boolean {
    if (port !== this.port) return false;
    const h = canonicalIp(host);
    if (!h) return false;
    const own = this.ownAddresses.get();
    if (h === own[4] || h === own[6]) return true;
    return Object.values(networkInterfaces()).some((list) => list?.some((a) => canonicalIp(a.address) === h));
  }

  async close(): Promise<void> {
    for (const w of this.handshaking) w.close('shutting down');
    await this.listener.close();
    await Promise.all([...this.torrents.values()].map((t) => t.stop()));
    this.torrents.clear();
    await this.hashPool.close();
  }

  private onIncoming(socket: Socket): void {
    // Connections that have not said which torrent they want cost a descriptor each: bounded, so
    // a flood of idle connections cannot starve our own files of descriptors.
    if (this.handshaking.size >= MAX_HANDSHAKING) {
      socket.destroy();
      return;
    }
    const wire = new PeerWire(socket, false);
    this.handshaking.add(wire);
    wire.attach({
      onHandshake: (h) => {
        this.handshaking.delete(wire);
        const t = this.torrents.get(h.infoHash.toString('hex'));
        return !!t?.swarm && t.swarm.acceptIncoming(wire, h);
      },
      onMessage: () => {},
      onClose: () => this.handshaking.delete(wire),
    });
  }
}
