/**
 * Blame for pieces that fail their hash. Every peer that contributed to a bad piece gets a strike;
 * a peer that was the only contributor gets two, since the blame is certain. Enough strikes ban
 * the IP for the rest of the session.
 */
export class BanList {
  private readonly strikes = new Map<string, number>();
  private readonly banned = new Set<string>();

  constructor(private readonly threshold = 3) {}

  isBanned(ip: string): boolean {
    return this.banned.has(ip);
  }

  /** Blame the contributors of a failed piece; returns the IPs that are banned now. */
  blame(contributors: Set<string>): string[] {
    const weight = contributors.size === 1 ? 2 : 1;
    const newlyBanned: string[] = [];
    for (const ip of contributors) {
      const s = (this.strikes.get(ip) ?? 0) + weight;
      this.strikes.set(ip, s);
      if (s >= this.threshold && !this.banned.has(ip)) {
        this.banned.add(ip);
        newlyBanned.push(ip);
      }
    }
    return newlyBanned;
  }

  get size(): number {
    return this.banned.size;
  }
}
