/**
 * Rate history, one sample a second: all torrents together and each torrent alone, the last
 * HISTORY_SAMPLES of each, so a web page opened now shows the last minutes at once. Bounded:
 * a torrent that leaves the session takes its history along.
 */
import type { TorrentSummary } from '../status/feed.js';
import type { RateHistory } from './web-types.js';

export const HISTORY_SAMPLES = 120;

export class RateHistoryBook {
  private readonly total: RateHistory = { down: [], up: [] };
  private readonly perTorrent = new Map<string, RateHistory>();

  /** Take one sample of every torrent. */
  sample(torrents: readonly TorrentSummary[]): void {
    let down = 0;
    let up = 0;
    const seen = new Set<string>();
    for (const t of torrents) {
      seen.add(t.infoHash);
      down += t.downRate;
      up += t.upRate;
      let h = this.perTorrent.get(t.infoHash);
      if (!h) this.perTorrent.set(t.infoHash, (h = { down: [], up: [] }));
      push(h, t.downRate, t.upRate);
    }
    for (const hash of this.perTorrent.keys()) if (!seen.has(hash)) this.perTorrent.delete(hash);
    push(this.total, down, up);
  }

  totals(): RateHistory {
    return { down: [...this.total.down], up: [...this.total.up] };
  }

  of(infoHash: string): RateHistory {
    const h = this.perTorrent.get(infoHash);
    return h ? { down: [...h.down], up: [...h.up] } : { down: [], up: [] };
  }
}

function push(h: RateHistory, down: number, up: number): void {
  h.down.push(Math.round(down));
  h.up.push(Math.round(up));
  if (h.down.length > HISTORY_SAMPLES) {
    h.down.shift();
    h.up.shift();
  }
}
