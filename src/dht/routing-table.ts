/**
 * The BEP 5 routing table: one bucket of at most K nodes per shared-prefix length with our id
 * (160 buckets), each with a replacement list of at most K more. Bounded at 2 * K * 160 nodes
 * whatever the network sends, and hard to take over from few addresses:
 *   - one node per IP in the whole table (spares included): a host with 200 ports is one node;
 *   - one node per /24 in a bucket and in its spares (as libtorrent's restrict_routing_ips);
 *   - a node that only queried us is unverified: it is never handed to others nor saved, and it
 *     loses its slot to any verified node; one that never answered is dropped at its first timeout;
 *   - a verified node with a BEP 42 id (or a local address) may take the slot of one without.
 * No node can take over another's id or address.
 */
import { bep42Valid } from './bep42.js';
import type { NodeContact } from './krpc.js';
import { ID_BITS, compareDistance, sharedPrefixBits } from './node-id.js';
import { net24 } from './scope.js';

export interface TableNode extends NodeContact {
  /** When it last answered us (verified) or queried us. */
  lastSeen: number;
  /** It has answered one of our queries: only such nodes are served, saved, and push others out. */
  verified: boolean;
  /** Queries to it that timed out since it last answered. */
  failures: number;
  /** Its id is one BEP 42 allows at its address. */
  bep42: boolean;
}

export type HeardResult = 'added' | 'updated' | 'replacement' | 'refused';

/** A verified node that failed this many queries in a row leaves the table. */
const MAX_FAILURES = 2;

/** How much a node deserves its slot less: failing, then unverified, then without a BEP 42 id. */
const badness = (n: TableNode): number => (n.failures > 0 ? 4 : 0) + (n.verified ? 0 : 2) + (n.bep42 ? 0 : 1);

/** Whether `a` should go before `b`: worse, or as bad and heard from longer ago. */
const goesFirst = (a: TableNode, b: TableNode): boolean => badness(a) > badness(b) || (badness(a) === badness(b) && a.lastSeen < b.lastSeen);

export class RoutingTable {
  private readonly buckets: TableNode[][] = Array.from({ length: ID_BITS }, () => []);
  private readonly spares: TableNode[][] = Array.from({ length: ID_BITS }, () => []);
  /** Live nodes by IP. */
  private readonly live = new Map<string, TableNode>();
  /** Spare nodes by IP. */
  private readonly spareHosts = new Map<string, TableNode>();
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
    return this.live.size;
  }

  private bucketOf(id: Buffer): number {
    return Math.min(sharedPrefixBits(this.ownId, id), ID_BITS - 1);
  }

  /**
   * A node answered one of our queries (`verified`) or sent us one. Known nodes are refreshed;
   * a new one takes a free slot, or the slot of a worse node if it is verified itself, or else
   * waits in the bucket's replacement list.
   */
  heard(contact: NodeContact, verified: boolean): HeardResult {
    if (contact.id.equals(this.ownId)) return 'refused';
    const at = this.live.get(contact.host) ?? this.spareHosts.get(contact.host);
    if (at) {
      if (at.port === contact.port && at.id.equals(contact.id)) {
        at.lastSeen = this.now();
        at.failures = 0;
        at.verified ||= verified;
        const b = this.bucketOf(at.id);
        if (this.live.get(at.host) === at) this.touched[b] = at.lastSeen;
        else if (at.verified && this.buckets[b]!.length < this.k && !this.buckets[b]!.some((n) => net24(n.host) === net24(at.host))) {
          // A spare that answered, with room in its bucket: it serves from now on.
          this.remove(at);
          this.insert(b, at);
        }
        return 'updated';
      }
      // Another port or id at a known IP: only a verified node replaces one that never answered
      // or stopped answering (a restart on a new port); otherwise the IP's first node stays.
      if (!verified || (at.verified && at.failures === 0)) return 'refused';
      this.remove(at);
    }
    const b = this.bucketOf(contact.id);
    const bucket = this.buckets[b]!;
    if (bucket.some((n) => n.id.equals(contact.id))) return 'refused';
    const node: TableNode = { id: contact.id, host: contact.host, port: contact.port, lastSeen: this.now(), verified, failures: 0, bep42: bep42Valid(contact.id, contact.host) };
    const sameNet = bucket.find((n) => net24(n.host) === net24(node.host));
    if (sameNet) {
      // Good nodes keep their slots (BEP 5): only a strictly better one takes the /24's place.
      if (badness(sameNet) <= badness(node)) return this.spare(b, node);
      this.drop(b, sameNet);
    }
    if (bucket.length < this.k) {
      this.insert(b, node);
      return 'added';
    }
    if (verified) {
      const worst = bucket.reduce<TableNode | undefined>((w, n) => (badness(n) > badness(node) && (!w || goesFirst(n, w)) ? n : w), undefined);
      if (worst) {
        this.drop(b, worst);
        this.insert(b, node);
        if (worst.verified && worst.failures === 0) this.spare(b, worst);
        return 'added';
      }
    }
    return this.spare(b, node);
  }

  /** Into bucket `b`'s replacement list: newest last, one per /24, the oldest leaving when full. */
  private spare(b: number, node: TableNode): HeardResult {
    const spares = this.spares[b]!;
    const i = spares.findIndex((n) => n.id.equals(node.id) || net24(n.host) === net24(node.host));
    if (i >= 0) this.spareHosts.delete(spares.splice(i, 1)[0]!.host);
    else if (spares.length >= this.k) this.spareHosts.delete(spares.shift()!.host);
    spares.push(node);
    this.spareHosts.set(node.host, node);
    return 'replacement';
  }

  /**
   * A query to host:port timed out. A node that never answered goes at once; a verified one
   * that keeps failing is dropped for its best replacement.
   */
  failed(host: string, port: number): void {
    const spare = this.spareHosts.get(host);
    if (spare?.port === port && !spare.verified) this.remove(spare);
    const node = this.live.get(host);
    if (!node || node.port !== port) return;
    if (++node.failures < MAX_FAILURES && node.verified) return;
    const b = this.bucketOf(node.id);
    this.drop(b, node);
    const spares = this.spares[b]!;
    const nets = new Set(this.buckets[b]!.map((n) => net24(n.host)));
    let best = -1;
    for (let i = 0; i < spares.length; i++) if (!nets.has(net24(spares[i]!.host)) && (best < 0 || goesFirst(spares[best]!, spares[i]!))) best = i;
    if (best >= 0) {
      const s = spares.splice(best, 1)[0]!;
      this.spareHosts.delete(s.host);
      this.insert(b, s);
    }
  }

  private insert(b: number, node: TableNode): void {
    this.buckets[b]!.push(node);
    this.live.set(node.host, node);
    this.touched[b] = this.now();
  }

  private drop(b: number, node: TableNode): void {
    const bucket = this.buckets[b]!;
    bucket.splice(bucket.indexOf(node), 1);
    this.live.delete(node.host);
  }

  private remove(node: TableNode): void {
    const b = this.bucketOf(node.id);
    if (this.live.get(node.host) === node) return this.drop(b, node);
    const spares = this.spares[b]!;
    spares.splice(spares.indexOf(node), 1);
    this.spareHosts.delete(node.host);
  }

  has(host: string, port: number): boolean {
    return this.live.get(host)?.port === port;
  }

  /** Whether host:port is in the table or among the spares. */
  knows(host: string, port: number): boolean {
    return this.has(host, port) || this.spareHosts.get(host)?.port === port;
  }

  /** Whether `host` is a node that answered us from that address (it has proven it). */
  verifiedHost(host: string): boolean {
    return this.live.get(host)?.verified === true;
  }

  /**
   * The `n` nodes closest to `target`, nodes that have failed a query last. `verifiedOnly`: what
   * we hand to others; otherwise unverified nodes only fill up what verified ones leave.
   */
  closest(target: Buffer, n: number, verifiedOnly = false): TableNode[] {
    const all = [...this.live.values()].filter((x) => x.verified || !verifiedOnly);
    all.sort((a, b) => (a.failures > 0 ? 1 : 0) - (b.failures > 0 ? 1 : 0) || compareDistance(target, a.id, b.id));
    if (verifiedOnly) return all.slice(0, n);
    const verified = all.filter((x) => x.verified).slice(0, n);
    return [...verified, ...all.filter((x) => !x.verified).slice(0, n - verified.length)];
  }

  nodes(): TableNode[] {
    return [...this.live.values()];
  }

  /** Indexes of non-empty buckets, and of the first empty one past them, untouched since `before`. */
  bucketsToRefresh(before: number): number[] {
    let last = -1;
    for (let b = 0; b < ID_BITS; b++) if (this.buckets[b]!.length > 0) last = b;
    const out: number[] = [];
    for (let b = 0; b <= Math.min(last + 1, ID_BITS - 1); b++) if (this.touched[b]! < before) out.push(b);
    return out;
  }

  /** The same nodes under another own id (BEP 42: our address became known), bucketed anew. */
  withOwnId(id: Buffer): RoutingTable {
    const t = new RoutingTable(id, this.k, this.now);
    const all = [...this.live.values(), ...this.spareHosts.values()].sort((a, b) => Number(b.verified) - Number(a.verified));
    for (const n of all) {
      if (t.heard(n, n.verified) === 'refused') continue;
      const copy = t.live.get(n.host) ?? t.spareHosts.get(n.host);
      if (copy) copy.lastSeen = n.lastSeen;
    }
    return t;
  }

  /** Counts for stats(). */
  counts(): { nodes: number; verified: number; replacements: number; buckets: number; bep42: number } {
    let verified = 0, replacements = 0, buckets = 0, bep42 = 0;
    for (let b = 0; b < ID_BITS; b++) {
      if (this.buckets[b]!.length > 0) buckets++;
      replacements += this.spares[b]!.length;
      for (const n of this.buckets[b]!) {
        if (n.verified) verified++;
        if (n.bep42) bep42++;
      }
    }
    return { nodes: this.live.size, verified, replacements, buckets, bep42 };
  }
}
