/** What we learned about each tracker per family; feeds the 'auto' BEP 7 ipv4=/ipv6= decision. */
import type { Family } from '../net/address.js';

export class Reachability {
  private readonly known = new Map<string, Partial<Record<Family, boolean>>>();

  constructor(private readonly onUnreachable: (tracker: string, family: Family) => void) {}

  get(tracker: string, family: Family): boolean | undefined {
    return this.known.get(tracker)?.[family];
  }

  set(tracker: string, family: Family, reachable: boolean): void {
    const entry = this.known.get(tracker) ?? {};
    const before = entry[family];
    entry[family] = reachable;
    this.known.set(tracker, entry);
    if (!reachable && before !== false) this.onUnreachable(tracker, family);
  }
}
