/**
 * Every torrent of a session (`sixswarm ui`, `sixswarm daemon`) in one engine: add (a .torrent
 * path or its bytes, or a magnet), pause, resume, remove (keeping or deleting the data),
 * re-check, labels and per-torrent rate limits, and the list kept on disk. A paused torrent is
 * not in the engine at all: pausing stops its Torrent (peers closed, trackers told, resume state
 * saved) and resuming starts a new one, whose check trusts that resume state. Operations on one
 * torrent run one after another.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMagnet, parseMagnet } from '../metainfo/magnet.js';
import { parseTorrent, readTorrentFile } from '../metainfo/torrent.js';
import type { Metainfo } from '../metainfo/types.js';
import { deleteTorrentData, type DeleteResult } from '../storage/delete-data.js';
import { loadMetadata } from '../storage/metadata-store.js';
import { InputError, errorMessage } from '../util/errors.js';
import type { Engine } from '../engine/engine.js';
import type { SessionEntry, SessionStore } from './session-store.js';
import type { FileStatus, PeerStatus, StatusFeed, TorrentDetail, TorrentSummary, TrackerStatus } from '../status/feed.js';
import type { Torrent, TorrentSource } from '../engine/torrent.js';

export interface SessionOptions {
  engine: Engine;
  feed: StatusFeed;
  store: SessionStore;
  /** Where added torrents' data goes. */
  downloadDir: string;
}

/** How a torrent joins the session. */
export interface AddOptions {
  /** Where its data goes (absolute; the caller checked it): the session's download folder by default. */
  dir?: string;
  /** Added paused: kept in the list, not started. */
  paused?: boolean;
  labels?: string[];
}

/** The torrent is in the session already: which one. */
export class DuplicateError extends InputError {
  constructor(
    readonly infoHash: string,
    name: string,
    paused: boolean,
  ) {
    super(`"${name}" is already in the session (${paused ? 'paused' : 'running'})`);
    this.name = 'DuplicateError';
  }
}

/** What the session knows of one torrent besides its status: its list entry and its metainfo, once known. */
export interface TorrentView {
  entry: Readonly<SessionEntry>;
  meta?: Metainfo;
  /** It runs (in the engine), as opposed to paused or unable to start. */
  running: boolean;
}

/** One torrent's detail, a part at a time. */
export interface DetailParts {
  peers(): PeerStatus[];
  trackers(): TrackerStatus[];
  files(): FileStatus[];
  /** Its verified pieces as a BitTorrent bitfield (the first piece in the high bit), once its metadata is known. */
  pieces(): Uint8Array | undefined;
}

interface Managed {
  entry: SessionEntry;
  /** What it starts from: its metainfo once known (a magnet's, after the fetch), else the magnet. */
  source?: TorrentSource;
  /** Running: added to the client. */
  torrent?: Torrent;
  /** The last session, once paused: its peers are gone but its files and pieces still show. */
  stopped?: Torrent;
  /** Why it cannot run (its .torrent copy is gone, its start failed). */
  problem?: string;
  /** The chain of operations on this torrent. */
  queue: Promise<void>;
}

export class Session {
  private readonly list: Managed[] = [];
  /** The same torrents by info hash (a list of a thousand is looked up a thousand times per request). */
  private readonly byHash = new Map<string, Managed>();
  private closed = false;
  private changes = 0;

  constructor(private readonly o: SessionOptions) {}

  /** Load the saved session and start every torrent that was not paused. Resolves to the problems met (each says what to do). */
  async open(): Promise<string[]> {
    const problems: string[] = [];
    for (const entry of await this.o.store.load((p) => problems.push(p))) {
      const m: Managed = { entry, queue: Promise.resolve() };
      this.list.push(m);
      this.byHash.set(entry.infoHash, m);
      try {
        m.source = await this.loadSource(entry);
      } catch (e) {
        m.problem = `${errorMessage(e)}; remove it (d) and add it again`;
        problems.push(`${entry.name}: ${m.problem}`);
        continue;
      }
      if (!entry.paused) void this.enqueue(m, () => this.start(m, false));
    }
    return problems;
  }

  /** Add a .torrent path (~ allowed) or a magnet link; it starts at once unless added paused. Bad input is an InputError saying what to do. */
  async add(input: string, opts: AddOptions = {}): Promise<TorrentSummary> {
    const text = input.trim();
    if (!text) throw new InputError('type the path of a .torrent file or a magnet link');
    if (isMagnet(text)) {
      const magnet = parseMagnet(text);
      this.refuseKnown(magnet.infoHashHex, magnet.name ?? magnet.infoHashHex);
      return this.addSource({ magnet }, { kind: 'magnet', uri: text }, opts);
    }
    const file = resolve(text === '~' || text.startsWith('~/') ? join(homedir(), text.slice(1)) : text);
    const meta = await readTorrentFile(file);
    this.refuseKnown(meta.infoHashHex, meta.name);
    return this.addSource({ meta }, { kind: 'torrent', file: await this.o.store.keepTorrent(meta.infoHashHex, await readFile(file)) }, opts);
  }

  /** Add a .torrent's bytes (an upload): validated like any torrent file. */
  async addTorrent(bytes: Buffer, opts: AddOptions = {}): Promise<TorrentSummary> {
    const meta = parseTorrent(bytes);
    this.refuseKnown(meta.infoHashHex, meta.name);
    return this.addSource({ meta }, { kind: 'torrent', file: await this.o.store.keepTorrent(meta.infoHashHex, bytes) }, opts);
  }

  private async addSource(source: TorrentSource, saved: SessionEntry['source'], opts: AddOptions): Promise<TorrentSummary> {
    const infoHash = 'meta' in source ? source.meta.infoHashHex : source.magnet.infoHashHex;
    // Checked again after the awaits above: two adds of one torrent at once must not both get in.
    this.refuseKnown(infoHash, 'meta' in source ? source.meta.name : (source.magnet.name ?? infoHash));
    const entry: SessionEntry = {
      infoHash,
      name: 'meta' in source ? source.meta.name : (source.magnet.name ?? infoHash),
      dir: resolve(opts.dir ?? this.o.downloadDir),
      paused: opts.paused ?? false,
      addedAt: new Date().toISOString(),
      source: saved,
      have: 0,
      haveBytes: 0,
      ...(opts.labels?.length ? { labels: [...opts.labels] } : {}),
    };
    const m: Managed = { entry, source, queue: Promise.resolve() };
    this.list.push(m);
    this.byHash.set(infoHash, m);
    await this.persist();
    if (!entry.paused) void this.enqueue(m, () => this.start(m, false));
    return this.summaryOf(m);
  }

  pause(infoHash: string): Promise<void> {
    return this.op(infoHash, async (m) => {
      // A paused torrent may still run: being re-checked.
      if (m.entry.paused && !m.torrent) return;
      await this.stop(m);
      m.entry.paused = true;
      await this.persist();
    });
  }

  resume(infoHash: string): Promise<void> {
    return this.op(infoHash, async (m) => {
      if (!m.entry.paused && m.torrent) return;
      m.entry.paused = false;
      await this.persist();
      await this.start(m, false);
    });
  }

  /** Hash all its data again, ignoring the resume state; a running torrent runs afterwards, a paused one stays paused. */
  recheck(infoHash: string): Promise<void> {
    return this.op(infoHash, async (m) => {
      await this.stop(m);
      await this.start(m, true);
    });
  }

  /** Ask its trackers (and the DHT) for peers now. */
  reannounce(infoHash: string): Promise<void> {
    return this.op(infoHash, async (m) => m.torrent?.announceSoon());
  }

  setLabels(infoHash: string, labels: string[]): Promise<void> {
    return this.op(infoHash, async (m) => {
      if (labels.length > 0) m.entry.labels = [...labels];
      else delete m.entry.labels;
      await this.persist();
    });
  }

  /** Its own rate limits (bytes per second; undefined: none of its own), at once and from now on. */
  setRates(infoHash: string, rates: { down?: number; up?: number }): Promise<void> {
    return this.op(infoHash, async (m) => {
      if (rates.down === undefined && rates.up === undefined) delete m.entry.rates;
      else m.entry.rates = { ...(rates.down !== undefined ? { down: rates.down } : {}), ...(rates.up !== undefined ? { up: rates.up } : {}) };
      m.torrent?.limits?.down.setRate(rates.down);
      m.torrent?.limits?.up.setRate(rates.up);
      await this.persist();
    });
  }

  /** Take it out of the session; with `deleteData`, its own files go too (see deleteTorrentData). */
  remove(infoHash: string, deleteData: boolean): Promise<DeleteResult | undefined> {
    let result: DeleteResult | undefined;
    return this.op(infoHash, async (m) => {
      await this.stop(m);
      this.list.splice(this.list.indexOf(m), 1);
      this.byHash.delete(m.entry.infoHash);
      await this.persist();
      if (m.entry.source.kind === 'torrent') await this.o.store.forgetTorrent(m.entry.infoHash);
      const meta = metaOf(m);
      if (deleteData && meta) result = await deleteTorrentData(meta, m.entry.dir);
    }).then(() => result);
  }

  /** The session in the order torrents were added. */
  summaries(): TorrentSummary[] {
    return this.list.map((m) => this.summaryOf(m));
  }

  /** Its name (from its metadata once known), if it is in the session. */
  nameOf(infoHash: string): string | undefined {
    const m = this.find(infoHash);
    return m && (metaOf(m)?.name ?? m.entry.name);
  }

  /** Its list entry (read only) and metainfo, once known. */
  view(infoHash: string): TorrentView | undefined {
    const m = this.find(infoHash);
    if (!m) return undefined;
    const meta = metaOf(m);
    return { entry: m.entry, ...(meta ? { meta } : {}), running: !!m.torrent };
  }

  /** Counts the changes to the list and its entries (added, paused, resumed, removed, labelled): whoever caches summaries compares it. */
  get revision(): number {
    return this.changes;
  }

  /**
   * Its detail part by part, each computed when asked (a list of many torrents needs the peers of
   * each, not their files); undefined for a torrent that has not run in this process.
   */
  parts(infoHash: string): DetailParts | undefined {
    const m = this.find(infoHash);
    const t = m?.torrent ?? m?.stopped;
    if (!t) return undefined;
    const feed = this.o.feed;
    const running = !!m?.torrent;
    return {
      peers: () => (running ? feed.peers(t) : []),
      trackers: () => feed.trackers(t),
      files: () => feed.files(t),
      pieces: () => feed.pieces(t),
    };
  }

  detail(infoHash: string, cells: number): TorrentDetail | undefined {
    const m = this.find(infoHash);
    if (!m) return undefined;
    const s = m.torrent ?? m.stopped;
    if (!s) return { ...this.summaryOf(m), peerList: [], trackers: [], files: [], pieceMap: { cells: 0, have: [], availability: [] } };
    return { ...this.o.feed.detail(s, cells), ...this.overrides(m) };
  }

  /** Stop every torrent (peers closed, trackers told, resume saved) and save the session with its progress. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.list.map((m) => m.queue));
    for (const m of this.list) this.remember(m);
    await this.persist();
    await this.o.engine.close();
  }

  private refuseKnown(infoHash: string, name: string): void {
    const known = this.find(infoHash);
    if (known) throw new DuplicateError(infoHash, name, known.entry.paused);
  }

  private find(infoHash: string): Managed | undefined {
    return this.byHash.get(infoHash);
  }

  private op(infoHash: string, fn: (m: Managed) => Promise<void>): Promise<void> {
    const m = this.find(infoHash);
    if (!m) return Promise.reject(new InputError('that torrent is no longer in the session'));
    if (this.closed) return Promise.reject(new Error('the session is closing'));
    return this.enqueue(m, () => fn(m));
  }

  /** Operations on one torrent run one after another. */
  private enqueue(m: Managed, fn: () => Promise<void>): Promise<void> {
    const next = m.queue.then(fn);
    m.queue = next.catch(() => {});
    return next;
  }

  /** A magnet whose metadata was fetched in an earlier run starts from that metadata. */
  private async loadSource(entry: SessionEntry): Promise<TorrentSource> {
    if (entry.source.kind === 'magnet') {
      const magnet = parseMagnet(entry.source.uri);
      if (magnet.infoHashHex !== entry.infoHash) throw new InputError(`its magnet link names another torrent than the one added`);
      const meta = await loadMetadata(this.o.engine.opts.stateDir, entry.infoHash);
      return meta ? { meta, magnet } : { magnet };
    }
    const meta = await readTorrentFile(entry.source.file);
    if (meta.infoHashHex !== entry.infoHash) throw new InputError(`${entry.source.file} is another torrent than the one added`);
    return { meta };
  }

  /**
   * Add it to the engine (its lock taken: another process running it in that folder is a problem
   * to show) and start it. A paused torrent started for a re-check is stopped again once checked,
   * before it joins the swarm.
   */
  private async start(m: Managed, forceRecheck: boolean): Promise<void> {
    if (!m.source || m.torrent || this.closed) return;
    m.problem = undefined;
    let t: Torrent;
    try {
      t = await this.o.engine.addTorrent(m.source, m.entry.dir, { writable: true, ...(m.entry.rates ? { rates: m.entry.rates } : {}) });
    } catch (e) {
      m.problem = `cannot start: ${errorMessage(e)}; then resume it (r)`;
      return;
    }
    t.on('event', (e) => {
      // Seeded enough (--seed-ratio, --seed-time): it is paused, as Transmission stops such a torrent.
      if (e.event === 'seed-goal') void this.pause(m.entry.infoHash).catch(() => {});
      if (e.event === 'complete' && t.storage?.have.complete && !m.entry.doneAt) {
        m.entry.doneAt = new Date().toISOString();
        void this.persist().catch(() => {});
      }
    });
    if (m.entry.paused) {
      // Stopped from within the event, so that the torrent never joins the swarm; the torrent's
      // queue waits for that stop like for any operation.
      t.once('checked', () => {
        if (m.torrent !== t || !m.entry.paused) return;
        const stopping = this.stop(m);
        m.queue = m.queue.then(() => stopping).catch(() => {});
      });
    }
    m.torrent = t;
    m.stopped = undefined;
    this.o.feed.watch(t);
    t.start(forceRecheck).catch((e: unknown) => {
      // Stopped while checking (paused, closing): not a problem of the torrent.
      if (m.torrent !== t || this.closed) return;
      m.problem = `cannot start: ${errorMessage(e)}; fix that, then re-check it (c)`;
    });
  }

  private async stop(m: Managed): Promise<void> {
    const t = m.torrent;
    if (!t) return;
    m.torrent = undefined;
    this.o.feed.unwatch(t);
    await this.o.engine.removeTorrent(t);
    m.stopped = t;
    // A magnet that got its metadata starts from it next time.
    if (t.meta && m.source) m.source = { ...m.source, meta: t.meta };
    this.remember(m);
  }

  /** Keep the last known progress and name in the entry (a paused torrent shows them without touching its data). */
  private remember(m: Managed): void {
    const s = m.torrent ?? m.stopped;
    if (!s || s.state === 'checking' || !s.meta) return;
    const sum = this.o.feed.summary(s);
    m.entry.name = s.meta.name;
    m.entry.have = sum.have;
    m.entry.haveBytes = sum.haveBytes;
  }

  private persist(): Promise<void> {
    this.changes++;
    return this.o.store.save(this.list.map((m) => m.entry));
  }

  private summaryOf(m: Managed): TorrentSummary {
    if (m.torrent) return { ...this.o.feed.summary(m.torrent), ...this.overrides(m) };
    const e = m.entry, meta = metaOf(m);
    const total = meta?.totalLength ?? 0;
    const base = m.stopped ? this.o.feed.summary(m.stopped) : undefined;
    return {
      infoHash: e.infoHash,
      name: meta?.name ?? e.name,
      state: m.problem ? 'error' : m.entry.paused ? 'paused' : 'checking',
      pieces: meta?.pieceCount ?? 0,
      have: base?.have ?? e.have,
      totalBytes: total,
      haveBytes: base?.haveBytes ?? e.haveBytes,
      percent: total === 0 ? 0 : Math.floor(((base?.haveBytes ?? e.haveBytes) / total) * 10000) / 100,
      downRate: 0,
      upRate: 0,
      maxDown: base?.maxDown ?? null,
      maxUp: base?.maxUp ?? null,
      downloaded: base?.downloaded ?? 0,
      uploaded: base?.uploaded ?? 0,
      wasted: base?.wasted ?? 0,
      ratio: base?.ratio ?? null,
      eta: null,
      peers: 0,
      peers4: 0,
      peers6: 0,
      seeds: 0,
      candidates: 0,
      unreachable: 0,
      gone: 0,
      refusedCandidates: 0,
      ...(m.problem ? { error: m.problem } : {}),
    };
  }

  /** What the manager knows better than the session: paused, or why it cannot run. */
  private overrides(m: Managed): Partial<TorrentSummary> {
    if (m.problem) return { state: 'error', error: m.problem };
    if (!m.torrent) return { state: 'paused', downRate: 0, upRate: 0, eta: null, peers: 0, peers4: 0, peers6: 0, seeds: 0 };
    return {};
  }
}

function metaOf(m: Managed): Metainfo | undefined {
  return m.torrent?.meta ?? m.stopped?.meta ?? (m.source && 'meta' in m.source ? m.source.meta : undefined);
}
