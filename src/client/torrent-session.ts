/**
 * One torrent from start to stop: check what is on disk, run the swarm, announce to its
 * trackers, save resume state periodically and on stop.
 */
import { EventEmitter } from 'node:events';
import { registerUtPex } from '../ext/ut-pex/index.js';
import type { PexTorrent } from '../ext/ut-pex/torrent.js';
import type { Metainfo } from '../metainfo/types.js';
import type { HashPool } from '../storage/hash-pool.js';
import { TorrentStorage, type CheckProgress, type CheckResult } from '../storage/torrent-storage.js';
import { Swarm, type SwarmEvent, type SwarmOptions } from '../swarm/swarm.js';
import { TrackerSession, type AnnounceEvent, type AnnounceIpPolicy } from '../tracker/session.js';

export interface TorrentSessionOptions {
  writable: boolean;
  stateDir: string;
  hashPool: HashPool;
  swarm: SwarmOptions;
  resumeSaveIntervalMs?: number;
  /** Announce to the torrent's trackers (off for tests that give peers directly, or `--no-trackers`). */
  trackers?: { announceIp: AnnounceIpPolicy; extraTiers?: string[][] };
}

export type TorrentState = 'checking' | 'downloading' | 'seeding' | 'stopped' | 'error';

/** The last announce to one tracker over one family. */
export interface TrackerRecord extends AnnounceEvent {
  at: number;
}

export class TorrentSession extends EventEmitter<{
  event: [SwarmEvent];
  checking: [CheckProgress];
  checked: [CheckResult];
  tracker: [AnnounceEvent];
}> {
  readonly storage: TorrentStorage;
  swarm?: Swarm;
  /** The swarm's peer exchange (off by itself on a private torrent). */
  pex?: PexTorrent;
  trackers?: TrackerSession;
  state: TorrentState = 'checking';
  /** Bytes checked of bytes to check, while checking. */
  checkProgress?: CheckProgress;
  lastError?: string;
  /** Per "url family": the last announce. */
  readonly trackerRecords = new Map<string, TrackerRecord>();
  private saveTimer?: NodeJS.Timeout;
  private stopping?: Promise<void>;

  constructor(
    readonly meta: Metainfo,
    readonly dir: string,
    private readonly opts: TorrentSessionOptions,
  ) {
    super();
    this.storage = new TorrentStorage(meta, dir, opts.hashPool, { writable: opts.writable, stateDir: opts.stateDir });
    this.on('event', (e) => {
      if (e.event === 'complete') this.state = 'seeding';
      if (e.event === 'error') {
        this.state = 'error';
        this.lastError = e.message;
      }
    });
  }

  get infoHashHex(): string {
    return this.meta.infoHashHex;
  }

  /** Check existing data (resume-aware, reported as `checking` then `checked`), then join the swarm. */
  async start(forceRecheck = false): Promise<void> {
    const result = await this.storage.check(forceRecheck, (p) => {
      this.checkProgress = p;
      this.emit('checking', p);
    });
    this.checkProgress = undefined;
    this.emit('checked', result);
    if (this.stopping) return; // stopped while checking: never join the swarm
    this.state = this.storage.have.complete ? 'seeding' : 'downloading';
    const swarm = new Swarm(this.meta.infoHash, { ...this.opts.swarm, private: this.meta.private });
    this.swarm = swarm;
    this.pex = registerUtPex(swarm, this.opts.swarm);
    swarm.on('event', (e) => {
      this.emit('event', e);
      if (e.event !== 'complete') return;
      void this.saveResume();
      this.trackers?.completed();
    });
    swarm.start();
    swarm.attach(this.meta, this.storage);
    this.startTrackers(swarm);
    // Saved for seeds too: the next start then trusts the check instead of hashing everything again.
    void this.saveResume();
    this.saveTimer = setInterval(() => void this.saveResume(), this.opts.resumeSaveIntervalMs ?? 30_000);
    this.saveTimer.unref();
  }

  private startTrackers(swarm: Swarm): void {
    const t = this.opts.trackers;
    const tiers = [...this.meta.announce, ...(t?.extraTiers ?? [])];
    if (!t || tiers.length === 0) return;
    const port = this.opts.swarm.port();
    if (port === 0) return;
    const trackers = new TrackerSession({
      infoHash: this.meta.infoHash,
      peerId: this.opts.swarm.peerId,
      port,
      tiers,
      families: this.opts.swarm.families,
      getStats: () => {
        const s = swarm.stats();
        return { uploaded: s.uploaded, downloaded: s.downloaded, left: swarm.left() ?? this.meta.totalLength };
      },
      ownAddresses: () => this.opts.swarm.ownAddresses(),
      announceIp: t.announceIp,
    });
    trackers.on('announce', (ev) => {
      this.trackerRecords.set(`${ev.tracker} ${ev.family}`, { ...ev, at: Date.now() });
      this.emit('tracker', ev);
    });
    trackers.on('peers', (peers, ev) => swarm.addPeers(peers, { kind: 'tracker', from: ev.tracker }));
    this.trackers = trackers;
    // A torrent that is already complete announces as a seed from the start (left=0).
    trackers.start();
  }

  async saveResume(): Promise<void> {
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
      clearInterval(this.saveTimer);
      await Promise.all([this.trackers?.stop(), this.swarm?.stop()]);
      await this.saveResume();
      await this.storage.close();
      this.state = 'stopped';
    })();
    return this.stopping;
  }
}
