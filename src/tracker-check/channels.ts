/**
 * The check's way to one tracker address: HTTP(S) announce and scrape on the project's client
 * (raw replies kept), or BEP 15 over the check's own UdpProbe (which sees replies from anywhere),
 * plus the requests a tracker should refuse. Every request is counted against a budget, waits for
 * a slot of the tracker's limiter, and ends within --timeout, redirects and retransmissions
 * included, or when the check of the tracker is stopped (its time bound, an interrupt).
 */
import { randomBytes } from 'node:crypto';
import type { Family } from '../net/address.js';
import { fromUdpReply, toUdpFields } from '../tracker/announce-once.js';
import { TrackerError } from '../tracker/errors.js';
import { httpAnnounceBody, httpScrapeBody, withQuery, type HttpCallOptions } from '../tracker/http-announce.js';
import { httpGet } from '../tracker/http-get.js';
import { parseAnnounceReply, parseScrapeReply } from '../tracker/http-reply.js';
import { LIMITS, type AnnounceParams } from '../tracker/types.js';
import {
  ACTION, announceRequest, connectRequest, parseAnnounceReply as parseUdpAnnounceReply, parseScrapeReplyBody, randomTx,
  replyHeader, scrapeRequest,
} from '../tracker/udp-protocol.js';
import type { TrackerUrl } from '../tracker/url.js';
import { printable } from '../util/sanitize.js';
import type { Limiter } from './limiter.js';
import type { Announced, OddReply, Scraped } from './observations.js';
import { describeStrays, UdpProbe, type Elsewhere, type Stray } from './udp-probe.js';

/** Requests per tracker address; the script needs at most 16. */
export const REQUESTS_PER_ADDRESS = 20;

/** BEP 15: a connection id may be used for one minute after it was received. */
const CONNECTION_ID_TTL_MS = 60_000;

export class Budget {
  used = 0;
  constructor(private readonly max: number) {}

  take(): void {
    if (this.used >= this.max) throw new TrackerError(`request budget of ${this.max} per address used up`);
    this.used++;
  }
}

export interface Channel {
  announce(p: AnnounceParams): Promise<Announced>;
  scrape(hash: Buffer): Promise<Scraped>;
  /** A request no tracker can serve; it should be refused with a reason. */
  malformed(): Promise<OddReply>;
  close(): void;
}

export interface ChannelOptions {
  address: string;
  family: Family;
  timeoutMs: number;
  budget: Budget;
  /** Requests in flight to this tracker, all addresses together. */
  limiter: Limiter;
  /** Read at each request: aborted when the check of this tracker must end (the script swaps it to stop its peers). */
  signal: () => AbortSignal;
}

export function openChannel(t: TrackerUrl, o: ChannelOptions): Channel {
  return t.protocol === 'udp' ? new UdpChannel(t, o) : new HttpChannel(t, o);
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** A UDP request that got no reply, though other datagrams came: they are named in the message. */
export class OddDatagramsError extends TrackerError {
  constructor(message: string, readonly strays: Stray[]) {
    super(message, { timedOut: true, unreachable: true });
  }
}

export class HttpChannel implements Channel {
  constructor(private readonly t: TrackerUrl, private readonly o: ChannelOptions) {}

  /** One request (redirects included) within --timeout, in a slot of the limiter. */
  private call<T>(fn: (call: HttpCallOptions) => Promise<T>): Promise<T> {
    // The signal of the moment the request was asked for: one still queued when its step is cut never goes out.
    const stop = this.o.signal();
    return this.o.limiter.run(async () => {
      if (stop.aborted) throw new TrackerError('cancelled');
      this.o.budget.take();
      const own = new AbortController();
      const timer = setTimeout(() => own.abort(), this.o.timeoutMs);
      try {
        return await fn({ address: this.o.address, family: this.o.family, timeoutMs: this.o.timeoutMs, signal: AbortSignal.any([own.signal, stop]) });
      } catch (e) {
        if (own.signal.aborted && !stop.aborted) throw new TrackerError(`no complete reply within ${seconds(this.o.timeoutMs)} (redirects included)`, { timedOut: true });
        throw e;
      } finally {
        clearTimeout(timer);
      }
    });
  }

  async announce(p: AnnounceParams): Promise<Announced> {
    const raw = await this.call((c) => httpAnnounceBody(this.t, p, c));
    return { reply: parseAnnounceReply(raw), raw };
  }

  async scrape(hash: Buffer): Promise<Scraped> {
    const raw = await this.call((c) => httpScrapeBody(this.t, [hash], c));
    return { entry: parseScrapeReply(raw).get(hash.toString('hex')), raw };
  }

  /** An announce whose info_hash is one byte long (and event=stopped, so that nothing is stored if it is taken). */
  async malformed(): Promise<OddReply> {
    const res = await this.call((c) => httpGet(this.t, withQuery(this.t.path, 'info_hash=x&port=1&event=stopped'), { ...c, maxBody: LIMITS.maxHttpBody }));
    return { kind: 'http', status: res.status, body: res.body };
  }

  close(): void {}
}

export class UdpChannel implements Channel {
  private readonly probe: UdpProbe;
  private connId: Buffer | undefined;
  private connIdAt = 0;
  /** Three sends (base, 2 x base, 4 x base) fit in one --timeout. */
  private readonly baseMs: number;

  constructor(t: TrackerUrl, private readonly o: ChannelOptions) {
    this.probe = new UdpProbe(o.family, o.address, t.port);
    this.baseMs = Math.max(50, Math.floor(o.timeoutMs / 7));
  }

  /** Replies (our transaction id) that came from another address or port than the one asked. */
  get elsewhere(): readonly Elsewhere[] {
    return this.probe.elsewhere;
  }

  async announce(p: AnnounceParams): Promise<Announced> {
    const raw = await this.transact((id, tx) => announceRequest(id, tx, toUdpFields(p)), ACTION.announce, 'announce');
    const parsed = parseUdpAnnounceReply(raw, this.o.family);
    if (!parsed) {
      throw new TrackerError(raw.length === 8
        ? 'an announce reply of 8 bytes: the header alone, no interval and no peers'
        : `announce reply of ${raw.length} bytes is too short (a BEP 15 announce reply has a 20-byte header)`);
    }
    return { reply: fromUdpReply(parsed, this.o.family), raw };
  }

  async scrape(hash: Buffer): Promise<Scraped> {
    const raw = await this.transact((id, tx) => scrapeRequest(id, tx, [hash]), ACTION.scrape, 'scrape');
    return { entry: parseScrapeReplyBody(raw, [hash]).get(hash.toString('hex')), raw };
  }

  /** An announce cut short after the info hash (valid connection id). */
  async malformed(): Promise<OddReply> {
    const connId = await this.connectionId();
    const full = announceRequest(connId, 0, { infoHash: randomBytes(20), peerId: randomBytes(20), downloaded: 0, left: 0, uploaded: 0, event: 'stopped', ip: 0, key: 0, numwant: 0, port: 1 });
    return this.once((tx) => {
      full.writeUInt32BE(tx, 12);
      return full.subarray(0, 36);
    });
  }

  /** A stopped announce (nothing to store even if it is taken) under a connection id the tracker never issued. */
  wrongConnectionId(fields: AnnounceParams): Promise<OddReply> {
    return this.once((tx) => announceRequest(randomBytes(8), tx, toUdpFields({ ...fields, event: 'stopped' })));
  }

  /** One announce packet sent twice with one transaction id, as a client does when the first reply is lost. */
  async retransmit(p: AnnounceParams): Promise<[Buffer | undefined, Buffer | undefined]> {
    const connId = await this.connectionId();
    const tx = randomTx();
    const packet = announceRequest(connId, tx, toUdpFields(p));
    const first = await this.send(packet, tx, this.o.timeoutMs);
    const second = await this.send(packet, tx, this.o.timeoutMs);
    return [first.reply, second.reply];
  }

  close(): void {
    this.probe.close();
  }

  /** One request, one send, one wait of --timeout. */
  private async once(build: (tx: number) => Buffer): Promise<OddReply> {
    const tx = randomTx();
    const ex = await this.send(build(tx), tx, this.o.timeoutMs);
    return { kind: 'udp', packet: ex.reply, ...(ex.strays.length > 0 ? { instead: describeStrays(ex.strays, ex.more) } : {}) };
  }

  private send(packet: Buffer, tx: number, waitMs: number) {
    const stop = this.o.signal();
    return this.o.limiter.run(() => {
      if (stop.aborted) throw new TrackerError('cancelled');
      this.o.budget.take();
      return this.probe.exchange(packet, tx, waitMs, stop);
    });
  }

  /** The connection id, fresh from a connect request when missing or a minute old (`tries` counts sends across the transaction). */
  private async connectionId(tries = { n: 0 }): Promise<Buffer> {
    if (this.connId && Date.now() - this.connIdAt < CONNECTION_ID_TTL_MS) return this.connId;
    this.connId = undefined;
    const reply = await this.exchange((tx) => connectRequest(tx), 'connect', tries);
    checkReply(reply, ACTION.connect, 16, 'connect');
    this.connId = Buffer.from(reply.subarray(8, 16));
    this.connIdAt = Date.now();
    return this.connId;
  }

  /**
   * Connect when needed, then one request; each is sent up to three times in all, after
   * base * 2^n (n counted over both), so the whole fits in --timeout.
   */
  private async transact(build: (connId: Buffer, tx: number) => Buffer, expect: number, what: string): Promise<Buffer> {
    const tries = { n: 0 };
    const connId = await this.connectionId(tries);
    const reply = await this.exchange((tx) => build(connId, tx), what, tries);
    try {
      checkReply(reply, expect, 8, what);
    } catch (e) {
      // An error reply often means our connection id was refused: get a fresh one next time.
      this.connId = undefined;
      throw e;
    }
    return reply;
  }

  /** One transaction (in one slot of the limiter): sends until a reply comes or three sends went unanswered. */
  private exchange(build: (tx: number) => Buffer, what: string, tries: { n: number }): Promise<Buffer> {
    const stop = this.o.signal();
    return this.o.limiter.run(async () => {
      if (stop.aborted) throw new TrackerError('cancelled');
      this.o.budget.take();
      const tx = randomTx();
      const packet = build(tx);
      const strays: Stray[] = [];
      let more = 0;
      for (;;) {
        const ex = await this.probe.exchange(packet, tx, this.baseMs * 2 ** tries.n, stop);
        if (ex.reply) return ex.reply;
        strays.push(...ex.strays);
        more += ex.more;
        if (++tries.n > 2) {
          const silent = `no reply to the ${what} request from ${this.probe.where} within ${seconds(this.o.timeoutMs)} (3 tries)`;
          if (strays.length === 0) throw new TrackerError(silent, { unreachable: true, timedOut: true });
          throw new OddDatagramsError(`${silent}; came instead: ${describeStrays(strays, more)}`, strays);
        }
      }
    });
  }
}

/** A reply of the expected action and at least `minLength` bytes, or a TrackerError saying what it is. */
function checkReply(reply: Buffer, expect: number, minLength: number, what: string): void {
  const action = replyHeader(reply)!.action;
  if (action === ACTION.error) throw new TrackerError(`tracker error: ${printable(reply.toString('utf8', 8), LIMITS.maxMessageChars) || '(no message)'}`);
  if (action !== expect) throw new TrackerError(`reply has action ${action}, expected ${expect}`);
  if (reply.length < minLength) throw new TrackerError(`${what} reply of ${reply.length} bytes is too short`);
}
