/**
 * Where the terminal UI's snapshots come from: the status feed of one engine (download, seed, the
 * demo's peers), or a session's TorrentManager. Both give the same plain snapshot.
 */
import type { StatusFeed } from '../../src/client/status.js';
import type { TorrentManager } from '../../src/client/torrent-manager.js';
import type { TorrentSession } from '../../src/client/torrent-session.js';
import type { UiSnapshot } from './state.js';

/** Everything the feed says about the engine but its torrents. */
export function engineOf(feed: StatusFeed): UiSnapshot['engine'] {
  const { torrents: _, ...engine } = feed.snapshot();
  return engine;
}

/** The torrents a feed follows, with the detail of one of `sessions`. */
export function feedSnapshot(feed: StatusFeed, sessions: readonly TorrentSession[], detailOf: string | undefined, cells: number): UiSnapshot {
  const s = detailOf ? sessions.find((t) => t.infoHashHex === detailOf) : undefined;
  return {
    torrents: sessions.map((t) => feed.summary(t)),
    ...(s ? { detail: feed.detail(s, cells) } : {}),
    engine: engineOf(feed),
    at: Date.now(),
  };
}

export function managerSnapshot(manager: TorrentManager, feed: StatusFeed, detailOf: string | undefined, cells: number): UiSnapshot {
  const detail = detailOf ? manager.detail(detailOf, cells) : undefined;
  return { torrents: manager.summaries(), ...(detail ? { detail } : {}), engine: engineOf(feed), at: Date.now() };
}
