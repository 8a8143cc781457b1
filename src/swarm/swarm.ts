/**
 * One torrent's swarm: the connection half (connections.ts), which runs from the info hash
 * alone, and the transfer half (transfer.ts), attached once the metadata and the storage exist.
 * Bytes come in through PeerWire; verified pieces go out to TorrentStorage.
 */
import { EventEmitter } from 'node:events';
import type { Family } from '../net/address.js';
import type { OurPorts } from '../transport/advertised-ports.js';
import type { DialTarget } from '../transport/network.js';
import type { PieceStore } from '../storage/piece-store.js';
import { ExtensionRegistry } from '../wire/extensions.js';
import type { Handshaker } from '../wire/handshaker.js';
import type { PeerWire } from '../wire/peer-wire.js';
import { Connections } from './connections.js';
import type { SwarmEvent } from './events.js';
import type { PeerInfo } from './peer-info.js';
import { SwarmPlugins } from './plugins.js';
import type { PeerAddressHint, PeerSource } from './peer-pool.js';
import type { RateLimits } from './rate-limit.js';
import { Transfer } from './transfer.js';
import type { HashStats } from './hash-exchange.js';
import type { WebSeedInfo } from './web-seed.js';
import type { WebSeedOptions } from './web-seeds.js';
import { every } from '../util/ticker.js';

export type { SwarmEvent } from './events.js';

export interface SwarmOptions {
  peerId: Buffer;
  /** BEP 52: the torrent's v2 info hash cut to 20 bytes, when known from the start (see setV2Hash). */
  v2Hash?: Buffer;
  clientName: string;
  handshaker: Handshaker;
  /** Our ports: the advertised one of a peer's family goes in BEP 10 `p`. */
  ports: OurPorts;
  /** Our own addresses per family, for BEP 10 `ipv4`/`ipv6` (only global ones are sent). */
  ownAddresses(): Partial<Record<Family, string>>;
  families: { 4: boolean; 6: boolean };
  maxPeers?: number;
  uploadSlots?: number;
  /** Max concurrent outgoing connection attempts. */
  maxConnecting?: number;
  /** Largest block a peer may request from us. */
  maxRequestBytes?: number;
  /** Requests a peer may queue with us before it is disconnected for flooding. */
  maxQueuedRequests?: number;
  /** Convictions (certain hash-failure blame) before an IP is banned; see BanList. */
  banThreshold?: number;
  requestTimeoutMs?: number;
  /** This torrent's rate limits (under the client's). */
  limits?: RateLimits;
  /** Download pieces in order. */
  sequential?: boolean;
  /** Fetch from the torrent's web seeds (BEP 19, BEP 17) over this network; undefined: never. */
  webSeeds?: WebSeedOptions;
  /** The network speaks uTP: BEP 55 holepunches (uTP dials) can be made. */
  utp?: boolean;
}

export interface SwarmStats {
  peers: number;
  peers4: number;
  peers6: number;
  seeds: number;
  candidates: number;
  unreachable: number;
  /** Dials that found nothing listening: addresses of peers that left (not worth a user's attention). */
  gone: number;
  /** Addresses refused as candidates: over a source's quota, one partner's or one host's cap. */
  refusedCandidates: number;
  downloaded: number;
  uploaded: number;
  wasted: number;
  downRate: number;
  upRate: number;
  banned: number;
  /** BEP 52's hash messages, once a v2 torrent's transfer runs. */
  hashes?: HashStats;
}

/** Requests we let a peer keep queued with us (told in BEP 10 `reqq`). */
const OUR_REQQ = 2000;
/** Peers unchoked at once (plus one optimistic), unless SwarmOptions.uploadSlots says otherwise. */
const UPLOAD_SLOTS = 8;

export class Swarm extends EventEmitter<{ event: [SwarmEvent] }> {
  readonly connections: Connections;
  readonly extensions: ExtensionRegistry;
  private readonly emitEvent = (e: SwarmEvent): void => {
    this.emit('event', e);
    if (e.event === 'piece-verified') this.plugins.call('pieceVerified', e.index);
  };
  /** Torrent-level hooks: add a plugin with `plugins.add`. */
  readonly plugins = new SwarmPlugins((message) => this.emitEvent({ event: 'warning', message }));
  transfer?: Transfer;
  private stopTicking?: () => void;
  private v2?: Buffer;


  constructor(
    readonly infoHash: Buffer,
    private readonly opts: SwarmOptions & { private: boolean },
  ) {
    super();
    this.v2 = opts.v2Hash;
    this.extensions = new ExtensionRegistry({ private: opts.private });
    this.connections = new Connections({
      infoHash,
      v2Hash: () => this.v2,
      peerId: opts.peerId,
      clientName: opts.clientName,
      handshaker: opts.handshaker,
      extensions: this.extensions,
      ports: opts.ports,
      ownAddresses: opts.ownAddresses,
      families: opts.families,
      // Explicit per-field defaults: an option passed as undefined must not erase its default.
      maxPeers: opts.maxPeers ?? 60,
      maxConnecting: opts.maxConnecting ?? 12,
      banThreshold: opts.banThreshold ?? 2,
      limits: { maxBlock: opts.maxRequestBytes ?? 128 * 1024, maxExtended: 1024 * 1024 },
      reqq: OUR_REQQ,
      emit: this.emitEvent,
      plugins: this.plugins,
      utp: opts.utp ?? false,
    });
  }

  get complete(): boolean {
    return this.transfer?.complete ?? false;
  }

  /** BEP 52: its v2 info hash cut to 20 bytes, if it has one (what an upgraded connection runs under). */
  get v2Hash(): Buffer | undefined {
    return this.v2;
  }

  /** The metadata showed the torrent has a v2 hash too (a hybrid fetched by its v1 hash). */
  setV2Hash(hash: Buffer): void {
    this.v2 = hash;
  }

  /** Start connecting: peers are dialed and accepted whether or not the transfer is attached yet. */
  start(): void {
    this.stopTicking = every(1000, (now) => {
      this.connections.tick(now);
      this.plugins.call('tick', now);
    });
    this.connections.connectMore();
  }

  /** The metadata and the storage are ready (checked): start transferring pieces. */
  attach(store: PieceStore): Transfer {
    if (this.transfer) throw new Error('the transfer is already attached');
    const { meta } = store;
    if (meta.private) this.extensions.setPrivate();
    const transfer = new Transfer(
      store,
      this.connections,
      {
        // As libtorrent's unchoke_slots_limit: with 4 (+1 optimistic), a seed feeding 8 leechers kept
        // three of them waiting up to 30 s (bench/swarm 1 -> 8 at 0.83x of libtorrent).
        uploadSlots: this.opts.uploadSlots ?? UPLOAD_SLOTS,
        maxQueuedRequests: this.opts.maxQueuedRequests ?? 2 * OUR_REQQ,
        requestTimeoutMs: this.opts.requestTimeoutMs ?? 20_000,
        limits: this.opts.limits,
        sequential: this.opts.sequential,
        webSeeds: this.opts.webSeeds,
      },
      this.emitEvent,
    );
    this.transfer = transfer;
    this.connections.attach(transfer);
    if (meta.private) this.connections.sendExtensionHandshake();
    transfer.start();
    return transfer;
  }

  async stop(): Promise<void> {
    this.stopTicking?.();
    this.connections.stop();
    await this.transfer?.stop();
  }

  /** The discovery sink: peer addresses from any source. Returns how many were new. */
  addPeers(addrs: PeerAddressHint[], source: PeerSource): number {
    return this.connections.addPeers(addrs, source);
  }

  /** One peer known by several addresses (a host name with A and AAAA records): dialed Happy-Eyeballs style. */
  addPeerTargets(targets: DialTarget[], source: PeerSource): void {
    this.connections.addPeerTargets(targets, source);
  }

  /** Forget the candidates one source gave (a PEX partner that litters). */
  dropFrom(from: string): number {
    return this.connections.dropFrom(from);
  }

  /** Our addresses of `family` changed (a tunnel came up): dial now the peers that failed, e.g. for want of a route. */
  redialFailed(family: Family): void {
    this.connections.redialFailed(family);
  }

  /** BEP 55: dial `target` over uTP now, as a relay (`relay`) told us; undefined once started, else why not. */
  punch(target: DialTarget, relay: string, role: 'initiator' | 'target'): string | undefined {
    return this.connections.punch(target, relay, role);
  }

  /** Whether a peer is connected at `t`: its connection's address, or where it listens (BEP 10 `p`). */
  isConnected(t: DialTarget): boolean {
    return this.connections.isConnected(t);
  }

  /** Whether this swarm can holepunch at all (it dials uTP). */
  get canPunch(): boolean {
    return this.opts.utp ?? false;
  }

  /** A handshaken incoming connection that named this torrent. */
  accept(wire: PeerWire): boolean {
    return this.connections.accept(wire);
  }

  /** Every connected peer, as of now. */
  peerInfo(): PeerInfo[] {
    const t = this.transfer;
    return [...this.connections.peers].map((p) => {
      const tp = t?.of(p);
      return {
        id: p.id.toString('hex'),
        label: p.label,
        host: p.ip,
        family: p.family,
        remotePort: p.wire.remote.port,
        ...(p.ext?.port !== undefined ? { listenPort: p.ext.port } : {}),
        localHost: p.wire.localHost,
        direction: p.direction,
        source: p.source,
        holepunched: p.holepunched,
        client: p.client(),
        encrypted: p.wire.encrypted,
        prefersEncryption: p.prefersEncryption,
        transport: p.transport,
        speaksUtp: p.speaksUtp,
        speaksHolepunch: p.extensions.supports('ut_holepunch'),
        pieces: tp?.bits.count ?? 0,
        seed: tp?.isSeed ?? false,
        downRate: Math.round(tp?.down.rate() ?? 0),
        upRate: Math.round(tp?.up.rate() ?? 0),
        downloaded: tp?.down.total ?? 0,
        uploaded: tp?.up.total ?? 0,
        amChoking: tp?.amChoking ?? true,
        amInterested: tp?.amInterested ?? false,
        peerChoking: tp?.peerChoking ?? p.early.peerChoking,
        peerInterested: tp?.peerInterested ?? p.early.peerInterested,
      };
    });
  }

  /** The torrent's web seeds (none before the metadata, or with web seeds off). */
  webSeedInfo(): WebSeedInfo[] {
    return this.transfer?.webSeedInfo() ?? [];
  }

  /** How many connected peers have piece `index` (0 before the metadata). */
  availability(index: number): number {
    return this.transfer?.availability(index) ?? 0;
  }

  stats(): SwarmStats {
    const c = this.connections;
    const t = this.transfer;
    let peers4 = 0, seeds = 0;
    for (const p of c.peers) {
      if (p.family === 4) peers4++;
      if (t?.of(p)?.isSeed) seeds++;
    }
    return {
      peers: c.peers.size,
      peers4,
      peers6: c.peers.size - peers4,
      seeds,
      candidates: c.pool.size,
      unreachable: c.unreachable,
      gone: c.gone,
      refusedCandidates: c.pool.refused,
      downloaded: t?.down.total ?? 0,
      uploaded: t?.up.total ?? 0,
      wasted: t?.wasted ?? 0,
      downRate: t?.down.rate() ?? 0,
      upRate: t?.up.rate() ?? 0,
      banned: c.bans.size,
      ...(t?.hashStats ? { hashes: t.hashStats } : {}),
    };
  }
}
