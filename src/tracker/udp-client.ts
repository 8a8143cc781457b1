/**
 * BEP 15 client for one address family. One datagram flow per tracker endpoint (on the kernel, a
 * connected socket: it drops datagrams from anyone else and reports ICMP "port unreachable" as
 * ECONNREFUSED, so a tracker that is not there fails fast instead of after every retransmission).
 */
import type { Family } from '../net/address.js';
import type { DatagramFlow } from '../transport/datagram.js';
import { KERNEL_TRACKER_NETWORK } from '../transport/kernel/kernel-network.js';
import type { TrackerNetwork } from '../transport/network.js';
import { printable } from '../util/sanitize.js';
import { TrackerError, toTrackerError } from './errors.js';
import { LIMITS, type ScrapeEntry } from './types.js';
import {
  ACTION, MAX_SCRAPE_HASHES, announceRequest, connectRequest, parseAnnounceReply, parseScrapeReplyBody,
  randomTx, replyHeader, scrapeRequest, type UdpAnnounceFields, type UdpAnnounceReply,
} from './udp-protocol.js';

/** BEP 15: a connection id may be used for one minute after it was received. */
const CONNECTION_ID_TTL_MS = 60_000;
/**
 * BEP 15 retransmits after 15 * 2^n s up to n = 8: over two hours (7665 s) of silence before a
 * dead tracker counts as failed, during which the family's announce round (and with it every
 * later tier) would wait. We keep BEP 15's schedule but stop at n = 2, i.e. three sends over
 * 105 s in all (15 + 30 + 60 s) with the default base: enough for two lost datagrams, and then
 * the round moves on to the next tracker; the announce schedule's backoff retries this one later.
 */
const MAX_N = 2;

export interface UdpClientOptions {
  family: Family;
  /** 15 000 in BEP 15; tests shrink it. One exchange gives up after base * (1 + 2 + 4). */
  retransmitBaseMs: number;
  /** How long a connection id is used, default 60 000 (BEP 15: one minute); tests shrink it. */
  connectionIdTtlMs?: number;
  /** Where flows are opened (default: the kernel's sockets). */
  network?: TrackerNetwork;
}

interface Pending {
  resolve(b: Buffer): void;
  reject(e: TrackerError): void;
}

/** One flow to one tracker endpoint; replies are matched to requests by transaction id. */
export class UdpEndpoint {
  connId: Buffer | undefined;
  connIdAt = 0;
  readonly pending = new Map<number, Pending>();
  readonly ready: Promise<DatagramFlow>;
  private closed = false;

  constructor(flow: Promise<DatagramFlow>, address: string, port: number) {
    this.ready = flow.then(
      (f) => {
        if (this.closed) f.close();
        f.onMessage((msg) => {
          const h = replyHeader(msg);
          const p = h && this.pending.get(h.tx);
          if (!p) return; // late, spoofed or a wrong transaction id
          this.pending.delete(h.tx);
          p.resolve(msg);
        });
        f.onError((e) => this.failAll(toTrackerError(e, `UDP tracker ${address} port ${port}`)));
        return f;
      },
      (e: Error) => Promise.reject(toTrackerError(e, `UDP tracker ${address} port ${port}`)),
    );
  }

  failAll(e: TrackerError): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  close(): void {
    this.closed = true;
    this.failAll(new TrackerError('cancelled'));
    this.ready.then((f) => f.close(), () => {});
  }

  /** Send `packet` and wait up to `waitMs` for the reply with transaction id `tx`; undefined on timeout. */
  async exchange(packet: Buffer, tx: number, waitMs: number, signal?: AbortSignal): Promise<Buffer | undefined> {
    const flow = await this.ready;
    return new Promise<Buffer | undefined>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(tx);
      };
      const onAbort = () => {
        done();
        reject(new TrackerError('cancelled'));
      };
      const timer = setTimeout(() => {
        done();
        resolve(undefined);
      }, waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(tx, {
        resolve: (b) => { done(); resolve(b); },
        reject: (e) => { done(); reject(e); },
      });
      flow.send(packet, (err) => {
        if (err && this.pending.has(tx)) {
          done();
          reject(toTrackerError(err, 'UDP send failed'));
        }
      });
    });
  }
}

export class UdpTrackerClient {
  private readonly endpoints = new Map<string, UdpEndpoint>();
  private closed = false;

  private readonly ttlMs: number;

  constructor(private readonly opts: UdpClientOptions) {
    this.ttlMs = opts.connectionIdTtlMs ?? CONNECTION_ID_TTL_MS;
  }

  async announce(address: string, port: number, fields: UdpAnnounceFields, signal?: AbortSignal): Promise<UdpAnnounceReply> {
    const reply = await this.announcePacket(address, port, fields, signal);
    const parsed = parseAnnounceReply(reply, this.opts.family);
    if (!parsed) throw new TrackerError(`announce reply of ${reply.length} bytes is too short`);
    return parsed;
  }

  /** The announce reply packet as it came (action checked), for callers that look at its raw form. */
  announcePacket(address: string, port: number, fields: UdpAnnounceFields, signal?: AbortSignal): Promise<Buffer> {
    return this.transact(address, port, (id, tx) => announceRequest(id, tx, fields), ACTION.announce, signal);
  }

  async scrape(address: string, port: number, hashes: Buffer[], signal?: AbortSignal): Promise<Map<string, ScrapeEntry>> {
    const out = new Map<string, ScrapeEntry>();
    for (let i = 0; i < hashes.length; i += MAX_SCRAPE_HASHES) {
      const chunk = hashes.slice(i, i + MAX_SCRAPE_HASHES);
      const reply = await this.transact(address, port, (id, tx) => scrapeRequest(id, tx, chunk), ACTION.scrape, signal);
      for (const [k, v] of parseScrapeReplyBody(reply, chunk)) out.set(k, v);
    }
    return out;
  }

  close(): void {
    this.closed = true;
    for (const ep of this.endpoints.values()) ep.close();
    this.endpoints.clear();
  }

  private endpoint(address: string, port: number): UdpEndpoint {
    if (this.closed) throw new TrackerError('cancelled');
    const k = `${address}|${port}`;
    let ep = this.endpoints.get(k);
    if (!ep) {
      const created = new UdpEndpoint((this.opts.network ?? KERNEL_TRACKER_NETWORK).openFlow(this.opts.family, address, port), address, port);
      this.endpoints.set(k, created);
      // A flow that could not be opened (no route, no such family) is retried fresh next time.
      created.ready.catch(() => {
        if (this.endpoints.get(k) === created) this.endpoints.delete(k);
      });
      ep = created;
    }
    return ep;
  }

  /**
   * Connect (when the cached connection id is missing or older than a minute), then one request,
   * each retransmitted with the same transaction id after base * 2^n; n counts over the whole exchange.
   */
  private async transact(address: string, port: number, build: (connId: Buffer, tx: number) => Buffer, expect: number, signal?: AbortSignal): Promise<Buffer> {
    const ep = this.endpoint(address, port);
    let n = 0;
    const wait = () => this.opts.retransmitBaseMs * 2 ** n;
    const timedOut = () =>
      new TrackerError(`no reply from UDP tracker ${address} port ${port} after ${MAX_N + 1} tries`, { unreachable: true, timedOut: true });
    for (;;) {
      if (!ep.connId || Date.now() - ep.connIdAt > this.ttlMs) {
        ep.connId = undefined;
        const tx = randomTx();
        const packet = connectRequest(tx);
        let reply: Buffer | undefined;
        while (!(reply = await ep.exchange(packet, tx, wait(), signal))) if (++n > MAX_N) throw timedOut();
        checkAction(reply, ACTION.connect, 16);
        ep.connId = Buffer.from(reply.subarray(8, 16));
        ep.connIdAt = Date.now();
      }
      const connId = ep.connId;
      const tx = randomTx();
      const packet = build(connId, tx);
      let reply: Buffer | undefined;
      while (!(reply = await ep.exchange(packet, tx, wait(), signal))) {
        if (++n > MAX_N) throw timedOut();
        if (Date.now() - ep.connIdAt > this.ttlMs) break; // id aged out while retrying: reconnect
      }
      if (!reply) continue;
      try {
        checkAction(reply, expect, expect === ACTION.scrape ? 8 : 20);
      } catch (e) {
        // An error reply often means our connection id was refused: get a fresh one next time.
        ep.connId = undefined;
        throw e;
      }
      return reply;
    }
  }
}

function checkAction(reply: Buffer, expect: number, minLength: number): void {
  const action = reply.readUInt32BE(0);
  if (action === ACTION.error) throw new TrackerError(`tracker error: ${printable(reply.toString('utf8', 8), LIMITS.maxMessageChars) || '(no message)'}`);
  if (action !== expect) throw new TrackerError(`reply has action ${action}, expected ${expect}`);
  if (reply.length < minLength) throw new TrackerError(`reply of ${reply.length} bytes is too short`);
}

