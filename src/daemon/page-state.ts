/**
 * What a client of the event stream knows: the snapshot it got first, with each second's update
 * merged in (changed torrents replaced, removed ones dropped, the order followed, the totals'
 * history extended). Plain functions of plain data, so that the web page and the terminal UI
 * attached to a daemon keep the same picture.
 */
import type { TorrentSummary } from '../status/feed.js';
import type { EngineView, PageDetail, PageSnapshot, PageUpdate, RateHistory } from './web-types.js';

export interface PageState {
  at: number;
  daemon: PageSnapshot['daemon'];
  torrents: TorrentSummary[];
  engine: EngineView;
  /** All torrents together, one sample a second, the last `historyLength`. */
  totals: RateHistory;
  detail?: PageDetail;
}

export function fromSnapshot(s: PageSnapshot): PageState {
  return { at: s.at, daemon: s.daemon, torrents: s.torrents, engine: s.engine, totals: s.history, ...(s.detail ? { detail: s.detail } : {}) };
}

export function applyUpdate(state: PageState, u: PageUpdate, historyLength: number): PageState {
  const byHash = new Map(state.torrents.map((t) => [t.infoHash, t]));
  for (const t of u.changed) byHash.set(t.infoHash, t);
  for (const hash of u.removed) byHash.delete(hash);
  const known = new Set(state.torrents.map((t) => t.infoHash));
  const order = u.order ?? [...state.torrents.map((t) => t.infoHash), ...u.changed.map((t) => t.infoHash).filter((h) => !known.has(h))];
  return {
    at: u.at,
    daemon: state.daemon,
    torrents: order.map((hash) => byHash.get(hash)).filter((t): t is TorrentSummary => !!t),
    engine: u.engine,
    totals: { down: [...state.totals.down, u.sample.down].slice(-historyLength), up: [...state.totals.up, u.sample.up].slice(-historyLength) },
    ...(u.detail ? { detail: u.detail } : {}),
  };
}
