/** BEP 12 announce-list: each tier shuffled once, a tracker that answers moves to the front of its tier. */
import { randomInt } from 'node:crypto';

export class Tiers {
  readonly tiers: string[][];

  constructor(tiers: string[][]) {
    this.tiers = tiers.filter((t) => t.length > 0).map((t) => shuffle([...t]));
  }

  promote(url: string): void {
    for (const tier of this.tiers) {
      const i = tier.indexOf(url);
      if (i > 0) {
        tier.splice(i, 1);
        tier.unshift(url);
      }
      if (i >= 0) return;
    }
  }

  /** Snapshot in trying order (promotion during a round does not disturb the walk). */
  order(): string[] {
    return this.tiers.flat();
  }
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
