/**
 * The engine's one status feed: typed snapshots of torrents, peers, trackers, our addresses and
 * the tunnel, and one typed event stream. The `--json` reporter, the plain and TTY progress
 * lines and the terminal UI all subscribe to it; none of them reaches into the engine.
 */
import { EventEmitter } from 'node:events';
import { classify, type AddressKind, type Family } from '../net/address.js';
import { parseHostPort } from '../net/hostport.js';
import type { Listening } from '../transport/network.js';
import type { TransportKind } from '../transport/transport.js';
import type { HolepunchSummary } from '../ext/ut-holepunch/index.js';
import type { PartnerCounts, PexSummary } from '../ext/ut-pex/index.js';
import type { HashStats } from '../swarm/hash-exchange.js';
import type { CheckProgress, CheckResult } from '../storage/piece-store.js';
import type { PeerInfo } from '../swarm/peer-info.js';
import type { PeerSourceKind } from '../swarm/peer-pool.js';
import type { WebSeedInfo } from '../swarm/web-seed.js';
import type { AnnounceEvent } from '../tracker/types.js';
import type { TunnelStatus } from '../tunnel/client.js';
import type { Engine } from '../engine/engine.js';
import { shareRatio } from '../engine/seed-goal.js';
import type { MappingEvent, ReachabilityVerdict } from '../portmap/index.js';
import type { DhtRound, DhtStatus } from '../discovery/dht-discovery.js';
import type { LsdStatus } from '../discovery/lsd-discovery.js';
import { interfaceAddresses } from '../net/interfaces.js';
import type { TorrentEvent, Torrent, TorrentState } from '../engine/torrent.js';

/** What the progress line and the torrent list show; `--json` prints it as the `progress` event. */
export interface TorrentSummary {
  infoHash: string;
  name: string;
  /** `paused`: stopped by the user, kept in the session (a manager's state, never the session's own). */
  state: TorrentState | 'paused';
  /** While checking: bytes hashed of bytes to hash. */
  checking?: CheckProgress;
  pieces: number;
  have: number;
  totalBytes: number;
  haveBytes: number;
  /**
   * Only some files selected: how many of how many, and the bytes of the pieces that holds (all
   * to download) and of those verified. `percent` and `eta` are then of the selection.
   */
  selected?: { files: number; of: number; bytes: number; haveBytes: number };
  /** 0..100, two decimals. */
  percent: number;
  downRate: number;
  upRate: number;
  /** The rate limits in force for this torrent (its own or the global one, whichever is lower), bytes/s; null: none. */
  maxDown: number | null;
  maxUp: number | null;
  downloaded: number;
  uploaded: number;
  /** Bytes downloaded that were not needed (endgame duplicates, pieces done meanwhile). */
  wasted: number;
  /** uploaded / downloaded, or uploaded / size when nothing was downloaded; null before anything moved. */
  ratio: number | null;
  /** Seconds to completion at the current rate; null when not downloading. */
  eta: number | null;
  peers: number;
  peers4: number;
  peers6: number;
  seeds: number;
  candidates: number;
  /** Dials that gave no connection (refused, timed out, closed during the handshake). */
  unreachable: number;
  /** Dials that found nothing listening (peers that left since someone told us of them). */
  gone: number;
  /** Addresses not taken as candidates: over a source's quota, or one PEX partner's or one host's cap. */
  refusedCandidates: number;
  /** The last unreachable peer and why. */
  lastUnreachable?: string;
  /** Peer exchange: partners, and what they sent (taken, filtered, capped, ignored). */
  pex?: PexSummary;
  /** BEP 52 (a v2 torrent): hashes messages taken from peers (piece layers, leaf hashes), answers and rejects sent. */
  hashes?: HashStats;
  /** BEP 55 holepunching: what we relayed, asked and dialed; `off` says why it is off or limited. */
  holepunch?: HolepunchSummary & { off?: string };
  error?: string;
  /** The session's tunnel, when one is up or trying. */
  tunnel?: TunnelStatus;
  /** With port mapping on: per family, the state of the router's mapping of our port. */
  mapping?: Record<Family, ReachabilityVerdict['state']>;
  /** The torrent's web seeds (BEP 19, BEP 17), when it has any and they are on: each one's state, rate and failures. */
  webSeeds?: WebSeedStatus[];
}

/** A web seed as the UI and --json show it. */
export type WebSeedStatus = WebSeedInfo;

/** A connected peer as the UI and --json show it: the swarm's own report of it, and where it sits. */
export interface PeerStatus
  extends Pick<PeerInfo, 'family' | 'client' | 'direction' | 'encrypted' | 'transport' | 'holepunched' | 'downRate' | 'upRate' | 'downloaded' | 'uploaded' | 'amChoking' | 'amInterested' | 'peerChoking' | 'peerInterested'> {
  address: string;
  /** How the connection runs: native IPv4, native IPv6, or IPv6 through our tunnel. */
  via: 'ipv4' | 'ipv6' | 'tunnel';
  source: PeerSourceKind;
  /** Share of the torrent the peer has, 0..1. */
  progress: number;
  /** What it sent us over PEX, when it is a PEX partner. */
  pex?: PartnerCounts;
}

export interface TrackerStatus {
  url: string;
  family: Family;
  lastAnnounce: number;
  nextAnnounce: number | null;
  peers4: number;
  peers6: number;
  error?: string;
  warning?: string;
}

export interface FileStatus {
  path: string;
  length: number;
  haveBytes: number;
  /** Part of the file selection (false: skipped, never created). */
  selected: boolean;
}

/** The torrent's pieces squeezed into cells: the share we have, and the mean availability in the swarm. */
export interface PieceMap {
  cells: number;
  have: number[];
  availability: number[];
}

export interface TorrentDetail extends TorrentSummary {
  peerList: PeerStatus[];
  trackers: TrackerStatus[];
  files: FileStatus[];
  pieceMap: PieceMap;
}

export interface AddressStatus {
  family: Family;
  address: string;
  kind: AddressKind | 'tunnel';
  /** The address we tell trackers and peers about (our global one of the family). */
  advertised: boolean;
  /** The interface it is on; absent for an address we added ourselves (the tunnel's). */
  ifname?: string;
}

/** An incoming connection seen over a family: someone outside reached us. */
export interface ReachedStatus {
  /** The connecting peer's address and its class. */
  from: string;
  kind: AddressKind;
  at: number;
}

export interface EngineStatus {
  torrents: TorrentSummary[];
  /** The rate limits of all torrents together, bytes per second; null: none. */
  limits?: { down: number | null; up: number | null };
  listening: Listening[];
  /** The peer transports spoken on those sockets (`--transports`). */
  transports: TransportKind[];
  addresses: AddressStatus[];
  /** Per family, the latest incoming connection; a family absent here has never reached us. */
  reached: Partial<Record<Family, ReachedStatus>>;
  tunnel?: TunnelStatus;
  /** The DHT node, while it runs. */
  dht?: DhtStatus;
  /** Local service discovery, while it runs: the interfaces joined per family, what was sent and heard. */
  lsd?: LsdStatus;
  /** Incoming connections our `--encryption` policy refused. */
  refused: number;
  /** Per family, what the gateway granted for our listening port, or why nothing (with port mapping on). */
  portMapping?: Record<Family, ReachabilityVerdict>;
}

/** Every event the engine reports; per-torrent events carry the torrent's info hash. */
export type EngineEvent =
  | ({ torrent: string } & TorrentEvent)
  | ({ event: 'tracker'; torrent: string; announce?: AnnounceEvent['event'] } & Omit<AnnounceEvent, 'event'>)
  | { event: 'checking'; torrent: string; checkedBytes: number; totalBytes: number }
  | ({ event: 'checked'; torrent: string; have: number; pieces: number } & CheckResult)
  /** A torrent's summary every second; like every per-torrent event, `torrent` is its info hash. */
  | ({ event: 'progress'; torrent: string } & Omit<TorrentSummary, 'infoHash'>)
  | { event: 'listening'; family: Family; address: string; port: number }
  | ({ event: 'tunnel' } & TunnelStatus)
  | ({ event: 'dht-listening' } & DhtStatus)
  /** One DHT lookup (and announce) of a torrent finished. */
  | ({ event: 'dht'; torrent: string } & Omit<DhtRound, 'infoHash'>)
  /** Local service discovery joined its groups, or the interfaces it joins changed (a laptop changed networks). */
  | ({ event: 'lsd-listening' } & LsdStatus)
  /** An incoming connection our `--encryption` policy refused (reported once a minute per host; `refused` in the snapshot counts them all). */
  | { event: 'peer-refused'; address: string; reason: string }
  /** A mapping of our port by the gateway changed: granted, renewed, moved, lost, failed, deleted. */
  | ({ event: 'port-mapping' } & MappingEvent)
  /** The engine's own trouble, not one torrent's (shutting down, the tunnel). */
  | { event: 'warning' | 'error'; message: string }
  | { event: 'stopped'; code: number };

/** How often a checking torrent reports, at most. */
const CHECK_REPORT_MS = 500;
/** A torrent whose summary stays the same still reports this often: a reader can tell a stalled torrent from a dead process. */
const UNCHANGED_PROGRESS_MS = 5000;

export interface StatusSource {
  /** The session's tunnel, if any. */
  tunnel?(): TunnelStatus | undefined;
}

export class StatusFeed extends EventEmitter<{ event: [EngineEvent] }> {
  private progressTimer?: NodeJS.Timeout;
  private readonly unreachableWhy = new Map<Torrent, string>();
  /** Followed torrents, kept after the engine let go of them so the last word on each can be said. */
  private readonly watched = new Set<Torrent>();
  private readonly reached: Partial<Record<Family, ReachedStatus>> = {};
  /** Per torrent, the progress last published (as JSON) and when. */
  private readonly lastProgress = new Map<Torrent, { json: string; at: number }>();

  constructor(
    private readonly engine: Engine,
    private readonly source: StatusSource = {},
  ) {
    super();
    engine.dht?.on('listening', (st) => this.publish({ event: 'dht-listening', ...st }));
    engine.dht?.on('round', ({ infoHash, ...r }) => this.publish({ event: 'dht', torrent: infoHash, ...r }));
    engine.dht?.on('warning', (message) => this.publish({ event: 'warning', message }));
    engine.lsd?.on('listening', (st) => this.publish({ event: 'lsd-listening', ...st }));
    engine.lsd?.on('warning', (message) => this.publish({ event: 'warning', message }));
    engine.on('port-mapping', (pm) => pm.on('mapping', (e) => this.publish({ event: 'port-mapping', ...e })));
    engine.on('refused', (address, reason) => this.publish({ event: 'peer-refused', address, reason }));
  }

  /** Report one event (the engine's own, or the CLI's: listening, stopped). */
  publish(e: EngineEvent): void {
    this.emit('event', e);
  }

  /** Follow a torrent: its events go out typed and tagged with its info hash. */
  watch(t: Torrent): void {
    const torrent = t.infoHashHex;
    this.watched.add(t);
    t.on('event', (e) => {
      if (!this.watched.has(t)) return;
      if (e.event === 'peer-unreachable' && !e.gone) this.unreachableWhy.set(t, `${e.address} ${e.reason}`);
      if (e.event === 'peer-connected' && e.direction === 'in') this.sawIncoming(e.family, e.address);
      this.publish({ torrent, ...e });
    });
    t.on('tracker', (ev) => this.publish({ ...ev, event: 'tracker', torrent, announce: ev.event }));
    let lastCheckReport = 0;
    t.on('checking', (p) => {
      const now = Date.now();
      if (now - lastCheckReport < CHECK_REPORT_MS && p.checkedBytes < p.totalBytes) return;
      lastCheckReport = now;
      this.publish({ event: 'checking', torrent, checkedBytes: p.checkedBytes, totalBytes: p.totalBytes });
    });
    t.on('checked', (r) => this.publish({ event: 'checked', torrent, have: t.storage?.have.count ?? 0, pieces: t.meta?.pieceCount ?? 0, ...r }));
  }

  /** Stop following a torrent (paused or removed): its late events and its progress are not reported. */
  unwatch(t: Torrent): void {
    this.watched.delete(t);
    this.unreachableWhy.delete(t);
    this.lastProgress.delete(t);
  }

  private sawIncoming(family: Family, label: string): void {
    let host = label;
    try {
      host = parseHostPort(label).host;
    } catch {
      // a label that is not host:port keeps its text
    }
    this.reached[family] = { from: label, kind: classify(host)?.kind ?? 'reserved', at: Date.now() };
  }

  /** Every `ms`, a `progress` event per running torrent whose summary changed (see publishProgress). */
  startProgress(ms = 1000): void {
    this.progressTimer = setInterval(() => this.publishProgress(), ms);
    this.progressTimer.unref();
  }

  stopProgress(): void {
    clearInterval(this.progressTimer);
  }

  /**
   * A `progress` event per running torrent whose summary changed since its last one, or that has
   * said nothing for UNCHANGED_PROGRESS_MS; with `all`, every running torrent's (the last word).
   */
  publishProgress(all = false): void {
    const now = Date.now();
    for (const t of this.watched) {
      if (!t.swarm) continue;
      const { infoHash, ...summary } = this.summary(t);
      const json = JSON.stringify(summary);
      const last = this.lastProgress.get(t);
      if (!all && last && last.json === json && now - last.at < UNCHANGED_PROGRESS_MS) continue;
      this.lastProgress.set(t, { json, at: now });
      this.publish({ event: 'progress', torrent: infoHash, ...summary });
    }
  }

  summary(t: Torrent): TorrentSummary {
    const { meta, storage } = t;
    const bytes = storage?.bytes();
    const haveBytes = bytes?.have ?? 0;
    const totalBytes = meta?.totalLength ?? 0;
    const sel = storage?.selection;
    const selected = sel && bytes && !sel.all ? { files: sel.count, of: meta!.files.filter((f) => !f.pad).length, bytes: bytes.wanted, haveBytes: bytes.wantedHave } : undefined;
    const [target, got] = selected ? [selected.bytes, selected.haveBytes] : [totalBytes, haveBytes];
    const s = t.swarm?.stats();
    const downRate = Math.round(s?.downRate ?? 0);
    const downloaded = s?.downloaded ?? 0;
    const uploaded = s?.uploaded ?? 0;
    const tunnel = this.source.tunnel?.();
    const why = this.unreachableWhy.get(t);
    const pm = this.engine.portMapping?.status();
    const webSeeds = t.swarm?.webSeedInfo() ?? [];
    return {
      infoHash: t.infoHashHex,
      name: t.name,
      state: t.state,
      ...(t.state === 'checking' && t.checkProgress ? { checking: { ...t.checkProgress } } : {}),
      pieces: meta?.pieceCount ?? 0,
      have: storage?.have.count ?? 0,
      totalBytes,
      haveBytes,
      ...(selected ? { selected } : {}),
      percent: !meta ? 0 : target === 0 ? 100 : Math.floor((got / target) * 10000) / 100,
      downRate,
      upRate: Math.round(s?.upRate ?? 0),
      maxDown: t.limits?.down.effective ?? null,
      maxUp: t.limits?.up.effective ?? null,
      downloaded,
      uploaded,
      wasted: s?.wasted ?? 0,
      ratio: shareRatio(uploaded, downloaded, totalBytes),
      eta: meta && downRate > 0 && got < target ? (target - got) / downRate : null,
      peers: s?.peers ?? 0,
      peers4: s?.peers4 ?? 0,
      peers6: s?.peers6 ?? 0,
      seeds: s?.seeds ?? 0,
      candidates: s?.candidates ?? 0,
      unreachable: s?.unreachable ?? 0,
      gone: s?.gone ?? 0,
      refusedCandidates: s?.refusedCandidates ?? 0,
      ...(why ? { lastUnreachable: why } : {}),
      ...(t.pex ? { pex: t.pex.summary() } : {}),
      ...(s?.hashes ? { hashes: s.hashes } : {}),
      ...(t.holepunch ? { holepunch: t.holepunch.summary() } : {}),
      ...(t.lastError ? { error: t.lastError } : {}),
      ...(tunnel ? { tunnel } : {}),
      ...(pm ? { mapping: { 4: pm[4].state, 6: pm[6].state } } : {}),
      ...(webSeeds.length > 0 ? { webSeeds } : {}),
    };
  }

  /** Its verified pieces as a BitTorrent bitfield (the first piece in the high bit); undefined before its metadata. */
  pieces(t: Torrent): Uint8Array | undefined {
    const have = t.storage?.have;
    return have && Uint8Array.from(have.bytes);
  }

  detail(t: Torrent, cells = 64): TorrentDetail {
    return { ...this.summary(t), peerList: this.peers(t), trackers: this.trackers(t), files: this.files(t), pieceMap: this.pieceMap(t, cells) };
  }

  snapshot(): EngineStatus {
    const tunnel = this.source.tunnel?.();
    const dht = this.engine.dht?.status();
    const lsd = this.engine.lsd?.status();
    const portMapping = this.engine.portMapping?.status();
    const own = this.engine.ownAddresses.get();
    const addresses: AddressStatus[] = [];
    for (const family of [4, 6] as const) {
      const address = own[family];
      if (!address || tunnel?.address !== address) continue;
      addresses.push({ family, address, kind: 'tunnel', advertised: true });
    }
    for (const a of interfaceAddresses()) {
      if (addresses.some((x) => x.address === a.address)) continue;
      addresses.push({ ...a, advertised: own[a.family] === a.address });
    }
    return {
      torrents: [...this.watched].map((t) => this.summary(t)),
      limits: { down: this.engine.limits.down.rate ?? null, up: this.engine.limits.up.rate ?? null },
      listening: this.engine.listening(),
      transports: [...this.engine.transports()],
      addresses,
      reached: { ...this.reached },
      refused: this.engine.refused,
      ...(tunnel ? { tunnel } : {}),
      ...(dht ? { dht } : {}),
      ...(lsd ? { lsd } : {}),
      ...(portMapping ? { portMapping } : {}),
    };
  }

  /** Its connected peers, each with where it sits (family, via the tunnel) and where we learned of it. */
  peers(t: Torrent): PeerStatus[] {
    const swarm = t.swarm;
    if (!swarm) return [];
    const tunnelAddress = this.source.tunnel?.()?.address;
    const pieces = t.meta?.pieceCount ?? 0;
    return swarm.peerInfo().map((p) => {
      const pex = t.pex?.countsOf(p.label);
      const via = p.family === 4 ? 'ipv4' : tunnelAddress && p.localHost === tunnelAddress ? 'tunnel' : 'ipv6';
      return {
        address: p.label,
        family: p.family,
        via,
        client: p.client,
        direction: p.direction,
        source: p.source.kind,
        encrypted: p.encrypted,
        transport: p.transport,
        holepunched: p.holepunched,
        downRate: p.downRate,
        upRate: p.upRate,
        downloaded: p.downloaded,
        uploaded: p.uploaded,
        progress: pieces > 0 ? p.pieces / pieces : 0,
        amChoking: p.amChoking,
        amInterested: p.amInterested,
        peerChoking: p.peerChoking,
        peerInterested: p.peerInterested,
        ...(pex ? { pex } : {}),
      };
    });
  }

  /** Its trackers, one row per tracker and address family. */
  trackers(t: Torrent): TrackerStatus[] {
    return t.trackerRecords().map((r) => ({
      url: r.tracker,
      family: r.family,
      lastAnnounce: r.at,
      nextAnnounce: r.nextAnnounceInMs === undefined ? null : r.at + r.nextAnnounceInMs,
      peers4: r.peers4,
      peers6: r.peers6,
      ...(r.error ? { error: r.error } : {}),
      ...(r.warning ? { warning: r.warning } : {}),
    }));
  }

  /** Its files (padding files left out) with the verified bytes of each. */
  files(t: Torrent): FileStatus[] {
    const { meta, storage } = t;
    if (!meta || !storage) return [];
    const have = new Array<number>(meta.files.length).fill(0);
    for (let i = 0; i < meta.pieceCount; i++) {
      if (!storage.have.has(i)) continue;
      for (const s of storage.layout.segments(i)) have[s.fileIndex]! += s.length;
    }
    const out: FileStatus[] = [];
    meta.files.forEach((f, i) => {
      if (!f.pad) out.push({ path: f.path.join('/'), length: f.length, haveBytes: have[i]!, selected: storage.selection.files[i]! });
    });
    return out;
  }

  private pieceMap(t: Torrent, cells: number): PieceMap {
    const n = t.meta?.pieceCount ?? 0;
    const count = Math.max(1, Math.min(cells, n));
    const have = new Array<number>(count).fill(0);
    const availability = new Array<number>(count).fill(0);
    const sizes = new Array<number>(count).fill(0);
    for (let i = 0; i < n; i++) {
      const c = Math.floor((i * count) / n);
      sizes[c]!++;
      if (t.storage?.have.has(i)) have[c]!++;
      availability[c]! += t.swarm?.availability(i) ?? 0;
    }
    for (let c = 0; c < count; c++) {
      const k = sizes[c] || 1;
      have[c] = have[c]! / k;
      availability[c] = availability[c]! / k;
    }
    return { cells: count, have, availability };
  }
}
