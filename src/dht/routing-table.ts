/**
 * The BEP 5 routing table: one bucket of at most K nodes per shared-prefix length with our id
 * (160 buckets), each with a replacement list of at most K more. Bounded at 2 * K * 160 nodes
 * whatever the network sends, and no node can take over another's id or address.
 */
import type { NodeContact } from './krpc.js';
import { ID_BITS, compareDistance, sharedPrefixBits } from './node-id.js';

export interface TableNode extends NodeContact {
  /** When it last answered us (verified) or queried us. */
  lastSeen: number;
  /** It has answered one of our queries: only such nodes push others out. */
  verified: boolean;
  /** Queries to it that timed out since it last answered. */
  failures: number;
}

export type HeardResult = 'added' | 'updated' | 'replacement' | 'refused';

/** A node that failed this many queries in a row leaves the table. */
const MAX_FAILURES = 2;

const addressKey = (n: { host: string; port: number }) => `${n.host}:${n.port}`;

export class RoutingTable {
  private readonly buckets: TableNode[][] = Array.from({ length: ID_BITS }, () => []);
  private readonly spares: TableNode[][] = Array.from({ length: ID_BITS }, () => []);
  private readonly byAddress = new Map<string, TableNode>();
  /** When each bucket last gained or refreshed a node (for bucket refresh). */
  private readonly touched: number[];

  constructor(
    readonly ownId: Buffer,
    readonly k = 8,
    private readonly now: () => number = Date.now,
  ) {
    this.touched = Array<number>(ID_BITS).fill(now());
  }

  get size(): number {
    return this.byAddress.size;
  }

  private bucketOf(id: Buffer): number {
    return Math.min(sharedPrefixBits(this.ownId, id), ID_BITS - 1);
  }

  /**
   * A node answered one of our queries (`verified`) or sent us one. Known nodes are refreshed;
   * a new one takes a free slot, or the slot of an unverified or failing node if it is verified
   * itself, or else waits in the bucket's replacement list.
   */
  heard(contact: NodeContact, verified: boolean): HeardResult {
    if (contact.id.equals(this.ownId)) return 'refused';
    const at = this.byAddress.get(addressKey(contact));
    if (at) {
      if (!at.id.equals(contact.id)) return 'refused';
      at.lastSeen = this.now();
      at.failures = 0;
      at.verified ||= verified;
      this.touched[this.bucketOf(at.id)] = at.lastSeen;
      return 'updated';
    }
    const b = this.bucketOf(contact.id);
    const bucket = this.buckets[b]!;
    if (bucket.some((n) => n.id.equals(contact.id))) return 'refused';
    const node: TableNode = { id: contact.id, host: contact.host, port: contact.port, lastSeen: this.now(), verified, failures: 0 };
    if (bucket.length < this.k) {
      this.insert(b, node);
      return 'added';
    }
    if (verified) {
      const worst = bucket.reduce<TableNode | undefined>((w, n) => {
        if (n.verified && n.failures === 0) return w;
        if (!w || n.failures > w.failures || (n.failures === w.failures && n.lastSeen < w.lastSeen)) return n;
        return w;
      }, undefined);
      if (worst) {
        this.drop(b, worst);
        this.insert(b, node);
        return 'added';
      }
    }
    const spares = this.spares[b]!;
    const i = spares.findIndex((n) => n.id.equals(contact.id) || addressKey(n) === addressKey(contact));
    if (i >= 0) spares.splice(i, 1);
    else if (spares.length >= this.k) spares.shift();
    spares.push(node);
    return 'replacement';
  }

  /** A query to host:port timed out. A node that keeps failing is dropped for its best replacement. */
  failed(host: string, port: number): void {
    const node = this.byAddress.get(addressKey({ host, port }));
    if (!node) return;
    if (++node.failures < MAX_FAILURES) return;
    const b = this.bucketOf(node.id);
    this.drop(b, node);
    const spares = this.spares[b]!;
    // The most recently seen spare, verified ones first.
    let best = -1;
    for (let i = 0; i < spares.length; i++) {
      const s = spares[i]!;
      const cur = best < 0 ? undefined : spares[best]!;
      if (!cur || (s.verified && !cur.verified) || (s.verified === cur.verified && s.lastSeen >= cur.lastSeen)) best = i;
    }
    if (best >= 0) this.insert(b, spares.splice(best, 1)[0]!);
  }

  private insert(b: number, node: TableNode): void {
    this.buckets[b]!.push(node);
    this.byAddress.set(addressKey(node), node);
    this.touched[b] = this.now();
  }

  private drop(b: number, node: TableNode): void {
    const bucket = this.buckets[b]!;
    bucket.splice(bucket.indexOf(node), 1);
    this.byAddress.delete(addressKey(node));
  }

  has(host: string, port: number): boolean {
    return this.byAddress.has(addressKey({ host, port }));
  }

  /** The `n` nodes closest to `target`, nodes that have failed a query last. */
  closest(target: Buffer, n: number): TableNode[] {
    const all = [...this.byAddress.values()];
    all.sort((a, b) => (a.failures > 0 ? 1 : 0) - (b.failures > 0 ? 1 : 0) || compareDistance(target, a.id, b.id));
    return all.slice(0, n);
  }

  nodes(): TableNode[] {
    return [...this.byAddress.values()];
  }

  /** Nodes not heard from since `before`: to be pinged. */
  stale(before: number): TableNode[] {
    return this.nodes().filter((n) => n.lastSeen < before);
  }

  /** Indexes of non-empty buckets, and of the first empty one past them, untouched since `before`. */
  bucketsToRefresh(before: number): number[] {
    let last = -1;
    for (let b = 0; b < ID_BITS; b++) if (this.buckets[b]!.length > 0) last = b;
    const out: number[] = [];
    for (let b = 0; b <= Math.min(last + 1, ID_BITS - 1); b++) if (this.touched[b]! < before) out.push(b);
    return out;
  }

  /** Counts for stats(). */
  counts(): { nodes: number; verified: number; replacements: number; buckets: number } {
    let verified = 0, replacements = 0, buckets = 0;
    for (let b = 0; b < ID_BITS; b++) {
      if (this.buckets[b]!.length > 0) buckets++;
      replacements += this.spares[b]!.length;
      for (const n of this.buckets[b]!) if (n.verified) verified++;
    }
    return { nodes: this.byAddress.size, verified, replacements, buckets };
  }
}
