/**
 * The check's way to one tracker over one family, on the project's own clients: HTTP(S) announce
 * and scrape (with the raw reply kept), or BEP 15 through UdpTrackerClient, plus the requests a
 * tracker should refuse. Every request is counted against a budget.
 */
import { randomBytes } from 'node:crypto';
import type { Family } from '../net/address.js';
import { fromUdpReply, toUdpFields } from '../tracker/announce-once.js';
import { TrackerError } from '../tracker/errors.js';
import { httpAnnounceBody, httpScrape, withQuery, type HttpCallOptions } from '../tracker/http-announce.js';
import { httpGet } from '../tracker/http-get.js';
import { parseAnnounceReply } from '../tracker/http-reply.js';
import { LIMITS, type AnnounceParams, type ScrapeEntry } from '../tracker/types.js';
import { openKernelFlow } from '../transport/kernel/udp.js';
import { UdpEndpoint, UdpTrackerClient } from '../tracker/udp-client.js';
import {
  ACTION, announceRequest, connectRequest, parseAnnounceReply as parseUdpAnnounceReply, randomTx, replyHeader,
} from '../tracker/udp-protocol.js';
import type { TrackerUrl } from '../tracker/url.js';
import type { Announced, OddReply } from './observations.js';

/** Requests per tracker and family; the script needs at most 15. */
export const REQUESTS_PER_FAMILY = 20;

export class Budget {
  used = 0;
  constructor(private readonly max: number) {}

  take(): void {
    if (this.used >= this.max) throw new TrackerError(`request budget of ${this.max} per family used up`);
    this.used++;
  }
}

export interface Channel {
  announce(p: AnnounceParams): Promise<Announced>;
  scrape(hash: Buffer): Promise<ScrapeEntry | undefined>;
  /** A request no tracker can serve; it should be refused with a reason. */
  malformed(): Promise<OddReply>;
  close(): void;
}

export interface ChannelOptions {
  address: string;
  family: Family;
  timeoutMs: number;
  budget: Budget;
}

export function openChannel(t: TrackerUrl, o: ChannelOptions): Channel {
  return t.protocol === 'udp' ? new UdpChannel(t, o) : new HttpChannel(t, o);
}

export class HttpChannel implements Channel {
  private readonly call: HttpCallOptions;

  constructor(private readonly t: TrackerUrl, private readonly o: ChannelOptions) {
    this.call = { address: o.address, family: o.family, timeoutMs: o.timeoutMs };
  }

  async announce(p: AnnounceParams): Promise<Announced> {
    this.o.budget.take();
    const raw = await httpAnnounceBody(this.t, p, this.call);
    return { reply: parseAnnounceReply(raw), raw };
  }

  async scrape(hash: Buffer): Promise<ScrapeEntry | undefined> {
    this.o.budget.take();
    return (await httpScrape(this.t, [hash], this.call)).get(hash.toString('hex'));
  }

  /** An announce whose info_hash is one byte long (and event=stopped, so that nothing is stored if it is taken). */
  async malformed(): Promise<OddReply> {
    this.o.budget.take();
    const res = await httpGet(this.t, withQuery(this.t.path, 'info_hash=x&port=1&event=stopped'), { ...this.call, maxBody: LIMITS.maxHttpBody });
    return { kind: 'http', status: res.status, body: res.body };
  }

  close(): void {}
}

export class UdpChannel implements Channel {
  private readonly client: UdpTrackerClient;
  /** For the requests UdpTrackerClient would never send: its own socket, one send per request. */
  private raw: UdpEndpoint | undefined;
  private rawConnId: Buffer | undefined;

  constructor(private readonly t: TrackerUrl, private readonly o: ChannelOptions) {
    // Three sends (base, 2 x base, 4 x base) fit in one --timeout.
    this.client = new UdpTrackerClient({ family: o.family, retransmitBaseMs: Math.max(50, Math.floor(o.timeoutMs / 7)) });
  }

  async announce(p: AnnounceParams): Promise<Announced> {
    this.o.budget.take();
    const raw = await this.client.announcePacket(this.o.address, this.t.port, toUdpFields(p));
    const parsed = parseUdpAnnounceReply(raw, this.o.family);
    if (!parsed) throw new TrackerError(`announce reply of ${raw.length} bytes is too short`);
    return { reply: fromUdpReply(parsed, this.o.family), raw };
  }

  async scrape(hash: Buffer): Promise<ScrapeEntry | undefined> {
    this.o.budget.take();
    return (await this.client.scrape(this.o.address, this.t.port, [hash])).get(hash.toString('hex'));
  }

  /** An announce cut short after the info hash (valid connection id). */
  async malformed(): Promise<OddReply> {
    const connId = await this.connectRaw();
    const tx = randomTx();
    const full = announceRequest(connId, tx, { infoHash: randomBytes(20), peerId: randomBytes(20), downloaded: 0, left: 0, uploaded: 0, event: 'stopped', ip: 0, key: 0, numwant: 0, port: 1 });
    return { kind: 'udp', packet: await this.sendRaw(full.subarray(0, 36), tx) };
  }

  /** A stopped announce (nothing to store even if it is taken) under a connection id the tracker never issued. */
  async wrongConnectionId(fields: AnnounceParams): Promise<OddReply> {
    const tx = randomTx();
    return { kind: 'udp', packet: await this.sendRaw(announceRequest(randomBytes(8), tx, toUdpFields({ ...fields, event: 'stopped' })), tx) };
  }

  /** One announce packet sent twice with one transaction id, as a client does when the first reply is lost. */
  async retransmit(p: AnnounceParams): Promise<[Buffer | undefined, Buffer | undefined]> {
    const connId = await this.connectRaw();
    const tx = randomTx();
    const packet = announceRequest(connId, tx, toUdpFields(p));
    const first = await this.sendRaw(packet, tx);
    const second = await this.sendRaw(packet, tx);
    return [first, second];
  }

  close(): void {
    this.client.close();
    this.raw?.close();
  }

  private async connectRaw(): Promise<Buffer> {
    if (this.rawConnId) return this.rawConnId;
    const tx = randomTx();
    const reply = await this.sendRaw(connectRequest(tx), tx);
    if (!reply) throw new TrackerError(`no reply to a connect request within ${this.o.timeoutMs} ms`, { timedOut: true });
    if (replyHeader(reply)?.action !== ACTION.connect || reply.length < 16) throw new TrackerError(`connect reply of ${reply.length} bytes is not a BEP 15 connect reply`);
    this.rawConnId = Buffer.from(reply.subarray(8, 16));
    return this.rawConnId;
  }

  /** One send, one wait of --timeout: undefined when nothing came back. */
  private sendRaw(packet: Buffer, tx: number): Promise<Buffer | undefined> {
    this.o.budget.take();
    if (!this.raw) {
      this.raw = new UdpEndpoint(openKernelFlow(this.o.family, this.o.address, this.t.port), this.o.address, this.t.port);
      this.raw.ready.catch(() => undefined); // reported by the exchange that awaits it
    }
    return this.raw.exchange(packet, tx, this.o.timeoutMs);
  }
}
