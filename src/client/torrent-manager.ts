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
import { InputError, errorMessage } from '../util/errors.js';
import type { Client } from './client.js';
import type { SessionEntry, SessionStore } from './session-store.js';
import type { StatusFeed, TorrentDetail, TorrentSummary } from './status.js';
import type { TorrentSession } from './torrent-session.js';

export interface ManagerOptions {
  client: Client;
  feed: StatusFeed;
  store: SessionStore;
  /** Where added torrents' data goes. */
  downloadDir: string;
}

interface Managed {
  entry: SessionEntry;
  meta?: Metainfo;
  /** Running: added to the client. */
  session?: TorrentSession;
  /** The last session, once paused: its peers are gone but its files and pieces still show. */
  stopped?: TorrentSession;
  /** Why it cannot run (its .torrent copy is gone, its start failed). */
  problem?: string;
  /** The chain of operations on this torrent. */
  queue: Promise<void>;
}

/** Magnets start without metadata once the engine fetches it from peers; until then they are refused with this. */
export const MAGNET_NOT_YET = 'magnet links cannot be added yet (fetching the metadata from peers is not implemented); add the .torrent file instead';

export class TorrentManager {
  private readonly list: Managed[] = [];
  private closed = false;

  constructor(private readonly o: ManagerOptions) {}

  /** Load the saved session and start every torrent that was not paused. Resolves to the problems met (each says what to do). */
  async open(): Promise<string[]> {
    const problems: string[] = [];
    for (const entry of await this.o.store.load()) {
      const m: Managed = { entry, queue: Promise.resolve() };
      this.list.push(m);
      try {
        m.meta = await this.loadMeta(entry);
      } catch (e) {
        m.problem = `${errorMessage(e)}; remove it (d) and add it again`;
        problems.push(`${entry.name}: ${m.problem}`);
        continue;
      }
      if (!entry.paused) this.start(m, false);
    }
    return problems;
  }

  /** Add a .torrent path (~ allowed) or a magnet link; it starts at once. Bad input is an InputError saying what to do. */
  async add(input: string): Promise<TorrentSummary> {
    const text = input.trim();
    if (!text) throw new InputError('type the path of a .torrent file or a magnet link');
    if (isMagnet(text)) {
      parseMagnet(text); // a malformed link says so first
      throw new InputError(MAGNET_NOT_YET);
    }
    const file = resolve(text === '~' || text.startsWith('~/') ? join(homedir(), text.slice(1)) : text);
    const meta = await readTorrentFile(file);
    const known = this.find(meta.infoHashHex);
    if (known) throw new InputError(`"${meta.name}" is already in the session (${known.entry.paused ? 'paused' : 'running'})`);
    const copy = await this.o.store.keepTorrent(meta.infoHashHex, await readFile(file));
    const entry: SessionEntry = {
      infoHash: meta.infoHashHex,
      name: meta.name,
      dir: resolve(this.o.downloadDir),
      paused: false,
      addedAt: new Date().toISOString(),
      source: { kind: 'torrent', file: copy },
      have: 0,
      haveBytes: 0,
    };
    const m: Managed = { entry, meta, queue: Promise.resolve() };
    this.list.push(m);
    await this.persist();
    this.start(m, false);
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
      if (!m.entry.paused && m.session) return;
      m.entry.paused = false;
      await this.persist();
      this.start(m, false);
    });
  }

  /** Hash all its data again, ignoring the resume state; it runs afterwards. */
  recheck(infoHash: string): Promise<void> {
    return this.op(infoHash, async (m) => {
      await this.stop(m);
      m.entry.paused = false;
      await this.persist();
      this.start(m, true);
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
      if (deleteData && m.meta) result = await deleteTorrentData(m.meta, m.entry.dir);
    }).then(() => result);
  }

  /** The session in the order torrents were added. */
  summaries(): TorrentSummary[] {
    return this.list.map((m) => this.summaryOf(m));
  }

  detail(infoHash: string, cells: number): TorrentDetail | undefined {
    const m = this.find(infoHash);
    if (!m) return undefined;
    const s = m.session ?? m.stopped;
    if (!s) return { ...this.summaryOf(m), peerList: [], trackers: [], files: [], pieceMap: { cells: 0, have: [], availability: [] } };
    return { ...this.o.feed.detail(s, cells), ...this.overrides(m) };
  }

  /** Stop every torrent (peers closed, trackers told, resume saved) and save the session with its progress. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.list.map((m) => m.queue));
    for (const m of this.list) this.remember(m);
    await this.persist();
    await this.o.client.close();
  }

  private find(infoHash: string): Managed | undefined {
    return this.list.find((m) => m.entry.infoHash === infoHash);
  }

  private op(infoHash: string, fn: (m: Managed) => Promise<void>): Promise<void> {
    const m = this.find(infoHash);
    if (!m) return Promise.reject(new InputError('that torrent is no longer in the session'));
    if (this.closed) return Promise.reject(new Error('the session is closing'));
    const next = m.queue.then(() => fn(m));
    m.queue = next.catch(() => {});
    return next;
  }

  private async loadMeta(entry: SessionEntry): Promise<Metainfo> {
    if (entry.source.kind === 'magnet') throw new InputError(MAGNET_NOT_YET);
    const meta = await readTorrentFile(entry.source.file);
    if (meta.infoHashHex !== entry.infoHash) throw new InputError(`${entry.source.file} is another torrent than the one added`);
    return meta;
  }

  private start(m: Managed, forceRecheck: boolean): void {
    if (!m.meta) return;
    if (m.session) return;
    m.problem = undefined;
    const t = this.o.client.addTorrent(m.meta, m.entry.dir, { writable: true });
    m.session = t;
    m.stopped = undefined;
    this.o.feed.watch(t);
    t.start(forceRecheck).catch((e: unknown) => {
      // Stopped while checking (paused, closing): not a problem of the torrent.
      if (m.session !== t || this.closed) return;
      m.problem = `cannot start: ${errorMessage(e)}; fix that, then re-check it (c)`;
    });
  }

  private async stop(m: Managed): Promise<void> {
    const t = m.session;
    if (!t) return;
    m.session = undefined;
    this.o.feed.unwatch(t);
    await this.o.client.removeTorrent(t);
    m.stopped = t;
    this.remember(m);
  }

  /** Keep the last known progress in the entry (a paused torrent shows it without touching its data). */
  private remember(m: Managed): void {
    const s = m.session ?? m.stopped;
    if (!s || s.state === 'checking') return;
    const sum = this.o.feed.summary(s);
    m.entry.have = sum.have;
    m.entry.haveBytes = sum.haveBytes;
  }

  private persist(): Promise<void> {
    return this.o.store.save(this.list.map((m) => m.entry));
  }

  private summaryOf(m: Managed): TorrentSummary {
    if (m.session) return { ...this.o.feed.summary(m.session), ...this.overrides(m) };
    const e = m.entry, meta = m.meta;
    const total = meta?.totalLength ?? 0;
    const base = m.stopped ? this.o.feed.summary(m.stopped) : undefined;
    return {
      infoHash: e.infoHash,
      name: meta?.name ?? e.name,
      state: m.problem ? 'error' : 'paused',
      pieces: meta?.pieceCount ?? 0,
      have: base?.have ?? e.have,
      totalBytes: total,
      haveBytes: base?.haveBytes ?? e.haveBytes,
      percent: total === 0 ? 0 : Math.floor(((base?.haveBytes ?? e.haveBytes) / total) * 10000) / 100,
      downRate: 0,
      upRate: 0,
      downloaded: base?.downloaded ?? 0,
      uploaded: base?.uploaded ?? 0,
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
    if (!m.session) return { state: 'paused', downRate: 0, upRate: 0, eta: null, peers: 0, peers4: 0, peers6: 0, seeds: 0 };
    return {};
  }
}
