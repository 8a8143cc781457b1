/**
 * The check's UDP socket to one tracker address, built to see every datagram that comes back.
 * Requests leave through a socket connected to the tracker's address (so that ICMP "port
 * unreachable" comes back as ECONNREFUSED); beside it, an unconnected socket bound to the same
 * local port receives what the kernel does not hand the connected one: datagrams from any other
 * address or port. A reply is matched by transaction id alone and its source is recorded, so a
 * tracker answering from another of its addresses is recognised (and named) rather than taken for
 * silence; datagrams that are no reply to us (too short, unknown transaction id) are kept as
 * strays, so that "no reply" can say what came instead.
 */
import dgram from 'node:dgram';
import { canonicalIp, type Family } from '../net/address.js';
import { formatHostPort } from '../net/hostport.js';
import { TrackerError, toTrackerError } from '../tracker/errors.js';
import { replyHeader } from '../tracker/udp-protocol.js';

export interface Source {
  address: string;
  port: number;
}

/** A reply with one of our transaction ids that came from another address or port than the one asked. */
export interface Elsewhere {
  from: Source;
  bytes: number;
}

/** A datagram that answered nothing we asked. */
export interface Stray {
  from: Source;
  bytes: number;
  why: 'short' | 'unknown-tx';
  /** The transaction id it carried (unknown-tx). */
  tx?: number;
  at: number;
}

/** Kept per probe; a flood beyond it is only counted. */
const MAX_KEPT = 64;

interface Pending {
  resolve(b: Buffer): void;
  reject(e: TrackerError): void;
}

/** What one wait for a reply brought: the reply, or nothing and the strays that came meanwhile. */
export interface Exchange {
  reply?: Buffer;
  strays: Stray[];
  /** Strays beyond those kept. */
  more: number;
}

export class UdpProbe {
  readonly ready: Promise<void>;
  readonly elsewhere: Elsewhere[] = [];
  private readonly strays: Stray[] = [];
  private straysDropped = 0;
  private readonly pending = new Map<number, Pending>();
  /** Transaction ids already answered: a retransmission's second reply is no stray. */
  private readonly answered = new Set<number>();
  private readonly connected: dgram.Socket;
  private readonly open: dgram.Socket;
  private readonly target: Source;

  constructor(readonly family: Family, address: string, port: number) {
    this.target = { address: canonicalIp(address) ?? address, port };
    const type = family === 6 ? 'udp6' : 'udp4';
    this.connected = dgram.createSocket({ type, reuseAddr: true, ipv6Only: family === 6 });
    this.open = dgram.createSocket({ type, reuseAddr: true, ipv6Only: family === 6 });
    for (const s of [this.connected, this.open]) s.on('message', (msg, rinfo) => this.received(msg, { address: rinfo.address, port: rinfo.port }));
    const what = `UDP tracker ${formatHostPort(address, port)}`;
    this.connected.on('error', (e) => this.failAll(toTrackerError(e, what)));
    this.open.on('error', () => undefined); // it only listens; the connected socket reports
    this.ready = this.setUp(address, port, what);
    this.ready.catch(() => undefined); // reported by the exchange that awaits it
  }

  private async setUp(address: string, port: number, what: string): Promise<void> {
    const any = this.family === 6 ? '::' : '0.0.0.0';
    const once = (s: dgram.Socket, start: (done: () => void) => void) =>
      new Promise<void>((resolve, reject) => {
        const onErr = (e: Error) => reject(toTrackerError(e, what));
        s.once('error', onErr);
        start(() => {
          s.off('error', onErr);
          resolve();
        });
      });
    await once(this.connected, (done) => this.connected.bind(0, any, done));
    await once(this.open, (done) => this.open.bind(this.connected.address().port, any, done));
    await once(this.connected, (done) => this.connected.connect(port, address, done));
  }

  private received(msg: Buffer, from: Source): void {
    const h = replyHeader(msg);
    const p = h && this.pending.get(h.tx);
    if (h && p) {
      this.pending.delete(h.tx);
      this.answered.add(h.tx);
      if (!this.fromTarget(from) && this.elsewhere.length < MAX_KEPT) this.elsewhere.push({ from, bytes: msg.length });
      p.resolve(msg);
      return;
    }
    if (h && this.answered.has(h.tx)) return; // the reply to a copy we had already had an answer to
    if (this.strays.length >= MAX_KEPT) {
      this.straysDropped++;
      return;
    }
    this.strays.push(h ? { from, bytes: msg.length, why: 'unknown-tx', tx: h.tx, at: Date.now() } : { from, bytes: msg.length, why: 'short', at: Date.now() });
  }

  private fromTarget(from: Source): boolean {
    return from.port === this.target.port && (canonicalIp(from.address) ?? from.address) === this.target.address;
  }

  private failAll(e: TrackerError): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Send `packet` and wait up to `waitMs` for the reply with transaction id `tx`. */
  async exchange(packet: Buffer, tx: number, waitMs: number, signal?: AbortSignal): Promise<Exchange> {
    await this.ready;
    const since = Date.now();
    const firstStray = this.strays.length;
    const droppedBefore = this.straysDropped;
    const reply = await new Promise<Buffer | undefined>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(tx);
      };
      const onAbort = () => {
        done();
        reject(new TrackerError('cancelled'));
      };
      if (signal?.aborted) return reject(new TrackerError('cancelled'));
      const timer = setTimeout(() => {
        done();
        resolve(undefined);
      }, waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(tx, {
        resolve: (b) => {
          done();
          resolve(b);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      this.connected.send(packet, (err) => {
        if (err && this.pending.has(tx)) {
          done();
          reject(toTrackerError(err, 'UDP send failed'));
        }
      });
    });
    if (reply) return { reply, strays: [], more: 0 };
    return { strays: this.strays.slice(firstStray).filter((s) => s.at >= since), more: this.straysDropped - droppedBefore };
  }

  close(): void {
    this.failAll(new TrackerError('cancelled'));
    for (const s of [this.connected, this.open]) {
      try {
        s.close();
      } catch {
        // never bound, or already closed: nothing to release
      }
    }
  }

  /** Where the requests go, as text. */
  get where(): string {
    return formatHostPort(this.target.address, this.target.port);
  }
}

/** "3 datagrams of 3 bytes from [::1]:6969 (too short for a BEP 15 reply)", for a message about what came instead of a reply. */
export function describeStrays(strays: readonly Stray[], more: number): string {
  const groups = new Map<string, { n: number; s: Stray }>();
  for (const s of strays) {
    const key = `${s.why}|${s.bytes}|${formatHostPort(s.from.address, s.from.port)}`;
    const g = groups.get(key);
    if (g) g.n++;
    else groups.set(key, { n: 1, s });
  }
  const parts = [...groups.values()].slice(0, 3).map(({ n, s }) => {
    const what = `${n === 1 ? 'a datagram' : `${n} datagrams`} of ${s.bytes} byte${s.bytes === 1 ? '' : 's'} from ${formatHostPort(s.from.address, s.from.port)}`;
    return s.why === 'short'
      ? `${what} (too short for a BEP 15 reply, which starts with an 8-byte action and transaction id)`
      : `${what} with transaction id 0x${s.tx!.toString(16).padStart(8, '0')}, which we never sent`;
  });
  const rest = groups.size > 3 || more > 0 ? ' and more' : '';
  return `${parts.join('; ')}${rest}`;
}
