/**
 * Where the terminal UI's snapshots come from: the status feed of one engine (download, seed, the
 * demo's peers), or a session's TorrentManager. Both give the same plain snapshot.
 */
import type { Engine } from '../../src/engine/engine.js';
import type { StatusFeed } from '../../src/status/feed.js';
import { formatSize } from '../../src/util/size.js';
import type { Session } from '../../src/session/session.js';
import type { Torrent } from '../../src/engine/torrent.js';
import type { EngineCommand, UiSnapshot } from './state.js';

/** Everything the feed says about the engine but its torrents. */
export function engineOf(feed: StatusFeed): UiSnapshot['engine'] {
  const { torrents: _, ...engine } = feed.snapshot();
  return engine;
}

/** The torrents a feed follows, with the detail of one of `sessions`. */
export function feedSnapshot(feed: StatusFeed, sessions: readonly Torrent[], detailOf: string | undefined, cells: number): UiSnapshot {
  const s = detailOf ? sessions.find((t) => t.infoHashHex === detailOf) : undefined;
  return {
    torrents: sessions.map((t) => feed.summary(t)),
    ...(s ? { detail: feed.detail(s, cells) } : {}),
    engine: engineOf(feed),
    at: Date.now(),
  };
}

export function sessionSnapshot(session: Session, feed: StatusFeed, detailOf: string | undefined, cells: number): UiSnapshot {
  const detail = detailOf ? session.detail(detailOf, cells) : undefined;
  return { torrents: session.summaries(), ...(detail ? { detail } : {}), engine: engineOf(feed), at: Date.now() };
}

/** The UI's `t`: the engine's limits (all its torrents together) changed at once; what to say. */
export function applyLimits(engine: Engine, c: Extract<EngineCommand, { kind: 'limits' }>): string {
  engine.limits.down.setRate(c.down ?? undefined);
  engine.limits.up.setRate(c.up ?? undefined);
  const shown = (rate: number | null) => (rate === null ? 'no limit' : `${formatSize(rate)}/s`);
  return `rate limits for this run: down ${shown(c.down)}, up ${shown(c.up)} (--max-down / --max-up, or the config file, set them for every run)`;
}
