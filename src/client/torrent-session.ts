/**
 * One torrent from start to stop: check what is on disk, run the swarm, save resume state
 * periodically and on stop.
 */
import { EventEmitter } from 'node:events';
import type { Metainfo } from '../metainfo/types.js';
import type { HashPool } from '../storage/hash-pool.js';
import { TorrentStorage, type CheckProgress, type CheckResult } from '../storage/torrent-storage.js';
import { Swarm, type SwarmEvent, type SwarmOptions } from '../swarm/swarm.js';

export interface TorrentSessionOptions {
  writable: boolean;
  stateDir: string;
  hashPool: HashPool;
  swarm: SwarmOptions;
  resumeSaveIntervalMs?: number;
}

export class TorrentSession extends EventEmitter<{ event: [SwarmEvent]; checking: [CheckProgress] }> {
  readonly storage: TorrentStorage;
  swarm?: Swarm;
  private saveTimer?: NodeJS.Timeout;
  private stopping?: Promise<void>;

  constructor(
    readonly meta: Metainfo,
    readonly dir: string,
    private readonly opts: TorrentSessionOptions,
  ) {
    super();
    this.storage = new TorrentStorage(meta, dir, opts.hashPool, { writable: opts.writable, stateDir: opts.stateDir });
  }

  /** Check existing data (resume-aware), then join the swarm. */
  async start(forceRecheck = false): Promise<CheckResult> {
    const result = await this.storage.check(forceRecheck, (p) => this.emit('checking', p));
    const swarm = new Swarm(this.meta, this.storage, this.opts.swarm);
    this.swarm = swarm;
    swarm.on('event', (e) => {
      this.emit('event', e);
      if (e.event === 'complete') void this.saveResume();
    });
    swarm.start();
    // Saved for seeds too: the next start then trusts the check instead of hashing everything again.
    await this.saveResume();
    this.saveTimer = setInterval(() => void this.saveResume(), this.opts.resumeSaveIntervalMs ?? 30_000);
    this.saveTimer.unref();
    return result;
  }

  async saveResume(): Promise<void> {
    try {
      await this.storage.saveResume();
    } catch (e) {
      this.emit('event', { event: 'error', message: `cannot save resume state: ${(e as Error).message}` });
    }
  }

  /** Close peers, wait for writes, save resume state. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.saveTimer);
      await this.swarm?.stop();
      await this.saveResume();
      await this.storage.close();
    })();
    return this.stopping;
  }
}
