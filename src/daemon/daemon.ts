/**
 * `sixswarm daemon`: the session the `ui` keeps, headless (its folder locked, naming the daemon
 * and where to reach it), driven over HTTP: the Transmission RPC, Transmission's web page when
 * installed, and sixswarm's own page with its live updates. Everything it does and is asked to
 * do is one typed event stream, which the command turns into log lines or JSON.
 */
import { EventEmitter } from 'node:events';
import { Engine, type EngineOptions } from '../engine/engine.js';
import { bindTunnel, networkFor } from '../engine/tunnel-binding.js';
import { BodyBudget } from '../http/body.js';
import type { Credentials } from '../http/credentials.js';
import { RequestGuard } from '../http/guard.js';
import { HttpFront, type Bind, type Listening } from '../http/http-front.js';
import { StaticFiles } from '../http/static-files.js';
import { hostKey } from '../net/address.js';
import { formatHostPort } from '../net/hostport.js';
import type { DownloadFolders } from '../session/download-folders.js';
import { lockSession } from '../session/session-lock.js';
import { Session } from '../session/session.js';
import { SessionStore } from '../session/session-store.js';
import { StatusFeed, type EngineEvent, type TorrentSummary } from '../status/feed.js';
import type { BackendSettings, RpcBackend, RunStats } from '../transmission-rpc/backend.js';
import { RpcMethods, type Done } from '../transmission-rpc/methods.js';
import { RpcEndpoint, SessionToken, type RpcOutcome } from '../transmission-rpc/rpc-endpoint.js';
import type { TunnelClient } from '../tunnel/client.js';
import type { PidLock } from '../util/pid-lock.js';
import { every } from '../util/ticker.js';
import { errorMessage } from '../util/errors.js';
import { VERSION } from '../version.js';
import { EventStreams } from './event-stream.js';
import { RateHistoryBook } from './rate-history.js';
import { daemonRoutes } from './routes.js';
import type { PageDetail, PageSnapshot } from './web-types.js';
import { ownWebRoot } from './web-home.js';

export interface DaemonOptions {
  engine: EngineOptions;
  sessionDir: string;
  folders: DownloadFolders;
  http: {
    binds: Bind[];
    /** Names besides localhost and IP literals the daemon answers to (the Host header). */
    hostNames: string[];
    credentials?: Credentials;
    tls?: { cert: Buffer; key: Buffer };
  };
  /** Transmission's web page, served at /transmission/web/. */
  transmissionWeb?: string;
  /** A tunnel the caller started; the engine uses its address once it is up. */
  tunnel?: TunnelClient;
  /** What the locks say runs them. */
  command: string;
  /** Hears every event from the start (listening sockets, session problems). */
  onEvent?: (e: DaemonEvent) => void;
}

/** The daemon's own events, besides the engine's. */
export type DaemonEvent =
  | EngineEvent
  | { event: 'web-listening'; url: string; family: 4 | 6; address: string; port: number; tls: boolean }
  /** A remote changed something (added, started, stopped, removed, set). */
  | ({ event: 'remote'; from: string; user?: string } & Done)
  /** A request was refused (a bad login, a wrong Host, a malformed or refused RPC); said at most a few times a minute per host. */
  | { event: 'refused'; from: string; status?: number; method?: string; reason: string; suppressed: number }
  /** A torrent of the session cannot run; what to do is in the message. */
  | { event: 'session-problem'; message: string };

/** How long a computed list of summaries serves every request. */
const SUMMARY_MS = 250;
/** Refusals said per host and minute; the rest are counted into the next line said. */
const REFUSALS_SAID_PER_MINUTE = 10;

export class Daemon extends EventEmitter<{ event: [DaemonEvent] }> {
  private readonly engine: Engine;
  private readonly feed: StatusFeed;
  private readonly session: Session;
  private readonly front: HttpFront;
  private readonly streams: EventStreams;
  private readonly history = new RateHistoryBook();
  private readonly methods: RpcMethods;
  private readonly token = new SessionToken();
  private readonly startedAt = Date.now();
  private readonly refusals = new Map<string, { minute: number; said: number; suppressed: number }>();
  private torrentsAdded = 0;
  private cached?: { at: number; revision: number; list: TorrentSummary[] };
  private listening: Listening[] = [];
  private stopTicking?: () => void;
  private stopping?: Promise<void>;
  private requestStop!: (why: string) => void;
  /** Resolves with why, once a remote asks the daemon to stop (session-close); whoever runs it stops it. */
  readonly stopRequested = new Promise<string>((resolve) => (this.requestStop = resolve));

  private constructor(
    private readonly o: DaemonOptions,
    private readonly lock: PidLock,
  ) {
    super();
    if (o.onEvent) this.on('event', o.onEvent);
    const tunnel = o.tunnel;
    // In the tunnel's stream mode, IPv6 goes over its relays.
    this.engine = new Engine({ ...o.engine, lockCommand: o.command }, networkFor(tunnel, o.engine.transports));
    this.feed = new StatusFeed(this.engine, { tunnel: () => tunnel?.status() });
    this.feed.on('event', (e) => this.emit('event', e));
    if (tunnel) bindTunnel(this.engine, tunnel, (st) => this.feed.publish({ ...st, event: 'tunnel' }));
    this.session = new Session({ engine: this.engine, feed: this.feed, store: new SessionStore(o.sessionDir), downloadDir: o.folders.defaultDir });
    this.methods = new RpcMethods(this.backend(), () => this.token.value);
    const guard = new RequestGuard({ hostNames: o.http.hostNames, realm: 'sixswarm', ...(o.http.credentials ? { credentials: o.http.credentials } : {}) });
    this.streams = new EventStreams({
      snapshot: (detailOf) => this.pageSnapshot(detailOf),
      tick: () => {
        const torrents = this.summaries();
        return { at: Date.now(), torrents, engine: this.engineView(), sample: { down: torrents.reduce((n, t) => n + t.downRate, 0), up: torrents.reduce((n, t) => n + t.upRate, 0) } };
      },
      detail: (h) => this.pageDetail(h),
    });
    const rpc = new RpcEndpoint(this.methods, this.token, new BodyBudget(64 * 1024 * 1024));
    const handler = daemonRoutes({
      guard,
      rpc,
      streams: this.streams,
      ownPage: new StaticFiles(ownWebRoot()),
      ...(o.transmissionWeb ? { transmissionPage: new StaticFiles(o.transmissionWeb) } : {}),
      onRpc: (outcome, source, user) => this.rpcDone(outcome, source, user),
      onRefused: (source, status, reason) => this.refused(source, { status, reason }),
    });
    this.front = new HttpFront({ binds: o.http.binds, ...(o.http.tls ? { tls: o.http.tls } : {}) }, handler, (e) =>
      this.emit('event', { event: 'error', message: `a web request failed inside the daemon: ${errorMessage(e)}` }),
    );
  }

  /**
   * Lock the session folder, listen for peers, resume the session, then serve HTTP. A locked
   * session, a port in use or a damaged session file is thrown, with nothing left running.
   */
  static async start(o: DaemonOptions): Promise<Daemon> {
    const lock = await lockSession(o.sessionDir, o.command);
    let d: Daemon | undefined;
    try {
      d = new Daemon(o, lock);
      await d.begin();
      return d;
    } catch (e) {
      await d?.stop().catch(() => {});
      await lock.release();
      throw e;
    }
  }

  private async begin(): Promise<void> {
    for (const l of await this.engine.listen()) this.feed.publish({ event: 'listening', family: l.family, address: l.address, port: l.port });
    for (const problem of await this.session.open()) this.emit('event', { event: 'session-problem', message: problem });
    this.listening = await this.front.listen();
    const urls = this.urls();
    await this.lock.setNote(urls.join(' or '));
    for (const [i, l] of this.listening.entries()) this.emit('event', { event: 'web-listening', url: urls[i]!, ...l, tls: this.front.tls });
    this.stopTicking = every(1000, () => {
      this.history.sample(this.summaries());
      this.streams.tick();
    });
  }

  /**
   * The session's summaries, computed once for everyone who asks within SUMMARY_MS (a thousand
   * RPC requests at once, the event streams' tick) and again at once after any change to the list.
   */
  private summaries(): TorrentSummary[] {
    const now = Date.now();
    const c = this.cached;
    if (c && now - c.at < SUMMARY_MS && c.revision === this.session.revision) return c.list;
    const list = this.session.summaries();
    this.cached = { at: now, revision: this.session.revision, list };
    return list;
  }

  /** A torrent's name, for log lines. */
  nameOf(infoHash: string): string | undefined {
    return this.session.nameOf(infoHash);
  }

  /** Where the web page is (one URL per listening socket). */
  urls(): string[] {
    const scheme = this.front.tls ? 'https' : 'http';
    return this.listening.map((l) => `${scheme}://${formatHostPort(l.address === '::' ? '::1' : l.address === '0.0.0.0' ? '127.0.0.1' : l.address, l.port)}/`);
  }

  /** Stop serving, stop every torrent (resume saved, trackers told), save the session, let go of the lock. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopTicking?.();
      this.streams.close();
      await this.front.close();
      try {
        await this.session.close();
      } finally {
        await this.o.tunnel?.stop();
        await this.lock.release();
      }
    })();
    return this.stopping;
  }

  private backend(): RpcBackend {
    const engine = this.engine;
    return {
      session: this.session,
      summaries: () => this.summaries(),
      folders: this.o.folders,
      status: () => this.feed.snapshot(),
      settings: (): BackendSettings => ({
        version: VERSION,
        configDir: this.o.sessionDir,
        peerPort: this.engine.listening()[0]?.port ?? engine.opts.port,
        encryption: engine.opts.encryption ?? 'prefer',
        transports: [...engine.transports()],
        dht: !!engine.dht,
        lsd: !!engine.lsd,
        ipv4: engine.opts.ipv4,
        ipv6: engine.opts.ipv6,
        maxPeersPerTorrent: engine.opts.maxPeersPerTorrent ?? 60,
        rates: { ...(engine.limits.down.rate !== undefined ? { down: engine.limits.down.rate } : {}), ...(engine.limits.up.rate !== undefined ? { up: engine.limits.up.rate } : {}) },
        startedAt: this.startedAt,
        ...(engine.opts.seedGoal?.ratio !== undefined ? { seedRatio: engine.opts.seedGoal.ratio } : {}),
        ...(engine.opts.seedGoal?.seconds !== undefined ? { seedSeconds: engine.opts.seedGoal.seconds } : {}),
      }),
      setRates: (rates) => {
        engine.limits.down.setRate(rates.down);
        engine.limits.up.setRate(rates.up);
      },
      stats: (): RunStats => {
        const all = this.summaries();
        return {
          uploaded: all.reduce((n, s) => n + s.uploaded, 0),
          downloaded: all.reduce((n, s) => n + s.downloaded, 0),
          secondsActive: Math.floor((Date.now() - this.startedAt) / 1000),
          torrentsAdded: this.torrentsAdded,
        };
      },
      shutDown: () => this.requestStop('a remote asked it to (session-close)'),
    };
  }

  private engineView() {
    const { torrents: _, ...engine } = this.feed.snapshot();
    return engine;
  }

  private pageDetail(infoHash: string): PageDetail | undefined {
    const torrent = this.session.detail(infoHash, 100);
    return torrent && { torrent, history: this.history.of(infoHash) };
  }

  private pageSnapshot(detailOf: string | undefined): PageSnapshot {
    const detail = detailOf ? this.pageDetail(detailOf) : undefined;
    return {
      at: Date.now(),
      daemon: { version: VERSION, session: this.o.sessionDir, downloadDir: this.o.folders.defaultDir, allowedDirs: this.o.folders.roots },
      torrents: this.summaries(),
      engine: this.engineView(),
      history: this.history.totals(),
      ...(detail ? { detail } : {}),
    };
  }

  private rpcDone(outcome: RpcOutcome, source: string, user: string | undefined): void {
    if (outcome.bug !== undefined) this.emit('event', { event: 'error', message: `the RPC method ${outcome.method} failed inside the daemon: ${errorMessage(outcome.bug)}` });
    if (outcome.refused !== undefined) return this.refused(source, { method: outcome.method, reason: outcome.refused });
    if (!outcome.done) return;
    if (outcome.done.method === 'torrent-add') this.torrentsAdded++;
    this.emit('event', { event: 'remote', from: source, ...(user !== undefined ? { user } : {}), ...outcome.done });
  }

  /** Say a refusal, unless this host had its share this minute (the next line said counts the rest). */
  private refused(source: string, what: { status?: number; method?: string; reason: string }): void {
    const host = hostKey(source);
    const minute = Math.floor(Date.now() / 60_000);
    let r = this.refusals.get(host);
    if (!r || r.minute !== minute) {
      r = { minute, said: 0, suppressed: r?.suppressed ?? 0 };
      this.refusals.delete(host);
      this.refusals.set(host, r);
      if (this.refusals.size > 1000) this.refusals.delete(this.refusals.keys().next().value!);
    }
    if (r.said >= REFUSALS_SAID_PER_MINUTE) {
      r.suppressed++;
      return;
    }
    r.said++;
    const suppressed = r.suppressed;
    r.suppressed = 0;
    this.emit('event', { event: 'refused', from: source, ...what, suppressed });
  }
}
