/**
 * Every torrent of a `sixswarm ui` session in one Client: add (a .torrent path or a magnet),
 * pause, resume, remove (keeping or deleting the data), re-check, and the list kept on disk.
 * A paused torrent is not in the Client at all: pausing stops its TorrentSession (peers closed,
 * trackers told, resume state saved) and resuming starts a new one, whose check trusts that
 * resume state. Operations on one torrent run one after another.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMagnet, parseMagnet } from '../metainfo/magnet.js';
import { readTorrentFile } from '../metainfo/torrent.js';
import type { Metainfo } from '../metainfo/types.js';
import { deleteTorrentData, type DeleteResult } from '../storage/delete-data.js';
import { loadMetadata } from '../storage/metadata-store.js';
import { InputError, errorMessage } from '../util/errors.js';
import type { Engine } from '../engine/engine.js';
import type { SessionEntry, SessionStore } from './session-store.js';
import type { StatusFeed, TorrentDetail, TorrentSummary } from '../status/feed.js';
import type { Torrent, TorrentSource } from '../engine/torrent.js';

export interface SessionOptions {
  engine: Engine;
  feed: StatusFeed;
  store: SessionStore;
  /** Where added torrents' data goes. */
  downloadDir: string;
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
  private closed = false;

  constructor(private readonly o: SessionOptions) {}

  /** Load the saved session and start every torrent that was not paused. Resolves to the problems met (each says what to do). */
  async open(): Promise<string[]> {
    const problems: string[] = [];
    for (const entry of await this.o.store.load()) {
      const m: Managed = { entry, queue: Promise.resolve() };
      this.list.push(m);
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

  /** Add a .torrent path (~ allowed) or a magnet link; it starts at once. Bad input is an InputError saying what to do. */
  async add(input: string): Promise<TorrentSummary> {
    const text = input.trim();
    if (!text) throw new InputError('type the path of a .torrent file or a magnet link');
    let source: TorrentSource;
    let saved: SessionEntry['source'];
    if (isMagnet(text)) {
      const magnet = parseMagnet(text);
      this.refuseKnown(magnet.infoHashHex, magnet.name ?? magnet.infoHashHex);
      source = { magnet };
      saved = { kind: 'magnet', uri: text };
    } else {
      const file = resolve(text === '~' || text.startsWith('~/') ? join(homedir(), text.slice(1)) : text);
      const meta = await readTorrentFile(file);
      this.refuseKnown(meta.infoHashHex, meta.name);
      source = { meta };
      saved = { kind: 'torrent', file: await this.o.store.keepTorrent(meta.infoHashHex, await readFile(file)) };
    }
    const infoHash = 'meta' in source ? source.meta.infoHashHex : source.magnet.infoHashHex;
    const entry: SessionEntry = {
      infoHash,
      name: 'meta' in source ? source.meta.name : (source.magnet.name ?? infoHash),
      dir: resolve(this.o.downloadDir),
      paused: false,
      addedAt: new Date().toISOString(),
      source: saved,
      have: 0,
      haveBytes: 0,
    };
    const m: Managed = { entry, source, queue: Promise.resolve() };
    this.list.push(m);
    await this.persist();
    void this.enqueue(m, () => this.start(m, false));
    return this.summaryOf(m);
  }

  pause(infoHash: string): Promise<void> {
    return this.op(infoHash, async (m) => {
      if (m.entry.paused) return;
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

  /** Hash all its data again, ignoring the resume state; it runs afterwards. */
  recheck(infoHash: string): Promise<void> {
    return this.op(infoHash, async (m) => {
      await this.stop(m);
      m.entry.paused = false;
      await this.persist();
      await this.start(m, true);
    });
  }

  /** Take it out of the session; with `deleteData`, its own files go too (see deleteTorrentData). */
  remove(infoHash: string, deleteData: boolean): Promise<DeleteResult | undefined> {
    let result: DeleteResult | undefined;
    return this.op(infoHash, async (m) => {
      await this.stop(m);
      this.list.splice(this.list.indexOf(m), 1);
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
    if (known) throw new InputError(`"${name}" is already in the session (${known.entry.paused ? 'paused' : 'running'})`);
  }

  private find(infoHash: string): Managed | undefined {
    return this.list.find((m) => m.entry.infoHash === infoHash);
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

  /** Add it to the engine (its lock taken: another process running it in that folder is a problem to show) and start it. */
  private async start(m: Managed, forceRecheck: boolean): Promise<void> {
    if (!m.source || m.torrent || this.closed) return;
    m.problem = undefined;
    let t: Torrent;
    try {
      t = await this.o.engine.addTorrent(m.source, m.entry.dir, { writable: true });
    } catch (e) {
      m.problem = `cannot start: ${errorMessage(e)}; then resume it (r)`;
      return;
    }
    // Seeded enough (--seed-ratio, --seed-time): it is paused, as Transmission stops such a torrent.
    t.on('event', (e) => {
      if (e.event === 'seed-goal') void this.pause(m.entry.infoHash).catch(() => {});
    });
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
