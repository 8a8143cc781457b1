/**
 * Where one torrent's peers come from, all into its swarm's one sink: the peers a magnet link
 * names (x.pe), the ones the user gives (host names resolved to every address, dialed Happy
 * Eyeballs style), the trackers (one announce per family; the last answer of each kept for
 * status), and the engine's DHT and local service discovery while the torrent is public. A
 * torrent that turns out private (a magnet's metadata says so) leaves both at once. A hybrid
 * torrent (BEP 52) is announced and looked up under each of its hashes (its v2 one cut to 20
 * bytes), as libtorrent does: the trackers and DHT nodes each side uses know it by its own hash.
 */
import { EventEmitter } from 'node:events';
import type { Family } from '../net/address.js';
import type { HostPort } from '../net/hostport.js';
import type { PeerAddressHint } from '../swarm/peer-pool.js';
import type { Swarm } from '../swarm/swarm.js';
import type { AnnounceIpPolicy } from '../tracker/announce-ip.js';
import type { AnnouncePacer } from '../tracker/announce-pacer.js';
import { Announcer } from '../tracker/announcer.js';
import type { AnnounceEvent } from '../tracker/types.js';
import type { OurPorts } from '../transport/advertised-ports.js';
import { resolveTargets } from '../transport/happy-eyeballs.js';
import type { TrackerNetwork } from '../transport/network.js';
import type { DhtDiscovery } from './dht-discovery.js';
import type { LsdDiscovery } from './lsd-discovery.js';

/** How the engine announces to trackers; undefined turns trackers off. */
export interface TrackerConfig {
  announceIp: AnnounceIpPolicy;
  /** Tiers announced to besides the torrent's own (`--tracker`). */
  extraTiers?: string[][];
  /** The engine's: every torrent's announces spaced and spread. */
  pacer?: AnnouncePacer;
  network?: TrackerNetwork;
}

/** The last announce to one tracker over one family. */
export interface TrackerRecord extends AnnounceEvent {
  at: number;
}

export interface DiscoveryOptions {
  infoHash: Buffer;
  peerId: Buffer;
  ports: OurPorts;
  families: { 4: boolean; 6: boolean };
  ownAddresses(): Partial<Record<Family, string>>;
  /** Transfer counters for announces. */
  stats(): { uploaded: number; downloaded: number; left: number };
  trackers?: TrackerConfig;
  dht?: DhtDiscovery;
  lsd?: LsdDiscovery;
}

/** Why a torrent is not announced on the LAN. */
export const LSD_PRIVATE = 'the torrent is private (BEP 27): its peers come from its trackers only';
const LSD_OFF = 'local peer discovery could not start on this host (the warning says why)';

/** Another hash a torrent is known by (a hybrid's other half); `v2`: peers found under it are dialed with it. */
interface OtherHash {
  infoHash: Buffer;
  v2: boolean;
}

export class TorrentDiscovery extends EventEmitter<{
  tracker: [AnnounceEvent];
  warning: [string];
  /** Whether the torrent is announced on the LAN (BEP 14), and why not. */
  lsd: [announcing: boolean, why?: string];
}> {
  private readonly records = new Map<string, TrackerRecord>();
  private announcer?: Announcer;
  /** Announcers of the other hashes (their events are not shown: the main one's tell the trackers' state). */
  private readonly others: Announcer[] = [];
  private readonly otherHashes: OtherHash[] = [];
  private tiers: string[][] = [];
  private onDht = false;
  private onLsd = false;
  private stopped = false;

  constructor(
    private readonly swarm: Swarm,
    private readonly opts: DiscoveryOptions,
  ) {
    super();
  }

  /** Start every source: the trackers of `tiers` (and the configured extra ones), the DHT and LSD unless private, the magnet's peers. */
  start(tiers: string[][], opts: { private: boolean; magnetPeers?: PeerAddressHint[] }): void {
    if (opts.magnetPeers) this.swarm.addPeers(opts.magnetPeers, { kind: 'magnet' });
    if (!opts.private && this.opts.dht) {
      this.opts.dht.track(this.swarm);
      this.onDht = true;
    }
    if (this.opts.lsd) {
      this.onLsd = !opts.private && this.opts.lsd.track(this.swarm);
      this.emit('lsd', this.onLsd, ...(this.onLsd ? [] : [opts.private ? LSD_PRIVATE : LSD_OFF]));
    }
    this.tiers = tiers;
    this.startTrackers(tiers);
    for (const other of this.otherHashes) this.startOther(other);
  }

  /** The torrent is known by another hash too (a hybrid's other half): announced and looked up under it from now on. */
  alsoKnownAs(infoHash: Buffer, v2: boolean): void {
    if (infoHash.equals(this.opts.infoHash) || this.otherHashes.some((o) => o.infoHash.equals(infoHash))) return;
    const other = { infoHash, v2 };
    this.otherHashes.push(other);
    if (this.announcer || this.onDht) this.startOther(other);
  }

  private startOther(other: OtherHash): void {
    if (this.stopped) return;
    if (this.onDht) this.opts.dht?.track(this.swarm, other.infoHash, other.v2);
    const announcer = this.makeAnnouncer(this.tiers, other.infoHash);
    if (!announcer) return;
    announcer.on('peers', (peers, ev) => this.swarm.addPeers(peers, { kind: 'tracker', from: ev.tracker, ...(other.v2 ? { v2: true } : {}) }));
    this.others.push(announcer);
    announcer.start();
  }

  /** Peers the user named; a host name is dialed at every address it resolves to. */
  addManual(peers: HostPort[]): void {
    for (const p of peers) {
      if (p.family) this.swarm.addPeers([{ host: p.host, port: p.port }], { kind: 'manual' });
      else {
        resolveTargets(p.host, p.port).then(
          (targets) => {
            if (!this.stopped) this.swarm.addPeerTargets(targets, { kind: 'manual' });
          },
          (e: Error) => this.emit('warning', `cannot resolve peer ${p.host}: ${e.message}`),
        );
      }
    }
  }

  /** The metadata says the torrent is private (BEP 27): no more DHT or LSD for it. */
  setPrivate(): void {
    const wasOnLsd = this.onLsd;
    this.leave();
    if (wasOnLsd) this.emit('lsd', false, LSD_PRIVATE);
  }

  /** Out of the DHT and LSD. */
  private leave(): void {
    if (this.onDht) this.opts.dht?.untrack(this.swarm);
    if (this.onLsd) this.opts.lsd?.untrack(this.swarm);
    this.onDht = false;
    this.onLsd = false;
  }

  /** The whole torrent is complete: trackers hear `completed`. */
  completed(): void {
    for (const a of this.announcers()) a.completed();
  }

  /** Ask the trackers for more peers soon (our addresses or ports changed). */
  requestMorePeers(): void {
    for (const a of this.announcers()) a.requestMorePeers();
  }

  private announcers(): Announcer[] {
    return [...(this.announcer ? [this.announcer] : []), ...this.others];
  }

  /** Per tracker and family, the last announce. */
  trackerRecords(): TrackerRecord[] {
    return [...this.records.values()];
  }

  /** Trackers told `stopped` (bounded), the DHT's lookups ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.leave();
    await Promise.all(this.announcers().map((a) => a.stop()));
  }

  private startTrackers(metaTiers: string[][]): void {
    const announcer = this.makeAnnouncer(metaTiers, this.opts.infoHash);
    if (!announcer) return;
    announcer.on('announce', (ev) => {
      this.records.set(`${ev.tracker} ${ev.family}`, { ...ev, at: Date.now() });
      this.emit('tracker', ev);
    });
    announcer.on('peers', (peers, ev) => this.swarm.addPeers(peers, { kind: 'tracker', from: ev.tracker }));
    this.announcer = announcer;
    // A torrent that is already complete announces as a seed from the start (left=0).
    announcer.start();
  }

  /** An announcer of `infoHash` to the torrent's trackers (and the configured extra ones), if there are any and we listen. */
  private makeAnnouncer(metaTiers: string[][], infoHash: Buffer): Announcer | undefined {
    const t = this.opts.trackers;
    const tiers = [...metaTiers, ...(t?.extraTiers ?? [])];
    if (!t || tiers.length === 0) return undefined;
    const { ports, families } = this.opts;
    if (!([4, 6] as const).some((f) => families[f] && ports.local(f) > 0)) return undefined; // not listening: nothing to announce
    return new Announcer({
      infoHash,
      peerId: this.opts.peerId,
      ports,
      tiers,
      families,
      getStats: () => this.opts.stats(),
      ownAddresses: () => this.opts.ownAddresses(),
      announceIp: t.announceIp,
      ...(t.pacer ? { pacer: t.pacer } : {}),
      ...(t.network ? { network: t.network } : {}),
    });
  }
}
