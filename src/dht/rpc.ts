/**
 * The KRPC transport on one IPv4 UDP socket (its KRPC datagrams: the socket may carry uTP too): transaction ids, one timeout per outstanding query,
 * a cap on outstanding queries, per-source and overall limits on what comes in. Every datagram
 * passes parseMessage (the bounded decoder) before anything else looks at it; a response is
 * taken only from the address the query went to. Under a flood, datagrams from hosts we are
 * waiting on skip the per-source limit, so our own lookups keep getting their answers; and once
 * all sources together are past the query rate, a source that has sent only a few queries
 * lately is still answered from an allowance of its own, so a flood from many busy sources
 * (each under its own limit) does not shut out the nodes that ask us now and then.
 */
import { randomInt } from 'node:crypto';
import type { DatagramChannel, DatagramSource } from '../transport/datagram.js';
import { TokenBucket } from '../util/token-bucket.js';
import { ERR_PROTOCOL, KrpcError, MAX_DATAGRAM, encodeError, encodeQuery, encodeResponse, parseMessage, type IncomingQuery, type IncomingResponse, type Query, type ResponseBody } from './krpc.js';
import { SourceLimiter } from '../net/source-limiter.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface RpcLimits {
  /** Queries of ours waiting for an answer; more are refused at once. */
  maxOutstanding: number;
  /** Datagrams per second (and burst) from one IP. */
  perSourceRate: number;
  perSourceBurst: number;
  /** Source IPs tracked at once. */
  maxSources: number;
  /** Queries per second (and burst) answered from all sources together. */
  queryRate: number;
  queryBurst: number;
}

/** A source is quiet while it sends no more queries than this (a bucket of 10, one more each second). */
const QUIET_RATE = 1;
const QUIET_BURST = 10;
/** Queries per second answered past the overall rate, for quiet sources only. */
const QUIET_QUERIES = 200;

export type QueryFailure = 'timeout' | 'busy' | 'error' | 'closed' | 'unsent';

export class QueryError extends Error {
  constructor(
    readonly reason: QueryFailure,
    message: string,
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

export interface RpcCounters {
  received: number;
  sent: number;
  dropped: { rateLimited: number; oversize: number; malformed: number; unexpected: number };
}

interface Pending {
  to: Endpoint;
  timer: NodeJS.Timeout;
  resolve: (r: IncomingResponse) => void;
  reject: (e: QueryError) => void;
}

export class Rpc {
  private readonly pending = new Map<number, Pending>();
  /** Outstanding queries per host: their answers are let through whatever else that host sends. */
  private readonly awaited = new Map<string, number>();
  private nextTid = randomInt(0x10000);
  private readonly sources: SourceLimiter;
  private readonly queries: TokenBucket;
  private readonly quiet: SourceLimiter;
  private readonly quietQueries = new TokenBucket(QUIET_QUERIES, QUIET_QUERIES);
  private closed = false;
  private readonly unsubscribe: () => void;
  readonly counters: RpcCounters = { received: 0, sent: 0, dropped: { rateLimited: 0, oversize: 0, malformed: 0, unexpected: 0 } };

  constructor(
    private readonly socket: DatagramChannel,
    private ownId: Buffer,
    private readonly onQuery: (q: IncomingQuery, from: Endpoint) => void,
    private readonly onWarning: (message: string) => void,
    private readonly limits: RpcLimits,
    private readonly timeoutMs: number,
  ) {
    this.sources = new SourceLimiter(limits.perSourceRate, limits.perSourceBurst, limits.maxSources);
    this.queries = new TokenBucket(limits.queryRate, limits.queryBurst);
    this.quiet = new SourceLimiter(QUIET_RATE, QUIET_BURST, limits.maxSources);
    this.unsubscribe = socket.receive('krpc', (buf, from) => this.receive(buf, from));
  }

  get outstanding(): number {
    return this.pending.size;
  }

  get trackedSources(): number {
    return this.sources.sources;
  }

  /** Our id from now on (BEP 42: our address became known). */
  setOwnId(id: Buffer): void {
    this.ownId = id;
  }

  private receive(buf: Buffer, from: DatagramSource): void {
    if (this.closed) return;
    this.counters.received++;
    // A host we wait on is read at once (its answer may be in this datagram); all it sends
    // besides answers still counts against its own limit.
    const awaited = this.awaited.has(from.host);
    if (!awaited && !this.sources.allow(from.host)) {
      this.counters.dropped.rateLimited++;
      return;
    }
    if (buf.length > MAX_DATAGRAM) {
      this.counters.dropped.oversize++;
      return;
    }
    let msg;
    try {
      msg = parseMessage(buf);
    } catch (e) {
      this.counters.dropped.malformed++;
      if (awaited && !this.sources.allow(from.host)) return;
      if (e instanceof KrpcError && e.replyTo && this.queries.take()) this.send(from, encodeError(e.replyTo, ERR_PROTOCOL, e.message));
      return;
    }
    if (msg.y === 'q') {
      if ((awaited && !this.sources.allow(from.host)) || !(this.queries.take() || (this.quiet.allow(from.host) && this.quietQueries.take()))) {
        this.counters.dropped.rateLimited++;
        return;
      }
      this.onQuery(msg, from);
      return;
    }
    const tid = msg.t.length === 2 ? msg.t.readUInt16BE(0) : -1;
    const p = this.pending.get(tid);
    if (!p || p.to.host !== from.host || p.to.port !== from.port) {
      this.counters.dropped.unexpected++;
      return;
    }
    this.settle(tid, p);
    if (msg.y === 'r') p.resolve(msg);
    else p.reject(new QueryError('error', `${from.host}:${from.port} answered with error ${msg.code}${msg.message ? `: ${msg.message}` : ''}`));
  }

  private settle(tid: number, p: Pending): void {
    clearTimeout(p.timer);
    this.pending.delete(tid);
    const n = this.awaited.get(p.to.host)! - 1;
    if (n > 0) this.awaited.set(p.to.host, n);
    else this.awaited.delete(p.to.host);
  }

  private send(to: Endpoint, buf: Buffer, onError?: (e: Error) => void): void {
    try {
      this.socket.send(buf, to.port, to.host, (err) => {
        if (err) {
          if (onError) onError(err);
          else this.onWarning(`DHT send to ${to.host}:${to.port} failed: ${err.message}`);
        }
      });
      this.counters.sent++;
    } catch (e) {
      // A bad port or address throws synchronously; the socket itself is fine.
      if (onError) onError(e as Error);
      else this.onWarning(`DHT send to ${to.host}:${to.port} failed: ${(e as Error).message}`);
    }
  }

  /** Send `query` to `to`; resolves with its response, rejects with a QueryError. */
  query(to: Endpoint, query: Query): Promise<IncomingResponse> {
    if (this.closed) return Promise.reject(new QueryError('closed', 'the DHT is stopped'));
    if (this.pending.size >= this.limits.maxOutstanding) {
      return Promise.reject(new QueryError('busy', `${this.limits.maxOutstanding} DHT queries are already outstanding`));
    }
    let tid = this.nextTid;
    while (this.pending.has(tid)) tid = (tid + 1) & 0xffff;
    this.nextTid = (tid + 1) & 0xffff;
    const t = Buffer.alloc(2);
    t.writeUInt16BE(tid);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(tid, p);
        reject(new QueryError('timeout', `${to.host}:${to.port} did not answer ${query.q} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      const p: Pending = { to, timer, resolve, reject };
      this.pending.set(tid, p);
      this.awaited.set(to.host, (this.awaited.get(to.host) ?? 0) + 1);
      this.send(to, encodeQuery(t, this.ownId, query), (err) => {
        if (this.pending.get(tid) !== p) return;
        this.settle(tid, p);
        reject(new QueryError('unsent', `${query.q} to ${to.host}:${to.port} could not be sent: ${err.message}`));
      });
    });
  }

  reply(to: Endpoint, t: Buffer, body: ResponseBody): void {
    this.send(to, encodeResponse(t, body, to));
  }

  replyError(to: Endpoint, t: Buffer, code: number, message: string): void {
    this.send(to, encodeError(t, code, message));
  }

  /** Fails every outstanding query and ignores whatever arrives afterwards. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const [tid, p] of [...this.pending]) {
      this.settle(tid, p);
      p.reject(new QueryError('closed', 'the DHT is stopped'));
    }
  }
}
