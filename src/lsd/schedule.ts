/**
 * When each torrent is announced on the LAN: at once when it starts, once more a minute later (a
 * datagram may be lost, on Wi-Fi often), then every 5 minutes as libtorrent does. BEP 14 allows
 * one announce a minute per torrent, and nothing makes one sooner: not our interfaces changing
 * (then every torrent is due as soon as its minute allows), nothing anyone sends us. All torrents
 * together are paced, so a session of thousands spreads its announces instead of bursting them.
 */
import { TokenBucket } from '../util/token-bucket.js';

export const ANNOUNCE_INTERVAL_MS = 5 * 60_000;
/** BEP 14: "at most once per minute" per torrent. */
export const MIN_INTERVAL_MS = 60_000;
/** Torrents announced per second at most, all together (each: one datagram per family and interface). */
const TORRENTS_PER_SECOND = 10;
const BURST = 20;

interface Entry {
  due: number;
  last?: number;
  sends: number;
}

export class AnnounceSchedule {
  private readonly entries = new Map<string, Entry>();
  private readonly budget: TokenBucket;

  constructor(private readonly now: () => number = Date.now) {
    this.budget = new TokenBucket(TORRENTS_PER_SECOND, BURST, now);
  }

  get size(): number {
    return this.entries.size;
  }

  /** A torrent to announce from now on, the first time at once (one already there keeps its times). */
  add(key: string): void {
    if (!this.entries.has(key)) this.entries.set(key, { due: this.now(), sends: 0 });
  }

  remove(key: string): void {
    this.entries.delete(key);
  }

  /** Our interfaces changed: every torrent is due again as soon as its minimum interval allows. */
  soon(): void {
    for (const e of this.entries.values()) e.due = Math.min(e.due, (e.last ?? -Infinity) + MIN_INTERVAL_MS);
  }

  /** The torrents to announce now, most overdue first, as many as the pace allows; each is then due again later. */
  take(): string[] {
    const now = this.now();
    const due = [...this.entries].filter(([, e]) => e.due <= now).sort(([, a], [, b]) => a.due - b.due);
    const out: string[] = [];
    for (const [key, e] of due) {
      if (!this.budget.take()) break;
      out.push(key);
      e.last = now;
      e.sends++;
      e.due = now + (e.sends === 1 ? MIN_INTERVAL_MS : ANNOUNCE_INTERVAL_MS);
    }
    return out;
  }
}
