/**
 * Spreads the announces of every torrent of a process over time. Announce rounds start at least
 * `gapMs` apart, first come first served, so a session of a thousand torrents never sends its
 * announces in one burst (at start, or after a tracker came back); and each regular re-announce
 * waits its interval plus a random part of it (`jitter`), so torrents started together drift apart
 * instead of announcing together at every interval. Both only ever delay an announce, never bring
 * one forward: a tracker's min interval always holds.
 */
export interface AnnouncePacerOptions {
  /** Least time between two announce rounds of the process; default 50 ms (20 a second). */
  gapMs?: number;
  /** A regular announce waits interval x (1 + up to this); default 0.1. */
  jitter?: number;
}

export class AnnouncePacer {
  readonly gapMs: number;
  readonly jitter: number;
  private readonly waiting: (() => void)[] = [];
  private lastGrant = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: AnnouncePacerOptions = {}) {
    this.gapMs = opts.gapMs ?? 50;
    this.jitter = opts.jitter ?? 0.1;
  }

  /** Resolves when a round may start (at once when none started in the last `gapMs`), or once `signal` aborts. */
  slot(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const grant = () => {
        signal.removeEventListener('abort', cancel);
        resolve();
      };
      const cancel = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        grant();
      };
      signal.addEventListener('abort', cancel);
      this.waiting.push(grant);
      this.pump();
    });
  }

  /** The wait before a regular re-announce due in `intervalMs`. */
  spread(intervalMs: number): number {
    return Math.round(intervalMs * (1 + this.jitter * Math.random()));
  }

  /** Grants one waiting round if the last grant is `gapMs` old (measured when it runs: a late timer never grants two at once). */
  private pump(): void {
    if (this.timer || this.waiting.length === 0) return;
    const wait = this.lastGrant + this.gapMs - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    this.lastGrant = Date.now();
    this.waiting.shift()!();
    this.pump();
  }
}
