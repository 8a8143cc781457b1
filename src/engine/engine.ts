/**
 * The engine: one peer id, the network it listens and dials on (the kernel's unless given
 * another), the handshaker that routes incoming connections to the torrent their handshake
 * names, the hashing pool, and the torrents. Every torrent runs under the same rules whoever
 * added it (`download`, `seed`, the `ui` session): one process per torrent and folder (a lock
 * naming the holder), and the seed goals.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostKey, type Family } from '../net/address.js';
import { formatHostPort } from '../net/hostport.js';
import { AdvertisedPorts } from '../transport/advertised-ports.js';
import { KernelNetwork } from '../transport/kernel/kernel-network.js';
import type { Listening, Network } from '../transport/network.js';
import type { TransportKind } from '../transport/transport.js';
import { Req2Index } from '../mse/handshake.js';
import { HashPool } from '../storage/hash-pool.js';
import type { EncryptionPolicy } from '../wire/encryption-policy.js';
import { Handshaker } from '../wire/handshaker.js';
import { OwnAddresses } from './own-addresses.js';
import { CLIENT_NAME, PEER_ID_PREFIX } from '../version.js';
import { Torrent, type TorrentOptions, type TorrentSource } from './torrent.js';
import { DhtDiscovery, type DhtConfig } from '../discovery/dht-discovery.js';
import { LsdDiscovery } from '../discovery/lsd-discovery.js';
import type { AnnounceIpPolicy } from '../tracker/announce-ip.js';
import { AnnouncePacer } from '../tracker/announce-pacer.js';
import { RateLimits } from '../swarm/rate-limit.js';
import { PortMapping } from './port-mapping.js';
import type { SeedGoalOptions } from './seed-goal.js';
import type { StoreFactory } from '../storage/piece-store.js';
import { TorrentLock } from './torrent-lock.js';
import { peerNetwork, type TransportSet } from '../utp/tcp-and-utp-network.js';

/** A host whose incoming connections our encryption policy refuses is reported at most this often. */
const REFUSED_REPORT_MS = 60_000;
const MAX_REFUSED_HOSTS = 4096;

export interface EngineOptions {
  port: number;
  /** `port` is only the default (none was asked for): when another program has it, listen on a free one instead. */
  portFallback?: boolean;
  ipv4: boolean;
  ipv6: boolean;
  stateDir: string;
  maxPeersPerTorrent?: number;
  /** Tracker announces: policy for ipv4=/ipv6=, extra tracker tiers; undefined turns trackers off. */
  trackers?: { announceIp: AnnounceIpPolicy; extraTiers?: string[][] };
  /** Limits for all torrents together, bytes per second of payload (undefined: none). */
  rates?: { down?: number; up?: number };
  /** Listen on these addresses instead of the wildcards (the demo keeps to loopback). */
  listenHost?: Partial<Record<Family, string>>;
  /** `--encryption` (default prefer). */
  encryption?: EncryptionPolicy;
  /** The DHT (IPv4 only: ignored without IPv4); undefined turns it off. */
  dht?: DhtConfig;
  /** Local service discovery (BEP 14) on the LAN, for the families listened on at the wildcard (off on a network without multicast). */
  lsd?: boolean;
  /** When a finished torrent has seeded enough (--seed-ratio, --seed-time): it reports `seed-goal`. */
  seedGoal?: SeedGoalOptions;
  /** What the torrents' locks say runs them (default: this process's command line). */
  lockCommand?: string;
  /** Ask the gateway for inbound reachability of the listening port (PCP, NAT-PMP, UPnP IGD) once listening. */
  portMapping?: boolean;
  /** Fetch from torrents' web seeds (BEP 19 `url-list`, BEP 17 `httpseeds`); default on. */
  webSeeds?: boolean;
  /** Where torrents' data lives (default: files on disk); a test may keep it in memory. */
  store?: StoreFactory;
  /**
   * `--transports`: what peers are dialed and accepted over when no network is given (TCP and
   * uTP on the kernel's sockets; default TCP alone).
   */
  transports?: TransportSet;
}

export class Engine extends EventEmitter<{ 'port-mapping': [PortMapping]; refused: [address: string, why: string] }> {
  readonly peerId = Buffer.concat([Buffer.from(PEER_ID_PREFIX, 'latin1'), randomBytes(12)]);
  readonly hashPool = new HashPool();
  readonly ownAddresses = new OwnAddresses();
  /** The global rate limits; each torrent's own limits sit under them. */
  readonly limits: RateLimits;
  private readonly torrents = new Map<string, Torrent>();
  /** Torrents by their other hash (a hybrid's v2 one cut to 20 bytes, or its v1 one for a v2 magnet), hex. */
  private readonly otherHashes = new Map<string, Torrent>();
  /** Info hashes being added (their lock is being taken). */
  private readonly adding = new Set<string>();
  private readonly locks = new Map<Torrent, TorrentLock>();
  private closing?: Promise<void>;
  /** Incoming connections our encryption policy refused, and when each host was last reported. */
  private refusedCount = 0;
  private readonly refusedReported = new Map<string, number>();
  /** The gateway's mappings of our port, once listening (with `portMapping`). */
  portMapping?: PortMapping;
  /** Our torrents by HASH('req2', info hash), for peers that dial us encrypted. */
  private readonly req2 = new Req2Index();
  readonly handshaker: Handshaker;
  /** The port we listen on and the one we tell others, per family. */
  readonly ports: AdvertisedPorts;
  /** The engine's one DHT node, shared by every torrent. */
  readonly dht?: DhtDiscovery;
  /** Local service discovery, shared likewise. */
  readonly lsd?: LsdDiscovery;
  /** Every torrent's announces go through it: spaced, and spread over their interval. */
  readonly announcePacer = new AnnouncePacer();

  constructor(
    readonly opts: EngineOptions,
    /** What peers are dialed and accepted over, and the UDP sockets on our port. */
    readonly network: Network = peerNetwork(new KernelNetwork(), opts.transports),
  ) {
    super();
    this.limits = new RateLimits(opts.rates);
    this.ports = new AdvertisedPorts(() => network.listening());
    this.handshaker = new Handshaker({
      network,
      peerId: this.peerId,
      directory: {
        find: (infoHash) => {
          const hex = infoHash.toString('hex');
          return (this.torrents.get(hex) ?? this.otherHashes.get(hex))?.swarm;
        },
        findByReq2: (r) => this.req2.find(r),
      },
      encryption: opts.encryption,
      onRefused: (from, why) => this.refusedIncoming(from.host, formatHostPort(from.host, from.port), why),
    });
    if (opts.dht && opts.ipv4) this.dht = new DhtDiscovery(opts.dht, opts.stateDir, network, this.ports);
    // A family bound to one address (the demo's loopback) is no LAN's.
    const lsdFamilies = ([4, 6] as const).filter((f) => (f === 4 ? opts.ipv4 : opts.ipv6) && !opts.listenHost?.[f]);
    if (opts.lsd && network.multicast && lsdFamilies.length > 0) this.lsd = new LsdDiscovery(network, this.ports, lsdFamilies);
    // A gateway mapped our port elsewhere (or the mapping went): the trackers should know soon.
    this.ports.on('change', () => this.announceSoon());
  }

  /** Incoming connections our `--encryption` policy refused so far. */
  get refused(): number {
    return this.refusedCount;
  }

  /** Counted every time, reported once a minute per host (a peer retrying must not flood the log). */
  private refusedIncoming(host: string, address: string, why: string): void {
    this.refusedCount++;
    const key = hostKey(host);
    const now = Date.now();
    if (now - (this.refusedReported.get(key) ?? -Infinity) < REFUSED_REPORT_MS) return;
    if (this.refusedReported.size >= MAX_REFUSED_HOSTS) this.refusedReported.clear();
    this.refusedReported.set(key, now);
    this.emit('refused', address, why);
  }

  /** What peers are dialed and accepted over (`--transports`). */
  transports(): readonly TransportKind[] {
    return this.network.transports ?? ['tcp'];
  }

  /** Where we listen (empty until listen() resolves). */
  listening(): Listening[] {
    return this.network.listening();
  }

  /** Listen for peers, then start the DHT (on our peer port by default) and LSD in the background. */
  async listen(): Promise<Listening[]> {
    const host = this.opts.listenHost;
    const on = (port: number) =>
      this.network.listen(
        {
          port,
          ipv4: this.opts.ipv4,
          ipv6: this.opts.ipv6,
          ...(host?.[4] ? { host4: host[4] } : {}),
          ...(host?.[6] ? { host6: host[6] } : {}),
        },
        (t) => this.handshaker.incoming(t),
      );
    const listening = await on(this.opts.port).catch((e: unknown) => {
      if (!this.opts.portFallback || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      return on(0);
    });
    if (this.opts.portMapping) {
      this.portMapping = new PortMapping(listening, this.ports, this.ownAddresses);
      this.emit('port-mapping', this.portMapping);
      void this.portMapping.start();
    }
    void this.dht?.start();
    void this.lsd?.start();
    return listening;
  }

  /**
   * Add a torrent (not started yet: call its start()). It takes the torrent's lock for `dir`
   * first: another process running it there is a LockedError naming that process.
   * `rates`: this torrent's own limits, within the global ones; `sequential`: pieces in order.
   */
  async addTorrent(
    source: TorrentSource,
    dir: string,
    opts: Pick<TorrentOptions, 'writable' | 'select'> & { rates?: { down?: number; up?: number }; sequential?: boolean },
  ): Promise<Torrent> {
    const { infoHash, infoHashHex, infoHashV2 } = 'meta' in source ? source.meta : source.magnet;
    // Every hash the source names (a hybrid's two): a torrent running, or being added, under any
    // of them is this one (a btmh-only magnet knows its v1 hash only once it has the metadata).
    const hashes = [...new Set([infoHashHex, ...(infoHashV2 ? [infoHashV2.subarray(0, 20).toString('hex')] : [])])];
    for (const hex of hashes) {
      if (this.torrents.has(hex) || this.otherHashes.has(hex) || this.adding.has(hex)) {
        throw new Error(`torrent ${infoHashHex} is already running${hex === infoHashHex ? '' : ` (under its other info hash ${hex})`}`);
      }
    }
    for (const hex of hashes) this.adding.add(hex);
    let lock: TorrentLock;
    try {
      lock = await TorrentLock.acquire(this.opts.stateDir, infoHashHex, dir, this.opts.lockCommand ?? ['sixswarm', ...process.argv.slice(2)].join(' '));
    } finally {
      for (const hex of hashes) this.adding.delete(hex);
    }
    const t = new Torrent(source, dir, {
      writable: opts.writable,
      select: opts.select,
      stateDir: this.opts.stateDir,
      hashPool: this.hashPool,
      swarm: {
        peerId: this.peerId,
        clientName: CLIENT_NAME,
        handshaker: this.handshaker,
        ports: this.ports,
        ownAddresses: () => this.ownAddresses.get(),
        families: { 4: this.opts.ipv4, 6: this.opts.ipv6 },
        maxPeers: this.opts.maxPeersPerTorrent,
        limits: new RateLimits(opts.rates, this.limits),
        sequential: opts.sequential,
        // A seed only serves what it has: it never fetches (its files are opened read-only).
        ...(this.opts.webSeeds === false || !opts.writable ? {} : { webSeeds: { network: this.network, families: { 4: this.opts.ipv4, 6: this.opts.ipv6 } } }),
        utp: this.transports().includes('utp'),
      },
      ...(this.opts.trackers ? { trackers: { ...this.opts.trackers, pacer: this.announcePacer, network: this.network } } : {}),
      ...(this.dht ? { dht: this.dht } : {}),
      ...(this.lsd ? { lsd: this.lsd } : {}),
      ...(this.opts.seedGoal ? { seedGoal: this.opts.seedGoal } : {}),
      ...(this.opts.store ? { store: this.opts.store } : {}),
      onOtherHash: (hash) => this.addOtherHash(t, hash),
    });
    this.torrents.set(infoHashHex, t);
    this.locks.set(t, lock);
    this.req2.add(infoHash);
    const v2Hash = infoHashV2?.subarray(0, 20);
    if (v2Hash && !v2Hash.equals(infoHash)) this.addOtherHash(t, v2Hash);
    return t;
  }

  /** Peers may name a running torrent by this hash too (one half of a hybrid); encrypted ones as well. */
  private addOtherHash(t: Torrent, hash: Buffer): void {
    const hex = hash.toString('hex');
    if (this.torrents.get(t.infoHashHex) !== t || this.torrents.has(hex) || this.otherHashes.has(hex)) return;
    this.otherHashes.set(hex, t);
    this.req2.add(hash);
  }

  /** The running torrent with this info hash, if any. */
  torrent(infoHashHex: string): Torrent | undefined {
    return this.torrents.get(infoHashHex);
  }

  /** Stop a torrent (peers closed, trackers told, resume saved) and let go of it; it may be added again later. */
  async removeTorrent(t: Torrent): Promise<void> {
    if (this.torrents.get(t.infoHashHex) === t) this.torrents.delete(t.infoHashHex);
    for (const [hex, other] of this.otherHashes) if (other === t) this.otherHashes.delete(hex);
    await t.stop();
    await this.unlock(t);
  }

  /** A stopped torrent's lock goes, so another process (or a later add) may run it. */
  private async unlock(t: Torrent): Promise<void> {
    const lock = this.locks.get(t);
    this.locks.delete(t);
    await lock?.release();
  }

  /** Our addresses changed (a tunnel came up): tell the trackers soon instead of at the next interval. */
  announceSoon(): void {
    for (const t of this.torrents.values()) t.announceSoon();
  }

  /** Our addresses of `family` changed: peers that could not be reached (no IPv6 route yet) are dialed again now. */
  redialFailedPeers(family: Family): void {
    for (const t of this.torrents.values()) t.swarm?.redialFailed(family);
  }

  /** Stop every torrent (their locks released), the DHT, the network, the hashing pool. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.handshaker.close();
    // The torrents first: their last announces (`stopped`) still name the port we listen on, and a
    // listener's close waits for the connections it accepted, which they close. The DHT lets go of
    // the shared UDP socket before the network closes it.
    await Promise.all([...[...this.torrents.values()].map((t) => t.stop().then(() => this.unlock(t))), this.dht?.stop(), this.lsd?.stop(), this.portMapping?.stop()]);
    await this.network.close();
    this.torrents.clear();
    this.limits.close();
    await this.hashPool.close();
  }
}
