/**
 * torrent-get's fields: each Transmission field (RPC version 17, as transmission-remote, its web
 * page, Flood and @ctrl/transmission read them) computed from the session's view of one
 * torrent, plus `sixswarm-*` fields for what Transmission has no words for: peers with their
 * address family, whether they come through our tunnel and where we learned of them, tracker
 * rows per family, the detail the terminal UI shows. Counts, sizes, rates and times are whole
 * numbers (transmission-remote reads them as integers); times are seconds since the epoch.
 * A field no one asked for is never computed, and an unknown field is left out.
 */
import { toMagnet } from '../metainfo/magnet.js';
import { parseHostPort } from '../net/hostport.js';
import type { DetailParts, Session, TorrentView } from '../session/session.js';
import type { FileStatus, PeerStatus, TorrentSummary, TrackerStatus } from '../status/feed.js';
import type { BackendSettings } from './backend.js';

/** Transmission's tr_torrent_activity. */
export const STATUS = { stopped: 0, checkWait: 1, check: 2, downloadWait: 3, download: 4, seedWait: 5, seed: 6 } as const;

/** One torrent as torrent-get sees it; every part is computed once, when first asked for. */
export class TorrentRow {
  private peerList?: PeerStatus[];
  private trackerList?: TrackerStatus[];
  private fileList?: FileStatus[];
  private tierList?: string[][];
  private trackerIds?: Map<string, number>;

  constructor(
    readonly id: number,
    readonly position: number,
    readonly s: TorrentSummary,
    readonly v: TorrentView,
    private readonly parts: DetailParts | undefined,
    readonly settings: BackendSettings,
    private readonly session: Session,
    readonly now: number,
  ) {}

  get peers(): PeerStatus[] {
    return (this.peerList ??= this.parts?.peers() ?? []);
  }

  get trackers(): TrackerStatus[] {
    return (this.trackerList ??= this.parts?.trackers() ?? []);
  }

  /** Its files (padding left out), with verified bytes; a torrent that has not run here shows its files empty or, when complete, full. */
  get files(): FileStatus[] {
    if (this.fileList) return this.fileList;
    const meta = this.v.meta;
    const complete = meta !== undefined && this.v.entry.haveBytes >= meta.totalLength;
    this.fileList = this.parts?.files() ?? meta?.files.filter((f) => !f.pad).map((f) => ({ path: f.path.join('/'), length: f.length, haveBytes: complete ? f.length : 0, selected: true })) ?? [];
    return this.fileList;
  }

  /** Its verified pieces as a bitfield; empty before its metadata. */
  pieces(): Uint8Array {
    return this.parts?.pieces() ?? new Uint8Array();
  }

  detail(cells: number) {
    return this.session.detail(this.s.infoHash, cells);
  }

  get sizeWhenDone(): number {
    return this.s.selected?.bytes ?? this.s.totalBytes;
  }

  get leftUntilDone(): number {
    return Math.max(0, this.sizeWhenDone - (this.s.selected?.haveBytes ?? this.s.haveBytes));
  }

  /** Tracker URLs by tier: the torrent's own, then any other that was announced to (--tracker). */
  get tiers(): string[][] {
    if (this.tierList) return this.tierList;
    const tiers = (this.v.meta?.announce ?? []).map((t) => [...t]);
    const known = new Set(tiers.flat());
    for (const r of this.trackers) {
      if (known.has(r.url)) continue;
      known.add(r.url);
      tiers.push([r.url]);
    }
    return (this.tierList = tiers);
  }

  /** A tracker's id: its place among all the torrent's tracker URLs. */
  trackerId(url: string): number {
    this.trackerIds ??= new Map(this.tiers.flat().map((u, i) => [u, i]));
    return this.trackerIds.get(url) ?? -1;
  }
}

const secs = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? 0 : Math.floor(ms / 1000));
const isoSecs = (iso: string | undefined) => (iso ? secs(Date.parse(iso)) : 0);
const kB = (bytes: number | undefined) => (bytes === undefined ? 0 : Math.round(bytes / 1000));

function status(r: TorrentRow): number {
  switch (r.s.state) {
    case 'checking':
      return r.v.running ? STATUS.check : STATUS.checkWait;
    case 'fetching-metadata':
    case 'downloading':
      return STATUS.download;
    case 'seeding':
      return STATUS.seed;
    default:
      return STATUS.stopped;
  }
}

function hostAndPort(label: string): { host: string; port: number } {
  try {
    return parseHostPort(label);
  } catch {
    return { host: label, port: 0 };
  }
}

/** Transmission's peer flags: T over uTP, D/d downloading from / want to, U/u uploading to / they want to, K and ? unchoked but uninterested, E encrypted, X/H from PEX/DHT, I incoming. */
function flagStr(p: PeerStatus): string {
  let f = p.transport === 'utp' ? 'T' : '';
  if (p.amInterested) f += p.peerChoking ? 'd' : 'D';
  else if (!p.peerChoking) f += 'K';
  if (p.peerInterested) f += p.amChoking ? 'u' : 'U';
  else if (!p.amChoking) f += '?';
  if (p.encrypted) f += 'E';
  if (p.source === 'pex') f += 'X';
  if (p.source === 'dht') f += 'H';
  if (p.direction === 'in') f += 'I';
  return f;
}

function peer(p: PeerStatus) {
  const { host, port } = hostAndPort(p.address);
  return {
    address: host,
    port,
    clientName: p.client,
    flagStr: flagStr(p),
    progress: p.progress,
    rateToClient: Math.round(p.downRate),
    rateToPeer: Math.round(p.upRate),
    isEncrypted: p.encrypted,
    isIncoming: p.direction === 'in',
    isUTP: p.transport === 'utp',
    clientIsChoked: p.peerChoking,
    clientIsInterested: p.amInterested,
    peerIsChoked: p.amChoking,
    peerIsInterested: p.peerInterested,
    isDownloadingFrom: !p.peerChoking && p.amInterested,
    isUploadingTo: !p.amChoking && p.peerInterested,
  };
}

function hostName(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}

function scrapeUrl(url: string): string {
  const i = url.lastIndexOf('/announce');
  return url.startsWith('http') && i >= 0 ? `${url.slice(0, i)}/scrape${url.slice(i + 9)}` : '';
}

/** One row per tracker, as Transmission has it: the latest of its per-family announces. */
function trackerStats(r: TorrentRow) {
  return r.tiers.flatMap((tier, t) =>
    tier.map((url) => {
      const rows = r.trackers.filter((x) => x.url === url).sort((a, b) => b.lastAnnounce - a.lastAnnounce);
      const last = rows[0];
      const next = rows.map((x) => x.nextAnnounce).filter((x): x is number => x !== null).sort((a, b) => a - b)[0];
      return {
        id: r.trackerId(url),
        announce: url,
        scrape: scrapeUrl(url),
        host: hostName(url),
        sitename: hostName(url),
        tier: t,
        isBackup: false,
        announceState: r.v.running ? 1 : 0,
        scrapeState: 0,
        hasAnnounced: !!last,
        hasScraped: false,
        lastAnnounceTime: secs(last?.lastAnnounce),
        lastAnnounceStartTime: secs(last?.lastAnnounce),
        lastAnnounceSucceeded: !!last && !last.error,
        lastAnnounceTimedOut: false,
        lastAnnounceResult: last ? (last.error ?? last.warning ?? 'Success') : '',
        lastAnnouncePeerCount: rows.reduce((n, x) => n + x.peers4 + x.peers6, 0),
        nextAnnounceTime: secs(next),
        lastScrapeTime: 0,
        lastScrapeStartTime: 0,
        lastScrapeSucceeded: false,
        lastScrapeTimedOut: false,
        lastScrapeResult: '',
        nextScrapeTime: 0,
        seederCount: -1,
        leecherCount: -1,
        downloadCount: -1,
      };
    }),
  );
}

function peersFrom(r: TorrentRow) {
  const count = (pred: (p: PeerStatus) => boolean) => r.peers.filter(pred).length;
  return {
    fromCache: 0,
    fromDht: count((p) => p.source === 'dht'),
    fromIncoming: count((p) => p.source === 'incoming'),
    fromLpd: count((p) => p.source === 'lsd'),
    fromLtep: count((p) => p.source === 'ltep'),
    fromPex: count((p) => p.source === 'pex'),
    fromTracker: count((p) => p.source === 'tracker'),
  };
}

/** Peers per way of reaching them: native IPv4, native IPv6, IPv6 through our tunnel. */
function families(r: TorrentRow) {
  const count = (via: PeerStatus['via']) => r.peers.filter((p) => p.via === via).length;
  return { ipv4: count('ipv4'), ipv6: count('ipv6'), tunnel: count('tunnel') };
}

type Field = (r: TorrentRow) => unknown;

export const TORRENT_FIELDS: Record<string, Field> = {
  id: (r) => r.id,
  hashString: (r) => r.s.infoHash,
  name: (r) => r.s.name,
  status: status,
  error: (r) => (r.s.error ? 3 : 0),
  errorString: (r) => r.s.error ?? '',
  totalSize: (r) => r.s.totalBytes,
  sizeWhenDone: (r) => r.sizeWhenDone,
  leftUntilDone: (r) => r.leftUntilDone,
  haveValid: (r) => r.s.haveBytes,
  haveUnchecked: () => 0,
  desiredAvailable: (r) => (r.s.seeds > 0 ? r.leftUntilDone : 0),
  percentDone: (r) => (r.sizeWhenDone > 0 ? (r.sizeWhenDone - r.leftUntilDone) / r.sizeWhenDone : 0),
  percentComplete: (r) => (r.s.totalBytes > 0 ? r.s.haveBytes / r.s.totalBytes : 0),
  metadataPercentComplete: (r) => (r.v.meta ? 1 : 0),
  recheckProgress: (r) => (r.s.checking && r.s.checking.totalBytes > 0 ? r.s.checking.checkedBytes / r.s.checking.totalBytes : 0),
  rateDownload: (r) => Math.round(r.s.downRate),
  rateUpload: (r) => Math.round(r.s.upRate),
  downloadedEver: (r) => r.s.downloaded,
  uploadedEver: (r) => r.s.uploaded,
  corruptEver: () => 0,
  uploadRatio: (r) => r.s.ratio ?? -1,
  eta: (r) => (r.s.eta === null ? -1 : Math.round(r.s.eta)),
  etaIdle: () => -1,
  peersConnected: (r) => r.s.peers,
  peersSendingToUs: (r) => r.peers.filter((p) => p.downRate > 0).length,
  peersGettingFromUs: (r) => r.peers.filter((p) => p.upRate > 0).length,
  webseedsSendingToUs: (r) => (r.s.webSeeds ?? []).filter((w) => w.state === 'downloading').length,
  peersFrom,
  peers: (r) => r.peers.map(peer),
  'peer-limit': (r) => r.settings.maxPeersPerTorrent,
  maxConnectedPeers: (r) => r.settings.maxPeersPerTorrent,
  addedDate: (r) => isoSecs(r.v.entry.addedAt),
  doneDate: (r) => isoSecs(r.v.entry.doneAt),
  startDate: (r) => (r.v.running ? secs(r.settings.startedAt) : 0),
  activityDate: (r) => (r.s.downRate > 0 || r.s.upRate > 0 ? secs(r.now) : isoSecs(r.v.entry.doneAt) || isoSecs(r.v.entry.addedAt)),
  editDate: () => 0,
  dateCreated: (r) => r.v.meta?.creationDate ?? 0,
  secondsDownloading: () => 0,
  secondsSeeding: (r) => (r.s.state === 'seeding' && r.v.entry.doneAt ? Math.max(0, secs(r.now) - isoSecs(r.v.entry.doneAt)) : 0),
  manualAnnounceTime: () => -1,
  comment: (r) => r.v.meta?.comment ?? '',
  creator: (r) => r.v.meta?.createdBy ?? '',
  isPrivate: (r) => r.v.meta?.private ?? false,
  isFinished: () => false,
  isStalled: (r) => r.s.state === 'downloading' && r.s.peers === 0,
  pieceCount: (r) => r.v.meta?.pieceCount ?? 0,
  pieceSize: (r) => r.v.meta?.pieceLength ?? 0,
  pieces: (r) => Buffer.from(r.pieces()).toString('base64'),
  downloadDir: (r) => r.v.entry.dir,
  torrentFile: (r) => (r.v.entry.source.kind === 'torrent' ? r.v.entry.source.file : ''),
  magnetLink: (r) => (r.v.meta ? toMagnet(r.v.meta) : r.v.entry.source.kind === 'magnet' ? r.v.entry.source.uri : ''),
  'file-count': (r) => r.files.length,
  files: (r) => r.files.map((f) => ({ name: f.path, length: f.length, bytesCompleted: f.haveBytes })),
  fileStats: (r) => r.files.map((f) => ({ bytesCompleted: f.haveBytes, wanted: f.selected, priority: 0 })),
  wanted: (r) => r.files.map((f) => (f.selected ? 1 : 0)),
  priorities: (r) => r.files.map(() => 0),
  'primary-mime-type': () => 'application/octet-stream',
  trackers: (r) => r.tiers.flatMap((tier, t) => tier.map((url) => ({ id: r.trackerId(url), announce: url, scrape: scrapeUrl(url), sitename: hostName(url), tier: t }))),
  trackerStats,
  trackerList: (r) => r.tiers.map((t) => t.join('\n')).join('\n\n'),
  webseeds: (r) => r.v.meta?.urlList ?? [],
  labels: (r) => r.v.entry.labels ?? [],
  group: () => '',
  queuePosition: (r) => r.position,
  bandwidthPriority: () => 0,
  honorsSessionLimits: () => true,
  downloadLimit: (r) => kB(r.v.entry.rates?.down),
  downloadLimited: (r) => r.v.entry.rates?.down !== undefined,
  uploadLimit: (r) => kB(r.v.entry.rates?.up),
  uploadLimited: (r) => r.v.entry.rates?.up !== undefined,
  seedRatioLimit: (r) => r.settings.seedRatio ?? 2,
  seedRatioMode: () => 0,
  seedIdleLimit: () => 30,
  seedIdleMode: () => 0,
  // sixswarm's own: what makes an IPv6 swarm visible.
  'sixswarm-state': (r) => r.s.state,
  'sixswarm-families': families,
  'sixswarm-peers': (r) => r.peers,
  'sixswarm-trackers': (r) => r.trackers,
  'sixswarm-detail': (r) => r.detail(100) ?? null,
};

/** The requested fields of one row: only known fields, computed in the order asked. */
export function torrentObject(r: TorrentRow, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const get = Object.hasOwn(TORRENT_FIELDS, f) ? TORRENT_FIELDS[f] : undefined;
    if (get) out[f] = get(r);
  }
  return out;
}
