/**
 * When a finished torrent has seeded enough (--seed-ratio, --seed-time): once either limit is
 * reached, counted from the moment the download completed (or the seed started complete).
 */
export interface SeedGoalOptions {
  /** Uploaded / downloaded (or / size, for a seed that downloaded nothing). */
  ratio?: number;
  /** Seconds of seeding after completion. */
  seconds?: number;
}

/** uploaded / downloaded, or uploaded / size when nothing was downloaded; null before anything moved. */
export function shareRatio(uploaded: number, downloaded: number, size: number): number | null {
  return downloaded > 0 ? uploaded / downloaded : uploaded > 0 ? uploaded / Math.max(1, size) : null;
}

export class SeedGoal {
  private since?: number;

  constructor(private readonly opts: SeedGoalOptions) {}

  /** Whether there is a goal at all. */
  get set(): boolean {
    return this.opts.ratio !== undefined || this.opts.seconds !== undefined;
  }

  /** The torrent is complete from `now` on (later calls change nothing). */
  completed(now: number): void {
    this.since ??= now;
  }

  /** Why seeding may stop now, or undefined while it should go on (or the torrent is not complete). */
  reached(now: number, ratio: number | null): string | undefined {
    if (this.since === undefined) return undefined;
    const { ratio: r, seconds } = this.opts;
    if (r !== undefined && (ratio ?? 0) >= r) return `seed ratio ${(ratio ?? 0).toFixed(2)} reached (--seed-ratio ${r})`;
    if (seconds !== undefined && now - this.since >= seconds * 1000) return `seeded for ${seconds} s since completion (--seed-time)`;
    return undefined;
  }
}
