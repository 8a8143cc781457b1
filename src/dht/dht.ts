/**
 * A BEP 5 DHT node over IPv4: answers ping, find_node, get_peers and announce_peer, finds peers
 * for an info hash and announces ours, keeps a bounded routing table that survives restarts.
 *
 *     const dht = new Dht({ socket: network.datagrams(4), bootstrap: DEFAULT_BOOTSTRAP, stateFile });
 *     await dht.start();
 *     await dht.announce(infoHash, peerPort, (peers) => addPeers(peers));
 *     await dht.stop(); // saves the routing table
 *
 * IPv4 only by design: the swarm's DHT is the IPv4 one (BEP 32 is rarely spoken), and IPv6 peers
 * reach us through trackers and PEX. Never use it for a private torrent (BEP 27): the caller
 * checks the private flag and neither looks up nor announces such a torrent.
 *
 * Against Sybils and poisoning (routing-table.ts, lookup.ts): one node per IP, few per /24, and
 * a node counts only once it answered us. Nodes that query us are pinged (at a bounded rate)
 * before they are served to others or saved; a lookup that got no answer at all is run again
 * through the routers, and lookups that keep failing are a warning. Our id follows BEP 42 once
 * the nodes agree on our address (external-address.ts); others' ids are not required to, but a
 * BEP 42 id wins a contested slot. A get_peers reply to a requester that has not proven its
 * address (by answering us, or by announcing with our token) is no bigger than a find_node
 * answer, so a spoofed query gains nothing over BEP 5's own baseline.
 */
import { lookup as resolveName } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import type { PeerAddress } from '../net/compact.js';
import type { DatagramChannel } from '../transport/datagram.js';
import { KernelDatagramChannel } from '../transport/kernel/udp.js';
import { TokenBucket } from '../util/token-bucket.js';
import { bep42Id, bep42Valid } from './bep42.js';
import { ExternalAddress } from './external-address.js';
import { ERR_METHOD, ERR_PROTOCOL, type IncomingQuery, type IncomingResponse, type NodeContact, type Query, type QueryName } from './krpc.js';
import { lookup, type LookupResult } from './lookup.js';
import { ID_LENGTH, randomIdInBucket, randomNodeId } from './node-id.js';
import { PEER_STORE_LIMITS, PeerStore, type PeerStoreLimits } from './peer-store.js';
import { QueryError, Rpc, type Endpoint, type RpcCounters, type RpcLimits } from './rpc.js';
import { RoutingTable } from './routing-table.js';
import { loadState, saveState } from './state.js';
import { Tokens } from './tokens.js';

/** The well-known public routers: the CLI's default. Tests and benchmarks never use them. */
export const DEFAULT_BOOTSTRAP: readonly Endpoint[] = [
  { host: 'router.bittorrent.com', port: 6881 },
  { host: 'dht.transmissionbt.com', port: 6881 },
  { host: 'router.utorrent.com', port: 6881 },
  { host: 'dht.libtorrent.org', port: 25401 },
];

export interface DhtLimits extends RpcLimits {
  /** Bucket size, and how many nodes a lookup converges on. */
  k: number;
  /** Queries one lookup keeps in flight. */
  alpha: number;
  /** Queries one lookup sends at most. */
  lookupQueries: number;
  /** Lookups running at once; more wait in a queue of `maxQueuedLookups`, beyond that they fail. */
  maxLookups: number;
  maxQueuedLookups: number;
  /** Peers in one get_peers reply (50 * 8 bytes keeps the reply well inside one datagram). */
  valuesPerReply: number;
  /** Peers in a get_peers reply to a requester that has not proven its address (in the room of some nodes). */
  valuesPerUnprovenReply: number;
  /** Nodes that queried us pinged per second to verify them, and how many may wait. */
  verifyRate: number;
  maxToVerify: number;
  peerStore: PeerStoreLimits;
}

export const DHT_LIMITS: DhtLimits = {
  k: 8,
  alpha: 4,
  lookupQueries: 96,
  maxLookups: 16,
  maxQueuedLookups: 256,
  valuesPerReply: 50,
  valuesPerUnprovenReply: 8,
  verifyRate: 20,
  maxToVerify: 256,
  maxOutstanding: 256,
  perSourceRate: 50,
  perSourceBurst: 100,
  maxSources: 4096,
  queryRate: 1000,
  queryBurst: 2000,
  peerStore: PEER_STORE_LIMITS,
};

export interface DhtOptions {
  /**
   * The IPv4 UDP socket to run on, shared with other protocols on its port (the engine's); KRPC
   * datagrams are taken from it and it stays open after stop(). Without one, the node binds its
   * own on `port` (0: any free one) and `host` (default 0.0.0.0), and closes it on stop().
   */
  socket?: DatagramChannel;
  port?: number;
  host?: string;
  /** Routers to join through: IPv4 literals or names (resolved over IPv4). No default here. */
  bootstrap: readonly Endpoint[];
  /** Where the routing table is saved on stop and read on start; none: not kept. */
  stateFile?: string;
  /** How long a query waits for its answer (default 2 s). */
  queryTimeoutMs?: number;
  limits?: Partial<DhtLimits>;
  /** Things worth a log line that do not stop the node (an unreadable state file, a send error). */
  onWarning?: (message: string) => void;
}

export interface LookupSummary {
  /** Distinct peers handed to onPeers. */
  peers: number;
  queries: number;
  answers: number;
  /** Nodes closest to the info hash that answered. */
  closest: number;
}

export interface AnnounceSummary extends LookupSummary {
  /** Nodes that accepted our announce_peer. */
  announcedTo: number;
}

export interface DhtStats {
  id: string;
  address: Endpoint;
  nodes: number;
  verifiedNodes: number;
  /** Nodes whose id BEP 42 allows at their address (local addresses count). */
  bep42Nodes: number;
  replacementNodes: number;
  /** Nodes that queried us, waiting for our ping. */
  toVerify: number;
  /** Our address as the nodes agree on it (BEP 42), once they do. */
  externalAddress: string | undefined;
  buckets: number;
  storedPeers: number;
  storedInfoHashes: number;
  outstandingQueries: number;
  activeLookups: number;
  queuedLookups: number;
  trackedSources: number;
  queriesAnswered: Record<QueryName | 'unknown', number>;
  received: number;
  sent: number;
  dropped: RpcCounters['dropped'];
  warnings: number;
}

/** Stale nodes are pinged, stale buckets refreshed, once per this period. */
const MAINTENANCE_MS = 60_000;
const STALE_MS = 15 * 60_000;
const PINGS_PER_ROUND = 8;
const MAX_ROUTERS = 16;
/** Lookups in a row without a single answer before that is worth a warning. */
const FAILING_LOOKUPS = 3;
/** How long a requester that announced with a valid token counts as proven, and how many are remembered. */
const PROVEN_MS = 30 * 60_000;
const MAX_PROVEN = 4096;
const VERIFY_TICK_MS = 200;
const JOIN_RETRIES = 5;
/** A value and a node in a reply, encoded ("6:" and 6 bytes; 26 bytes of compact node info). */
const COMPACT_PEER_BYTES = 8;
const COMPACT_NODE_BYTES = 26;

export class Dht {
  private readonly limits: DhtLimits;
  private readonly store: PeerStore;
  private readonly tokens = new Tokens();
  private socket: DatagramChannel | undefined;
  /** The socket we bound ourselves (no shared one was given): closed on stop. */
  private ownSocket: KernelDatagramChannel | undefined;
  private rpc: Rpc | undefined;
  private table: RoutingTable | undefined;
  private routers: Endpoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly stopping = new AbortController();
  private active = 0;
  private readonly queue: Array<{ go: () => void; fail: (e: Error) => void }> = [];
  private maintaining = false;
  private warnings = 0;
  private joinTimer: NodeJS.Timeout | undefined;
  private joinRetries = 0;
  /** Lookups in a row that got no answer. */
  private failedLookups = 0;
  /** Nodes that queried us, to be pinged (by IP). */
  private readonly toVerify = new Map<string, NodeContact>();
  /** Hosts whose verifying ping is on its way. */
  private readonly verifying = new Set<string>();
  private verifyTimer: NodeJS.Timeout | undefined;
  private readonly verifyBudget: TokenBucket;
  /** Requesters that announced with our token: host -> until when. */
  private readonly proven = new Map<string, number>();
  private readonly external = new ExternalAddress();
  private readonly answered: Record<QueryName | 'unknown', number> = { ping: 0, find_node: 0, get_peers: 0, announce_peer: 0, unknown: 0 };

  constructor(private readonly opts: DhtOptions) {
    this.limits = { ...DHT_LIMITS, ...opts.limits };
    this.store = new PeerStore(this.limits.peerStore);
    this.verifyBudget = new TokenBucket(this.limits.verifyRate, this.limits.verifyRate);
  }

  private warn(message: string): void {
    this.warnings++;
    this.opts.onWarning?.(message);
  }

  /** Reads the saved routing table, binds the socket, and starts joining the DHT in the background. */
  async start(): Promise<void> {
    if (this.socket) throw new Error('the DHT is already started');
    const socket = this.opts.socket ?? (this.ownSocket = await this.bind());
    if (socket.family !== 4) throw new Error('the DHT runs over IPv4 only; it was given an IPv6 socket');
    const state = this.opts.stateFile ? await loadState(this.opts.stateFile).catch((e: Error) => this.warn(`${e.message}; starting with an empty routing table`)) : undefined;
    const id = state?.id ?? randomNodeId();
    const table = new RoutingTable(id, this.limits.k);
    socket.onError((e) => this.warn(`DHT socket: ${e.message}`));
    this.socket = socket;
    this.table = table;
    this.rpc = new Rpc(socket, id, (q, from) => this.serve(q, from), (m) => this.warn(m), this.limits, this.opts.queryTimeoutMs ?? 2000);
    const loaded = (state?.nodes ?? []).filter((n) => n.port > 0 && table.heard(n, false) === 'added');
    this.routers = await this.resolveRouters();
    this.timer = setInterval(() => void this.maintain(), MAINTENANCE_MS);
    this.timer.unref();
    this.verifyTimer = setInterval(() => this.verifySome(), VERIFY_TICK_MS);
    this.verifyTimer.unref();
    void this.pingAll(loaded);
    void this.join();
  }

  private async bind(): Promise<KernelDatagramChannel> {
    const host = this.opts.host ?? '0.0.0.0';
    const port = this.opts.port ?? 0;
    if (!isIPv4(host)) throw new Error(`the DHT binds IPv4 only; "${host}" is not an IPv4 address`);
    try {
      return await KernelDatagramChannel.bind(4, port, host);
    } catch (e) {
      throw new Error(`the DHT cannot listen on UDP ${host}:${port} (${(e as Error).message}): choose another DHT port or turn the DHT off`);
    }
  }

  private async resolveRouters(): Promise<Endpoint[]> {
    const out: Endpoint[] = [];
    for (const r of this.opts.bootstrap.slice(0, MAX_ROUTERS)) {
      if (isIPv4(r.host)) {
        out.push({ host: r.host, port: r.port });
        continue;
      }
      try {
        const addrs = await resolveName(r.host, { family: 4, all: true });
        for (const a of addrs.slice(0, 4)) out.push({ host: a.address, port: r.port });
      } catch (e) {
        this.warn(`DHT bootstrap node ${r.host}:${r.port} does not resolve (${(e as Error).message})`);
      }
    }
    return out;
  }

  /** Our bound address. */
  address(): Endpoint {
    return this.running().socket.address();
  }

  private running(): { socket: DatagramChannel; rpc: Rpc; table: RoutingTable } {
    if (!this.socket || !this.rpc || !this.table || this.stopping.signal.aborted) throw new Error('the DHT is not running: call start() first');
    return { socket: this.socket, rpc: this.rpc, table: this.table };
  }

  /** A query of ours; the answer (or its absence) updates the routing table. */
  private async ask(to: Endpoint, query: Query): Promise<IncomingResponse> {
    const { rpc } = this.running();
    try {
      const r = await rpc.query(to, query);
      if (r.ip) this.learnAddress(r.ip.host, to.host);
      this.running().table.heard({ id: r.id, host: to.host, port: to.port }, true);
      return r;
    } catch (e) {
      if (e instanceof QueryError && e.reason === 'timeout') this.table?.failed(to.host, to.port);
      throw e;
    }
  }

  /**
   * A node told us our address. Once the nodes agree on a global one our id does not fit
   * (BEP 42), we take one that does: the table is bucketed anew around it, nothing is lost.
   */
  private learnAddress(address: string, voter: string): void {
    if (!this.external.add(address, voter) || !this.table || !this.rpc) return;
    if (bep42Valid(this.table.ownId, address)) return;
    const id = bep42Id(address);
    this.table = this.table.withOwnId(id);
    this.rpc.setOwnId(id);
  }

  /** A node that queried us is pinged (soon, at a bounded rate) before it counts. */
  private toBeVerified(contact: NodeContact): void {
    if (this.toVerify.size < this.limits.maxToVerify) this.toVerify.set(contact.host, contact);
  }

  private verifySome(): void {
    // Nothing waiting: unverified nodes still in the table (spares that moved up, loaded ones) are next.
    if (this.toVerify.size === 0 && this.table) for (const n of this.table.nodes()) if (!n.verified && !this.verifying.has(n.host)) this.toBeVerified(n);
    for (const [host, contact] of this.toVerify) {
      if (this.stopping.signal.aborted) return;
      if (this.verifying.has(host) || !this.table?.knows(contact.host, contact.port)) {
        this.toVerify.delete(host);
        continue;
      }
      if (!this.verifyBudget.take()) return;
      this.toVerify.delete(host);
      this.verifying.add(host);
      void this.ask(contact, { q: 'ping' })
        .catch(() => {})
        .finally(() => this.verifying.delete(host));
    }
  }

  private async pingAll(nodes: readonly NodeContact[]): Promise<void> {
    const todo = [...nodes];
    const worker = async () => {
      for (let n = todo.shift(); n && !this.stopping.signal.aborted; n = todo.shift()) await this.ask(n, { q: 'ping' }).catch(() => {});
    };
    await Promise.all(Array.from({ length: Math.min(PINGS_PER_ROUND, todo.length) }, worker));
  }

  private acquire(): Promise<void> {
    if (this.active < this.limits.maxLookups) {
      this.active++;
      return Promise.resolve();
    }
    if (this.queue.length >= this.limits.maxQueuedLookups) {
      return Promise.reject(new Error(`${this.limits.maxQueuedLookups} DHT lookups are already waiting; try again later`));
    }
    return new Promise((go, fail) => this.queue.push({ go, fail }));
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next.go(); // the slot passes on
    else this.active--;
  }

  private async iterate(target: Buffer, method: 'find_node' | 'get_peers', opts: { routers?: boolean; onPeers?: (p: PeerAddress[]) => void; signal?: AbortSignal }): Promise<LookupResult> {
    if (target.length !== ID_LENGTH) throw new TypeError(`a DHT target is ${ID_LENGTH} bytes, not ${target.length}`);
    this.running();
    await this.acquire();
    try {
      const { table } = this.running();
      const useRouters = opts.routers ?? table.counts().verified < this.limits.k;
      const query: Query = method === 'find_node' ? { q: 'find_node', target } : { q: 'get_peers', infoHash: target };
      const signal = opts.signal ? AbortSignal.any([opts.signal, this.stopping.signal]) : this.stopping.signal;
      const run = (seeds: readonly NodeContact[], routers: readonly Endpoint[]) =>
        lookup({
          target,
          method,
          k: this.limits.k,
          alpha: this.limits.alpha,
          maxQueries: this.limits.lookupQueries,
          ownId: this.running().table.ownId,
          seeds,
          routers,
          ask: (to) => this.ask(to, query),
          onPeers: opts.onPeers,
          signal,
        });
      let r = await run(table.closest(target, this.limits.k * 2), useRouters ? this.routers : []);
      // Not one answer from the table (stale, or poisoned with nodes that never answer): the routers, once more.
      if (r.answers === 0 && !useRouters && this.routers.length > 0 && !signal.aborted) r = await run([], this.routers);
      // (One that had nobody to ask, with no routers and an empty table, is no news.)
      if (!signal.aborted && r.queries > 0) this.countLookup(r.answers > 0);
      return r;
    } finally {
      this.release();
    }
  }

  private countLookup(answered: boolean): void {
    if (answered) {
      this.failedLookups = 0;
      return;
    }
    if (++this.failedLookups !== FAILING_LOOKUPS) return;
    const routers = this.routers.length > 0 ? 'its bootstrap nodes did not answer either' : 'and it has no bootstrap node (give one with --dht-bootstrap)';
    this.warn(`the last ${FAILING_LOOKUPS} DHT lookups got no answer from any node (${this.table?.size ?? 0} nodes in the routing table); ${routers}: check that UDP gets through`);
  }

  /**
   * find_node towards our own id: fills the buckets near us and tells the nodes near us about us.
   * While fewer than K nodes answered, again after 1, 2, 4, 8 and 16 s: nodes hand out only nodes
   * they verified, so in a young network the first answers are thin.
   */
  private async join(): Promise<void> {
    clearTimeout(this.joinTimer);
    await this.iterate(this.running().table.ownId, 'find_node', { routers: true }).catch((e: Error) => this.warn(`DHT bootstrap: ${e.message}`));
    const table = this.table;
    if (!table || this.stopping.signal.aborted) return;
    if (this.joinRetries === 0 && table.size === 0 && this.routers.length > 0) this.warn('no DHT node answered: check the bootstrap nodes and that UDP is not blocked');
    if (table.counts().verified >= this.limits.k || this.joinRetries >= JOIN_RETRIES || (table.size === 0 && this.routers.length === 0)) return;
    this.joinTimer = setTimeout(() => void this.join(), 1000 * 2 ** this.joinRetries++);
    this.joinTimer.unref();
  }

  /**
   * Find peers for `infoHash`: they are passed to `onPeers` as they arrive (each at most once
   * per lookup); resolves when the lookup has converged.
   */
  async lookup(infoHash: Buffer, onPeers: (peers: PeerAddress[]) => void, opts: { signal?: AbortSignal } = {}): Promise<LookupSummary> {
    const r = await this.iterate(infoHash, 'get_peers', { onPeers, signal: opts.signal });
    return { peers: r.peers, queries: r.queries, answers: r.answers, closest: r.closest.length };
  }

  /**
   * Look up `infoHash` (peers to `onPeers`), then announce our `port` to the closest nodes.
   * `confirm` is asked between the two: false (a torrent that turned out private meanwhile, BEP 27)
   * sends no announce_peer at all; so does an aborted `signal`.
   */
  async announce(
    infoHash: Buffer,
    port: number,
    onPeers: (peers: PeerAddress[]) => void = () => {},
    opts: { signal?: AbortSignal; confirm?: () => boolean } = {},
  ): Promise<AnnounceSummary> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`cannot announce port ${port}: ports are 1-65535`);
    const r = await this.iterate(infoHash, 'get_peers', { onPeers, signal: opts.signal });
    const summary = { peers: r.peers, queries: r.queries, answers: r.answers, closest: r.closest.length };
    if (opts.signal?.aborted || this.stopping.signal.aborted || opts.confirm?.() === false) return { ...summary, announcedTo: 0 };
    const acks = await Promise.allSettled(
      r.closest
        .filter((n) => n.token !== undefined)
        .map((n) => this.ask(n, { q: 'announce_peer', infoHash, port, impliedPort: false, token: n.token! })),
    );
    return { ...summary, announcedTo: acks.filter((a) => a.status === 'fulfilled').length };
  }

  private serve(q: IncomingQuery, from: Endpoint): void {
    const { rpc, table } = this.running();
    const query = q.query;
    this.answered[query ? query.q : 'unknown']++;
    if (!query) return rpc.replyError(from, q.t, ERR_METHOD, `unknown method "${q.method}"`);
    if (!q.readOnly) {
      const contact = { id: q.id, host: from.host, port: from.port };
      const heard = table.heard(contact, false);
      if ((heard === 'added' || heard === 'replacement') && !table.verifiedHost(from.host)) this.toBeVerified(contact);
    }
    const id = table.ownId;
    const k = this.limits.k;
    switch (query.q) {
      case 'ping':
        return rpc.reply(from, q.t, { id });
      case 'find_node':
        return rpc.reply(from, q.t, { id, nodes: table.closest(query.target, k, true) });
      case 'get_peers': {
        const token = this.tokens.issue(from.host);
        if (!this.isProven(from.host)) {
          // Few values, in the room of some nodes: no bigger than a find_node answer (K nodes of
          // 26 bytes), so a spoofed query gains nothing over find_node, and a lookup still goes on.
          const some = this.store.get(query.infoHash, this.limits.valuesPerUnprovenReply);
          const nodes = table.closest(query.infoHash, k - Math.ceil((some.length * COMPACT_PEER_BYTES) / COMPACT_NODE_BYTES), true);
          return rpc.reply(from, q.t, { id, token, nodes, values: some.length > 0 ? some : undefined });
        }
        const values = this.store.get(query.infoHash, this.limits.valuesPerReply);
        return rpc.reply(from, q.t, { id, token, nodes: table.closest(query.infoHash, k, true), values: values.length > 0 ? values : undefined });
      }
      case 'announce_peer':
        if (!this.tokens.valid(from.host, query.token)) return rpc.replyError(from, q.t, ERR_PROTOCOL, 'bad token: send get_peers first');
        this.prove(from.host);
        this.store.add(query.infoHash, from.host, query.impliedPort ? from.port : query.port);
        return rpc.reply(from, q.t, { id });
    }
  }

  /** The requester's address is its own: it answered one of our queries, or came back with our token. */
  private isProven(host: string): boolean {
    if (this.table?.verifiedHost(host)) return true;
    const until = this.proven.get(host);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.proven.delete(host);
    return false;
  }

  private prove(host: string): void {
    this.proven.delete(host);
    if (this.proven.size >= MAX_PROVEN) this.proven.delete(this.proven.keys().next().value!);
    this.proven.set(host, Date.now() + PROVEN_MS);
  }

  /** Pings nodes not heard from lately, refreshes a stale bucket, rejoins when the table ran dry. */
  private async maintain(): Promise<void> {
    if (this.maintaining || this.stopping.signal.aborted) return;
    this.maintaining = true;
    try {
      const { table } = this.running();
      const before = Date.now() - STALE_MS;
      await this.pingAll(table.nodes().filter((n) => !n.verified || n.lastSeen < before).slice(0, PINGS_PER_ROUND));
      if (table.size < this.limits.k) await this.join();
      else {
        const [bucket] = table.bucketsToRefresh(before);
        if (bucket !== undefined) await this.iterate(randomIdInBucket(table.ownId, bucket), 'find_node', {}).catch(() => {});
      }
    } catch (e) {
      this.warn(`DHT maintenance: ${(e as Error).message}`);
    } finally {
      this.maintaining = false;
    }
  }

  stats(): DhtStats {
    const { rpc, table } = this.running();
    const c = table.counts();
    return {
      id: table.ownId.toString('hex'),
      address: this.address(),
      nodes: c.nodes,
      verifiedNodes: c.verified,
      bep42Nodes: c.bep42,
      replacementNodes: c.replacements,
      toVerify: this.toVerify.size,
      externalAddress: this.external.address,
      buckets: c.buckets,
      storedPeers: this.store.size,
      storedInfoHashes: this.store.infoHashes,
      outstandingQueries: rpc.outstanding,
      activeLookups: this.active,
      queuedLookups: this.queue.length,
      trackedSources: rpc.trackedSources,
      queriesAnswered: { ...this.answered },
      received: rpc.counters.received,
      sent: rpc.counters.sent,
      dropped: { ...rpc.counters.dropped },
      warnings: this.warnings,
    };
  }

  /** Ends every lookup, saves the routing table (when it has nodes), closes the socket if it bound its own. */
  async stop(): Promise<void> {
    if (!this.socket || this.stopping.signal.aborted) return;
    const { rpc, table } = this.running();
    this.stopping.abort();
    clearInterval(this.timer);
    clearInterval(this.verifyTimer);
    clearTimeout(this.joinTimer);
    rpc.close();
    for (const w of this.queue.splice(0)) w.fail(new Error('the DHT is stopped'));
    // Only nodes that answered us (one per IP, few per /24): what merely queried us may be
    // spoofed or a Sybil's. None at all would only overwrite a useful table from an earlier run.
    const verified = table.nodes().filter((n) => n.verified);
    if (this.opts.stateFile && verified.length > 0) {
      await saveState(this.opts.stateFile, { id: table.ownId, nodes: verified }).catch((e: Error) => this.warn(`DHT state not saved to ${this.opts.stateFile}: ${e.message}`));
    }
    await this.ownSocket?.close();
  }
}
