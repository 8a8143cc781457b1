/**
 * The announce schedule of one address family (BEP 7: one announce per family). It walks the
 * tiers (BEP 12), remembers per tracker what it was told (events sent, tracker id, min interval),
 * and turns every outcome, good or bad, into an AnnounceEvent: nothing it does can throw.
 */
import type { Family } from '../net/address.js';
import type { PeerAddress } from '../net/compact.js';
import type { TrackerNetwork } from '../transport/network.js';
import { announceOnce } from './announce-once.js';
import type { AnnouncePacer } from './announce-pacer.js';
import { TrackerError, toTrackerError } from './errors.js';
import { filterPeers } from './peer-filter.js';
import type { Reachability } from './reachability.js';
import { Tiers } from './tiers.js';
import { LIMITS, type AnnounceEvent, type AnnounceEventName, type AnnounceParams } from './types.js';
import type { UdpTrackerClient } from './udp-client.js';
import { parseTrackerUrl, type TrackerUrl } from './url.js';

/** Used when a tracker sends no interval (BEP 3 makes it mandatory, some omit it). */
const DEFAULT_INTERVAL_SEC = 30 * 60;
/** Longest wait between two rounds while every tracker fails. */
const MAX_BACKOFF_MS = 30 * 60 * 1000;

export interface AnnouncerDeps {
  family: Family;
  tiers: string[][];
  infoHash: Buffer;
  peerId: Buffer;
  /** Our advertised port in this family, asked at each announce (a gateway mapping may change it). */
  port: () => number;
  key: number;
  numwant: number;
  minIntervalFloorMs: number;
  timeoutMs: number;
  ca?: string | Buffer;
  network?: TrackerNetwork;
  getStats(): { uploaded: number; downloaded: number; left: number };
  isSelf(p: PeerAddress): boolean;
  udp(): UdpTrackerClient;
  reach: Reachability;
  /** BEP 7 ipv4=/ipv6= for an HTTP announce to `t` over this family. */
  ownAddressParams(t: TrackerUrl, signal: AbortSignal): Promise<{ ipv4?: string; ipv6?: string }>;
  /** Reports one attempt ('announce') and the peers it gave, if any ('peers'). */
  emit(ev: AnnounceEvent, peers: PeerAddress[]): void;
  /** Spaces rounds across the process's torrents and spreads re-announces (absent: neither). */
  pacer?: AnnouncePacer;
}

interface TrackerState {
  startedSent: boolean;
  completedSent: boolean;
  trackerId?: Buffer;
  /** max(floor, tracker's min interval). */
  minIntervalMs: number;
  lastOkAt?: number;
}

interface Outcome {
  ok: boolean;
  ev: AnnounceEvent;
  peers: PeerAddress[];
  nextMs: number;
}

export class FamilyAnnouncer {
  private readonly tiers: Tiers;
  private readonly states = new Map<string, TrackerState>();
  private readonly parsed = new Map<string, TrackerUrl>();
  private timer: NodeJS.Timeout | undefined;
  private nextAt: number | undefined;
  private inFlight: AbortController | undefined;
  private started = false;
  private stopped = false;
  private needCompleted = false;
  /** announceSoon(tracker) arrived during a round: follow that tracker up once min interval allows. */
  private soonFor: string | undefined;
  private failures = 0;
  /** Tracker of the last successful round; undefined while failing. */
  private current: string | undefined;

  constructor(private readonly deps: AnnouncerDeps) {
    this.tiers = new Tiers(deps.tiers);
  }

  get family(): Family {
    return this.deps.family;
  }

  start(): void {
    if (this.started || this.stopped || this.tiers.order().length === 0) return;
    this.started = true;
    this.schedule(0);
  }

  /** event=completed now (a round in flight picks it up when it ends). */
  completed(): void {
    this.needCompleted = true;
    if (this.started && !this.stopped && !this.inFlight) this.schedule(0);
  }

  /**
   * Announce as soon as the current tracker's min interval allows; nothing while failing (backoff
   * rules). Without `tracker` (more peers wanted) a round in flight is enough. With `tracker`,
   * what we would send to that tracker has changed (BEP 7 ipv4=/ipv6=): it applies only if that
   * is our current tracker, and a round in flight is followed up.
   */
  announceSoon(tracker?: string): void {
    if (!this.started || this.stopped) return;
    if (this.inFlight) {
      if (tracker) this.soonFor = tracker;
      return;
    }
    if (!this.current || (tracker && tracker !== this.current)) return;
    const st = this.state(this.current);
    const earliest = (st.lastOkAt ?? 0) + st.minIntervalMs;
    if (this.nextAt === undefined || earliest < this.nextAt) this.schedule(Math.max(0, earliest - Date.now()));
  }

  /**
   * event=stopped to every tracker that saw started, bounded by `budgetMs`; then idle for good. A
   * completed not yet confirmed (stopping right after the download finished) goes out first.
   */
  async stop(budgetMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.inFlight?.abort();
    const targets = [...this.states].filter(([, s]) => s.startedSent).map(([url]) => url);
    if (targets.length === 0) return;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), budgetMs);
    try {
      const timeoutMs = Math.min(this.deps.timeoutMs, budgetMs);
      const results = await Promise.all(
        targets.map(async (url) => {
          const completed = this.needCompleted && !this.state(url).completedSent ? [await this.attempt(url, 'completed', ac.signal, timeoutMs)] : [];
          return [...completed, await this.attempt(url, 'stopped', ac.signal, timeoutMs)];
        }),
      );
      for (const r of results.flat()) {
        if (r.ev.error === 'cancelled') r.ev.error = `no reply to the ${r.ev.event} announce within ${budgetMs} ms`;
        this.deps.emit(r.ev, []);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.nextAt = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.nextAt = undefined;
      // round() handles every tracker outcome and the session guards its listeners, so only a
      // bug of ours lands here: say so, and keep announcing rather than take the process down.
      this.round().catch((e: unknown) => {
        process.stderr.write(`sixswarm: announce round failed (continuing): ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
        if (!this.stopped && !this.timer) this.schedule(MAX_BACKOFF_MS);
      });
    }, delayMs);
  }

  private state(url: string): TrackerState {
    let st = this.states.get(url);
    if (!st) {
      st = { startedSent: false, completedSent: false, minIntervalMs: this.deps.minIntervalFloorMs };
      this.states.set(url, st);
    }
    return st;
  }

  /** Try the trackers in tier order until one answers (BEP 12), then schedule the next round. */
  private async round(): Promise<void> {
    const ac = new AbortController();
    this.inFlight = ac;
    let success: Outcome | undefined;
    let lastFailure: AnnounceEvent | undefined;
    try {
      await this.deps.pacer?.slot(ac.signal);
      if (this.stopped) return;
      for (const url of this.tiers.order()) {
        if (lastFailure) this.deps.emit(lastFailure, []);
        lastFailure = undefined;
        const r = await this.attempt(url, undefined, ac.signal, this.deps.timeoutMs);
        if (this.stopped) return; // cancelled by stop(): its events would only be noise
        if (r.ok) {
          success = r;
          this.tiers.promote(url);
          this.current = url;
          break;
        }
        lastFailure = r.ev;
      }
    } finally {
      this.inFlight = undefined;
    }
    const soon = this.soonFor !== undefined && this.soonFor === success?.ev.tracker;
    this.soonFor = undefined;
    if (success) {
      this.failures = 0;
      const st = this.state(success.ev.tracker);
      const completedPending = this.needCompleted && !st.completedSent;
      const delay = completedPending ? 0 : soon ? st.minIntervalMs : (this.deps.pacer?.spread(success.nextMs) ?? success.nextMs);
      success.ev.nextAnnounceInMs = delay;
      this.schedule(delay);
      this.deps.emit(success.ev, success.peers);
    } else {
      this.current = undefined;
      this.failures++;
      const delay = Math.min(this.deps.minIntervalFloorMs * 2 ** Math.min(this.failures - 1, 20), MAX_BACKOFF_MS);
      this.schedule(delay);
      if (lastFailure) {
        lastFailure.nextAnnounceInMs = delay;
        this.deps.emit(lastFailure, []);
      }
    }
  }

  private eventFor(st: TrackerState): AnnounceEventName | undefined {
    if (!st.startedSent) return 'started';
    if (this.needCompleted && !st.completedSent) return 'completed';
    return undefined;
  }

  private async attempt(url: string, forced: 'completed' | 'stopped' | undefined, signal: AbortSignal, timeoutMs: number): Promise<Outcome> {
    const st = this.state(url);
    const event = forced ?? this.eventFor(st);
    const ev: AnnounceEvent = { tracker: url, family: this.deps.family, ...(event ? { event } : {}), peers4: 0, peers6: 0, dropped: 0 };
    try {
      const t = this.trackerUrl(url);
      const stats = this.deps.getStats();
      const extra = t.protocol === 'udp' ? {} : await this.deps.ownAddressParams(t, signal);
      const params: AnnounceParams = {
        infoHash: this.deps.infoHash,
        peerId: this.deps.peerId,
        port: this.deps.port(),
        uploaded: count(stats.uploaded),
        downloaded: count(stats.downloaded),
        left: count(stats.left),
        ...(event ? { event } : {}),
        key: this.deps.key,
        numwant: event === 'stopped' ? 0 : this.deps.numwant,
        ...(st.trackerId ? { trackerId: st.trackerId } : {}),
        ...extra,
      };
      const { family, udp, ca, network } = this.deps;
      const reply = await announceOnce(t, params, { family, timeoutMs, udp, signal, ...(ca ? { ca } : {}), ...(network ? { network } : {}) });
      this.deps.reach.set(url, this.deps.family, true);
      if (event === 'started') {
        st.startedSent = true;
        // Started while already complete says everything completed would.
        if (this.needCompleted) st.completedSent = true;
      }
      if (event === 'completed') st.completedSent = true;
      if (event === 'stopped') st.startedSent = false;
      if (reply.trackerId) st.trackerId = reply.trackerId;
      const intervalMs = Math.min(reply.interval ?? DEFAULT_INTERVAL_SEC, LIMITS.maxIntervalSec) * 1000;
      const trackerMinMs = Math.min(reply.minInterval ?? 0, LIMITS.maxIntervalSec) * 1000;
      st.minIntervalMs = Math.max(this.deps.minIntervalFloorMs, trackerMinMs);
      st.lastOkAt = Date.now();
      const filtered = filterPeers([...reply.peers4, ...reply.peers6], this.deps.isSelf);
      ev.peers4 = reply.peers4.length;
      ev.peers6 = reply.peers6.length;
      ev.dropped = reply.dropped + filtered.dropped;
      if (reply.warnings.length > 0) ev.warning = reply.warnings.join('; ');
      return { ok: true, ev, peers: filtered.kept, nextMs: Math.max(intervalMs, st.minIntervalMs) };
    } catch (e) {
      const err = toTrackerError(e, 'announce failed');
      if (err.unreachable) this.deps.reach.set(url, this.deps.family, false);
      ev.error = err.message;
      return { ok: false, ev, peers: [], nextMs: 0 };
    }
  }

  private trackerUrl(url: string): TrackerUrl {
    let t = this.parsed.get(url);
    if (!t) {
      try {
        t = parseTrackerUrl(url);
      } catch (e) {
        throw new TrackerError((e as Error).message);
      }
      this.parsed.set(url, t);
    }
    return t;
  }
}

/** Byte counts from the engine, made safe for the wire (non-negative integers). */
const count = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.min(Math.floor(n), Number.MAX_SAFE_INTEGER) : 0);
