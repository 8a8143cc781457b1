/**
 * One torrent from start to stop: from a .torrent, check what is on disk and run the swarm; from
 * a magnet link, run the swarm on the info hash alone, fetch the metadata from peers (saved
 * beside the resume state), then check and transfer as from a .torrent. It announces to the
 * trackers and saves resume state periodically and on stop. A hybrid torrent (BEP 52) is known by
 * two hashes, and a magnet may name only one of them: the other, once the metadata shows it,
 * joins the swarm's (incoming handshakes, the trackers, the DHT).
 */
import { EventEmitter } from 'node:events';
import { MetadataExchange } from '../ext/ut-metadata/exchange.js';
import { utMetadata } from '../ext/ut-metadata/extension.js';
import { registerUtHolepunch, type Holepunch } from '../ext/ut-holepunch/index.js';
import { registerUtPex } from '../ext/ut-pex/index.js';
import type { PexTorrent } from '../ext/ut-pex/torrent.js';
import { parseInfoDict } from '../metainfo/torrent.js';
import type { MagnetLink, Metainfo } from '../metainfo/types.js';
import type { HashPool } from '../storage/hash-pool.js';
import { metadataPath, saveMetadata } from '../storage/metadata-store.js';
import type { SelectionSpec } from '../storage/selection.js';
import type { CheckProgress, CheckResult, StoreFactory, TorrentStore } from '../storage/piece-store.js';
import { TorrentStorage } from '../storage/torrent-storage.js';
import type { RateLimits } from '../swarm/rate-limit.js';
import { Swarm, type SwarmEvent, type SwarmOptions } from '../swarm/swarm.js';
import type { DhtDiscovery } from '../discovery/dht-discovery.js';
import type { LsdDiscovery } from '../discovery/lsd-discovery.js';
import { TorrentDiscovery, type TrackerConfig, type TrackerRecord } from '../discovery/torrent-discovery.js';
import type { PeerAddressHint } from '../swarm/peer-pool.js';
import type { HostPort } from '../net/hostport.js';
import type { AnnounceEvent } from '../tracker/types.js';
import { every } from '../util/ticker.js';
import { SeedGoal, shareRatio, type SeedGoalOptions } from './seed-goal.js';

export interface TorrentOptions {
  writable: boolean;
  /** The files to download (default: all); checked against the metadata once it is known. */
  select?: SelectionSpec;
  stateDir: string;
  hashPool: HashPool;
  swarm: SwarmOptions;
  resumeSaveIntervalMs?: number;
  /** Announce to the torrent's trackers (off for tests that give peers directly, or `--no-trackers`). */
  trackers?: TrackerConfig;
  /** The engine's DHT node, used while the torrent is public. */
  dht?: DhtDiscovery;
  /** The engine's local service discovery, likewise. */
  lsd?: LsdDiscovery;
  /** Once complete, seed until this is reached, then report `seed-goal`. */
  seedGoal?: SeedGoalOptions;
  /** Where its data lives (default: files in its folder, storage/torrent-storage.ts). */
  store?: StoreFactory;
  /** It turned out to be known by another hash too (20 bytes): peers naming that one are its peers. */
  onOtherHash?(infoHash: Buffer): void;
}

/** What a torrent is started from: its metainfo, or a magnet link whose metadata peers will supply. */
/**
 * What a torrent is started from: its metainfo, or a magnet link whose metadata peers will
 * supply. A magnet whose metadata was fetched before starts from that metadata and keeps its
 * link for the peers it names (x.pe), which the saved metadata does not hold.
 */
export type TorrentSource = { meta: Metainfo; magnet?: MagnetLink } | { magnet: MagnetLink };

export type TorrentState = 'fetching-metadata' | 'checking' | 'downloading' | 'seeding' | 'stopped' | 'error';

/** Fetching the metadata of a magnet link. */
export type MetadataEvent =
  /** Still nothing: how many peers are connected, how many offer the metadata. */
  | { event: 'metadata-waiting'; peers: number; offering: number }
  | { event: 'metadata'; size: number; sources: number; ms: number; saved: string }
  /** A copy failed its hash; the peers blamed (none yet when several sent parts of it). */
  | { event: 'metadata-failed'; peers: string[] };

export type TorrentEvent =
  | SwarmEvent
  | MetadataEvent
  /** Seeded enough (--seed-ratio, --seed-time): why. Said once; whoever runs the torrent stops it. */
  | { event: 'seed-goal'; reason: string }
  /** With local service discovery on: whether this torrent is announced on the LAN, and why not (private). */
  | { event: 'lsd'; announcing: boolean; reason?: string };

/** How often a magnet that has no metadata yet says so. */
const WAITING_REPORT_MS = 10_000;
/** `left` while the size is unknown: anything but 0, which would make us a seed to the tracker. */
const UNKNOWN_LEFT = 16 * 1024;

export class Torrent extends EventEmitter<{
  event: [TorrentEvent];
  checking: [CheckProgress];
  checked: [CheckResult];
  tracker: [AnnounceEvent];
}> {
  readonly infoHash: Buffer;
  readonly infoHashHex: string;
  /** BEP 52: its whole v2 info hash, once known (a v2 magnet names it; a hybrid's metadata shows it). */
  private infoHashV2?: Buffer;
  meta?: Metainfo;
  storage?: TorrentStore;
  swarm?: Swarm;
  /** The swarm's peer exchange (off by itself on a private torrent). */
  pex?: PexTorrent;
  /** The swarm's BEP 55 holepunching (off by itself on a private torrent). */
  holepunch?: Holepunch;
  /** Where its peers come from, once the swarm runs. */
  private discovery?: TorrentDiscovery;
  state: TorrentState;
  /** Bytes checked of bytes to check, while checking. */
  checkProgress?: CheckProgress;
  lastError?: string;
  private readonly magnet?: MagnetLink;
  private readonly exchange: MetadataExchange;
  private stopSaving?: () => void;
  private readonly goal?: SeedGoal;
  private stopGoal?: () => void;
  private waitingTimer?: NodeJS.Timeout;
  private stopping?: Promise<void>;
  /** Piece layers saved with a magnet's metadata so far (see saveResume). */
  private savedLayers = 0;
  /** The save of a magnet's metadata in flight, and whether another is due after it. */
  private metadataSave?: Promise<void>;
  private metadataAgain = false;

  constructor(
    source: TorrentSource,
    readonly dir: string,
    private readonly opts: TorrentOptions,
  ) {
    super();
    this.magnet = source.magnet;
    if ('meta' in source) {
      this.meta = source.meta;
      this.storage = this.makeStorage(source.meta);
      this.saveLayersAsLearned();
    }
    this.infoHash = this.meta?.infoHash ?? this.magnet!.infoHash;
    this.infoHashHex = this.infoHash.toString('hex');
    this.infoHashV2 = this.meta?.infoHashV2 ?? this.magnet?.infoHashV2;
    this.state = this.meta ? 'checking' : 'fetching-metadata';
    this.exchange = new MetadataExchange(this.infoHash, this.meta?.infoBuffer, this.infoHashV2);
    const goal = opts.seedGoal && new SeedGoal(opts.seedGoal);
    if (goal?.set) this.goal = goal;
    this.on('event', (e) => {
      if (e.event === 'complete') {
        this.state = 'seeding';
        this.goal?.completed(Date.now());
      }
      if (e.event === 'error') {
        this.state = 'error';
        this.lastError = e.message;
      }
    });
  }

  /** This torrent's rate limits (set them at any time); the client's global ones apply above them. */
  get limits(): RateLimits | undefined {
    return this.opts.swarm.limits;
  }

  /** The torrent's name: from its metadata, else the magnet's `dn`, else the info hash. */
  get name(): string {
    return this.meta?.name ?? this.magnet?.name ?? this.infoHashHex;
  }

  get private(): boolean {
    return this.meta?.private ?? false;
  }

  /** From a .torrent: check the data (resume-aware), then join the swarm. From a magnet: join it now, transfer once the metadata is in. */
  async start(forceRecheck = false): Promise<void> {
    if (this.meta) {
      await this.check(forceRecheck);
      if (this.stopping) return; // stopped while checking: never join the swarm
      const swarm = this.startSwarm(this.meta.announce, this.magnet?.peers);
      this.beginTransfer(swarm);
      return;
    }
    const magnet = this.magnet!;
    const swarm = this.startSwarm(magnet.trackers.map((url) => [url]), magnet.peers);
    this.exchange.once('metadata', (info, stats) => void this.onMetadata(info, stats, forceRecheck));
    this.exchange.on('failed', (peers) => this.emit('event', { event: 'metadata-failed', peers }));
    this.waitingTimer = setInterval(() => {
      const s = swarm.stats();
      this.emit('event', { event: 'metadata-waiting', peers: s.peers, offering: this.exchange.offering });
    }, WAITING_REPORT_MS);
    this.waitingTimer.unref();
  }

  private makeStorage(meta: Metainfo): TorrentStore {
    const opts = { writable: this.opts.writable, stateDir: this.opts.stateDir, select: this.opts.select };
    return this.opts.store ? this.opts.store(meta, this.dir, opts) : new TorrentStorage(meta, this.dir, this.opts.hashPool, opts);
  }

  private async check(force: boolean): Promise<void> {
    this.state = 'checking';
    const result = await this.storage!.check(force, (p) => {
      this.checkProgress = p;
      this.emit('checking', p);
    });
    this.checkProgress = undefined;
    // A seed is as complete as it will get: its seeding time starts now.
    if (!this.opts.writable) this.goal?.completed(Date.now());
    this.emit('checked', result);
  }

  /** Said once, when the goal is reached. */
  private watchGoal(swarm: Swarm): void {
    const goal = this.goal;
    if (!goal) return;
    this.stopGoal = every(1000, (now) => {
      const s = swarm.stats();
      const why = goal.reached(now, shareRatio(s.uploaded, s.downloaded, this.meta?.totalLength ?? 0));
      if (!why) return;
      this.stopGoal?.();
      this.emit('event', { event: 'seed-goal', reason: why });
    });
  }

  /** Peers the user named (`--peer`): host names are resolved to every address. */
  addManualPeers(peers: HostPort[]): void {
    this.discovery?.addManual(peers);
  }

  /** Per tracker and family, the last announce. */
  trackerRecords(): TrackerRecord[] {
    return this.discovery?.trackerRecords() ?? [];
  }

  /** Ask the trackers for more peers soon (our addresses or ports changed). */
  announceSoon(): void {
    this.discovery?.requestMorePeers();
  }

  private startSwarm(tiers: string[][], magnetPeers?: PeerAddressHint[]): Swarm {
    const v2Hash = this.infoHashV2?.subarray(0, 20);
    const swarm = new Swarm(this.infoHash, { ...this.opts.swarm, private: this.private, ...(v2Hash ? { v2Hash } : {}) });
    this.swarm = swarm;
    swarm.extensions.register(utMetadata(this.exchange, () => swarm.extensions.private));
    this.pex = registerUtPex(swarm, this.opts.swarm);
    this.holepunch = registerUtHolepunch(swarm, this.opts.swarm);
    swarm.on('event', (e) => {
      // Before anyone hears of it (who may stop us at once): the trackers are to be told. A
      // finished selection is not a finished torrent: they hear `completed` only for all of it.
      if (e.event === 'complete') {
        void this.saveResume();
        if (this.storage?.have.complete) this.discovery?.completed();
      }
      this.emit('event', e);
    });
    swarm.start();
    const discovery = new TorrentDiscovery(swarm, {
      infoHash: this.infoHash,
      peerId: this.opts.swarm.peerId,
      ports: this.opts.swarm.ports,
      families: this.opts.swarm.families,
      ownAddresses: () => this.opts.swarm.ownAddresses(),
      stats: () => {
        const s = swarm.stats();
        return { uploaded: s.uploaded, downloaded: s.downloaded, left: this.storage?.bytes().left ?? UNKNOWN_LEFT };
      },
      ...(this.opts.trackers ? { trackers: this.opts.trackers } : {}),
      ...(this.opts.dht ? { dht: this.opts.dht } : {}),
      ...(this.opts.lsd ? { lsd: this.opts.lsd } : {}),
    });
    discovery.on('tracker', (ev) => this.emit('tracker', ev));
    discovery.on('lsd', (announcing, reason) => this.emit('event', { event: 'lsd', announcing, ...(reason ? { reason } : {}) }));
    discovery.on('warning', (message) => this.emit('event', { event: 'warning', message }));
    this.discovery = discovery;
    // A hybrid (or a magnet naming both hashes): announced and looked up under its v2 hash too.
    if (v2Hash && !v2Hash.equals(this.infoHash)) discovery.alsoKnownAs(v2Hash, true);
    discovery.start(tiers, { private: this.private, ...(magnetPeers ? { magnetPeers } : {}) });
    this.watchGoal(swarm);
    return swarm;
  }

  private beginTransfer(swarm: Swarm): void {
    this.state = this.storage!.done ? 'seeding' : 'downloading';
    swarm.attach(this.storage!);
    // Saved for seeds too: the next start then trusts the check instead of hashing everything again.
    void this.saveResume();
    this.stopSaving = every(this.opts.resumeSaveIntervalMs ?? 30_000, () => void this.saveResume());
  }

  private async onMetadata(info: Buffer, stats: { size: number; sources: number; ms: number }, forceRecheck: boolean): Promise<void> {
    clearInterval(this.waitingTimer);
    if (this.stopping) return;
    let meta: Metainfo;
    try {
      // Peers' bytes: validated like any torrent file (paths, sizes, hashes).
      meta = parseInfoDict(info, { announce: this.magnet!.trackers.map((url) => [url]), urlList: this.magnet!.webSeeds ?? [] });
      // A magnet naming both hashes names one torrent: the metadata matched one of them, it must be both.
      const m = this.magnet!;
      const v1Named = !m.infoHashV2 || !m.infoHash.equals(m.infoHashV2.subarray(0, 20));
      if ((m.infoHashV2 && !meta.infoHashV2?.equals(m.infoHashV2)) || (v1Named && !meta.infoHash.equals(m.infoHash))) {
        throw new Error('the magnet link names the hashes of two different torrents (its btih and btmh do not match)');
      }
    } catch (e) {
      this.emit('event', { event: 'error', message: `the metadata from peers is not a usable torrent: ${(e as Error).message}` });
      return;
    }
    try {
      this.storage = this.makeStorage(meta);
    } catch (e) {
      // The file selection did not fit this torrent's files (known only now).
      this.emit('event', { event: 'error', message: (e as Error).message });
      return;
    }
    this.meta = meta;
    this.saveLayersAsLearned();
    if (meta.private) this.discovery?.setPrivate();
    this.learnHashes(meta);
    const saved = metadataPath(this.opts.stateDir, this.infoHashHex);
    this.emit('event', { event: 'metadata', ...stats, saved });
    await this.saveMetadata();
    try {
      await this.check(forceRecheck);
    } catch (e) {
      if (!this.stopping) this.emit('event', { event: 'error', message: `cannot check the data: ${(e as Error).message}` });
      return;
    }
    if (this.stopping || !this.swarm) return;
    this.beginTransfer(this.swarm);
  }

  /** The metadata shows the hashes a magnet left out (a hybrid's other one): peers, trackers and the DHT use them too. */
  private learnHashes(meta: Metainfo): void {
    const v2Hash = meta.infoHashV2?.subarray(0, 20);
    if (v2Hash && !this.infoHashV2) {
      this.infoHashV2 = meta.infoHashV2;
      this.swarm?.setV2Hash(v2Hash);
    }
    for (const [hash, v2] of [[meta.infoHash, false], [v2Hash, true]] as const) {
      if (!hash || hash.equals(this.infoHash)) continue;
      this.opts.onOtherHash?.(hash);
      this.discovery?.alsoKnownAs(hash, v2);
    }
  }

  /**
   * A magnet's piece layers are saved with its metadata as each file's layer is complete: the
   * moment its pieces become checkable (PieceHashes.known), so the save starts before any of them
   * is requested. After a crash the data on disk is checked against them; a file whose layer did
   * not reach the disk is proven from its data if whole, else its pieces are fetched again.
   */
  private saveLayersAsLearned(): void {
    if (this.magnet) this.storage?.hashes.onLayer(() => void this.saveMetadata());
  }

  /** Save a magnet's metadata now, or once more after the save in flight: saves never overlap, and a burst of layers costs two. */
  private saveMetadata(): Promise<void> {
    if (this.metadataSave) {
      this.metadataAgain = true;
      return this.metadataSave;
    }
    this.metadataSave = (async () => {
      do {
        this.metadataAgain = false;
        await this.writeMetadata();
      } while (this.metadataAgain);
    })().finally(() => (this.metadataSave = undefined));
    return this.metadataSave;
  }

  /** A magnet's metadata, with the piece layers learned so far, kept for the next start. */
  private async writeMetadata(): Promise<void> {
    if (!this.meta || !this.magnet) return;
    const layers = this.storage?.hashes.knownLayers();
    this.savedLayers = this.storage?.hashes.learned ?? 0;
    const saved = metadataPath(this.opts.stateDir, this.infoHashHex);
    await saveMetadata(this.opts.stateDir, this.meta, { as: this.infoHashHex, ...(layers ? { layers } : {}) }).catch((e: Error) =>
      this.emit('event', { event: 'warning', message: `cannot save the metadata to ${saved}: ${e.message}; a restart will fetch it again` }),
    );
  }

  async saveResume(): Promise<void> {
    if (!this.storage) return;
    // Piece layers fetched since the metadata was saved go with it (a restart need not fetch them again).
    if (this.magnet && this.storage.hashes.learned > this.savedLayers) await this.saveMetadata();
    try {
      await this.storage.saveResume();
    } catch (e) {
      // Not fatal: the data is safe on disk, only the next start has to check it again.
      this.emit('event', { event: 'warning', message: `cannot save resume state: ${(e as Error).message}; make the state folder writable or pick another with --state-dir (the next start will re-check the data)` });
    }
  }

  /** Close peers, wait for writes, save resume state. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopSaving?.();
      this.stopGoal?.();
      clearInterval(this.waitingTimer);
      await Promise.all([this.discovery?.stop(), this.swarm?.stop()]);
      await this.saveResume();
      await this.storage?.close();
      this.opts.swarm.limits?.close();
      this.state = 'stopped';
    })();
    return this.stopping;
  }
}
