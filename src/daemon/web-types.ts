/**
 * What sixswarm's web page receives from the daemon's event stream (/sixswarm/events): plain data,
 * the same the terminal UI shows. The page (web/app.ts) imports these types; nothing else.
 */
import type { EngineStatus, TorrentDetail, TorrentSummary } from '../status/feed.js';

/** Rates in bytes per second, one sample a second, oldest first. */
export interface RateHistory {
  down: number[];
  up: number[];
}

export type EngineView = Omit<EngineStatus, 'torrents'>;

/** The first message of a stream: everything. */
export interface PageSnapshot {
  at: number;
  /** The daemon's version and where its session lives. */
  daemon: { version: string; session: string; downloadDir: string; allowedDirs: readonly string[] };
  torrents: TorrentSummary[];
  engine: EngineView;
  history: RateHistory;
  detail?: PageDetail;
}

/** Each second after: what changed. */
export interface PageUpdate {
  at: number;
  /** Torrents whose summary changed (or that are new), in session order. */
  changed: TorrentSummary[];
  /** Info hashes of torrents no longer in the session. */
  removed: string[];
  /** The info hashes in session order, when that order changed. */
  order?: string[];
  engine: EngineView;
  /** This second's totals. */
  sample: { down: number; up: number };
  detail?: PageDetail;
}

/** The torrent the stream was opened for (?detail=HASH), in full, with its own rate history. */
export interface PageDetail {
  torrent: TorrentDetail;
  history: RateHistory;
}
