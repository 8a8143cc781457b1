/**
 * What the RPC drives: the session of torrents, the folders remotes may use, the engine's status
 * and the few engine settings a remote may read or change. The daemon provides it.
 */
import type { DownloadFolders } from '../session/download-folders.js';
import type { Session } from '../session/session.js';
import type { EngineStatus, TorrentSummary } from '../status/feed.js';
import type { EncryptionPolicy } from '../wire/encryption-policy.js';
import type { TransportKind } from '../transport/transport.js';

export interface BackendSettings {
  /** "0.1.0": sixswarm's version. */
  version: string;
  /** The session folder (Transmission's config-dir: its torrents/ holds a copy of every .torrent). */
  configDir: string;
  peerPort: number;
  encryption: EncryptionPolicy;
  /** The peer transports spoken (--transports). */
  transports: TransportKind[];
  dht: boolean;
  /** Local peer discovery (Transmission's lpd). */
  lsd: boolean;
  ipv4: boolean;
  ipv6: boolean;
  maxPeersPerTorrent: number;
  /** The global rate limits in force, bytes per second. */
  rates: { down?: number; up?: number };
  /** Date.now() when the daemon started. */
  startedAt: number;
  seedRatio?: number;
  seedSeconds?: number;
}

export interface RunStats {
  uploaded: number;
  downloaded: number;
  secondsActive: number;
  torrentsAdded: number;
}

export interface RpcBackend {
  readonly session: Session;
  /** The session's torrents now (computed at most a few times a second for everyone who asks). */
  summaries(): TorrentSummary[];
  readonly folders: DownloadFolders;
  status(): EngineStatus;
  settings(): BackendSettings;
  /** The global rate limits (bytes per second; undefined: none), until the daemon stops. */
  setRates(rates: { down?: number; up?: number }): void;
  /** Totals since the daemon started. */
  stats(): RunStats;
  /** Stop the daemon cleanly (session-close), after the reply has gone. */
  shutDown(): void;
}
