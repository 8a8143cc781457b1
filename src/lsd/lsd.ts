/**
 * Local service discovery (BEP 14) for every torrent the engine runs: it announces each torrent's
 * info hash with our listening port to the LAN group of each family (schedule.ts: at most once a
 * minute per torrent, every 5 minutes in the long run, paced all together), and hands on the peers
 * other clients announce for the same torrents. Our own announces come back at most through
 * another socket of ours; they carry our cookie and are ignored.
 *
 * What is heard is bounded: each sending address gets a budget of datagrams before they are even
 * parsed (one host's flood costs us a table lookup per datagram and cannot use up anyone else's
 * budget), and each IPv6 /64 a budget of 16 addresses' (a host can send from any address of its
 * /64), a datagram is parsed within fixed bounds (message.ts), and only info hashes we run
 * reach a swarm, whose peer pool caps what one source may add. Nothing we hear makes us send.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostKey, type Family } from '../net/address.js';
import { SourceLimiter } from '../net/source-limiter.js';
import type { DatagramSource } from '../transport/datagram.js';
import type { GroupInterface, MulticastChannel } from '../transport/multicast.js';
import { every } from '../util/ticker.js';
import { buildAnnounce, parseAnnounce } from './message.js';
import { AnnounceSchedule } from './schedule.js';

/** Datagrams each address may have parsed: a client announcing a thousand torrents every 5 minutes sends 3-4 a second. */
const PER_SOURCE_RATE = 20;
const PER_SOURCE_BURST = 100;
/**
 * IPv6 addresses of one /64 heard together, in honest hosts' budgets: a host may send from any
 * address of its on-link /64, so the budget per address alone would not bound it.
 */
const ADDRESSES_PER_NETWORK = 16;
/** Addresses whose budget is remembered (a flood from many addresses resets the oldest, which favours the honest). */
const MAX_SOURCES = 1024;
/** How often the interfaces are looked at again (a laptop changes networks; a look is a few small reads). */
export const REFRESH_MS = 10_000;
/** The same send failure is told at most this often; failures remembered (a few per interface). */
const WARN_MS = 10 * 60_000;
const MAX_WARNED = 256;

export interface LsdOptions {
  /** The group of each family this engine uses; Lsd owns them from now on (closes them on stop). */
  channels: Partial<Record<Family, MulticastChannel>>;
  /** Our listening port in a family (0: not listening there: nothing is announced over it). */
  port(family: Family): number;
  /** Ours, to know our own announces (default: random). */
  cookie?: string;
  now?: () => number;
}

export interface LsdStats {
  /** Per family in use, the interfaces the group is joined on. */
  interfaces: Partial<Record<Family, GroupInterface[]>>;
  /** Torrents announced. */
  torrents: number;
  /** Datagrams sent (one per torrent, family and interface). */
  sent: number;
  /** Well-formed announces heard from others. */
  heard: number;
  /** Peers handed on: an announcer and one of our torrents it named. */
  peers: number;
  /** Datagrams dropped: not an announce; over the sender's budget; our own. */
  dropped: { malformed: number; flooding: number; own: number };
}

export interface LsdPeer {
  host: string;
  port: number;
}

export class Lsd extends EventEmitter<{
  /** Someone on the LAN announced `peer` for a torrent of ours (hex info hash). */
  peer: [infoHash: string, peer: LsdPeer, family: Family];
  /** The interfaces joined changed. */
  interfaces: [LsdStats['interfaces']];
  warning: [string];
}> {
  readonly cookie: string;
  private readonly schedule: AnnounceSchedule;
  /** Info hashes (hex) announced, with their bytes. */
  private readonly torrents = new Map<string, Buffer>();
  private readonly sources: SourceLimiter;
  private readonly networks: SourceLimiter;
  private readonly warned = new Map<string, number>();
  private readonly counts = { sent: 0, heard: 0, peers: 0, malformed: 0, flooding: 0, own: 0 };
  private readonly now: () => number;
  private stopTimers?: () => void;
  private stopped = false;

  constructor(private readonly opts: LsdOptions) {
    super();
    this.now = opts.now ?? Date.now;
    this.cookie = opts.cookie ?? randomBytes(4).toString('hex');
    this.schedule = new AnnounceSchedule(this.now);
    this.sources = new SourceLimiter(PER_SOURCE_RATE, PER_SOURCE_BURST, MAX_SOURCES, this.now);
    this.networks = new SourceLimiter(PER_SOURCE_RATE * ADDRESSES_PER_NETWORK, PER_SOURCE_BURST * ADDRESSES_PER_NETWORK, MAX_SOURCES, this.now);
    for (const [f, channel] of this.channels()) channel.onMessage((b, from) => this.receive(f, b, from));
  }

  /** Announce due torrents every second, look at the interfaces every REFRESH_MS. */
  start(): void {
    if (this.stopTimers || this.stopped) return;
    const announce = every(1000, () => this.announceDue());
    const refresh = every(REFRESH_MS, () => void this.refresh());
    this.stopTimers = () => {
      announce();
      refresh();
    };
  }

  /** Announce a torrent from now on (the first time with the next second's round). */
  add(infoHash: Buffer): void {
    const key = infoHash.toString('hex');
    this.torrents.set(key, Buffer.from(infoHash));
    this.schedule.add(key);
  }

  /** Never announce it again, nor hand on peers for it. */
  remove(infoHash: Buffer): void {
    const key = infoHash.toString('hex');
    this.torrents.delete(key);
    this.schedule.remove(key);
  }

  stats(): LsdStats {
    const interfaces: LsdStats['interfaces'] = {};
    for (const [f, channel] of this.channels()) interfaces[f] = channel.interfaces();
    const { sent, heard, peers, malformed, flooding, own } = this.counts;
    return { interfaces, torrents: this.torrents.size, sent, heard, peers, dropped: { malformed, flooding, own } };
  }

  /** Join new interfaces and leave gone ones; torrents are announced on new ones as soon as their minute allows. */
  async refresh(): Promise<void> {
    let changed = false;
    let added = false;
    for (const [f, channel] of this.channels()) {
      const before = names(channel.interfaces());
      try {
        added = (await channel.refresh()).length > 0 || added;
      } catch (e) {
        this.warn(`IPv${f}`, `local peer discovery over IPv${f}: cannot look at the interfaces: ${(e as Error).message}`);
      }
      changed ||= names(channel.interfaces()) !== before;
    }
    if (this.stopped) return;
    if (added) this.schedule.soon();
    if (changed) this.emit('interfaces', this.stats().interfaces);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTimers?.();
    await Promise.all(this.channels().map(([, c]) => c.close()));
  }

  private channels(): [Family, MulticastChannel][] {
    return ([4, 6] as const).flatMap((f) => (this.opts.channels[f] ? [[f, this.opts.channels[f]]] : [])) as [Family, MulticastChannel][];
  }

  private announceDue(): void {
    if (this.stopped) return;
    const usable = this.channels().filter(([f, c]) => this.opts.port(f) > 0 && c.interfaces().length > 0);
    // Nowhere to announce (offline, not listening yet): torrents stay due, and go out once an interface comes.
    if (usable.length === 0) return;
    for (const key of this.schedule.take()) {
      const infoHash = this.torrents.get(key);
      if (!infoHash) continue;
      for (const [family, channel] of usable) {
        const port = this.opts.port(family);
        const message = buildAnnounce({ family, port, infoHashes: [infoHash], cookie: this.cookie });
        void channel.send(message).then((r) => {
          this.counts.sent += r.sent;
          for (const f of r.failed) this.warn(f, `local peer discovery: cannot announce over IPv${family} on ${f}`);
        });
      }
    }
  }

  private receive(family: Family, b: Buffer, from: DatagramSource): void {
    // Per address (the kernel's text of it is canonical), as every IPv6 host of a LAN shares one /64;
    // then, over IPv6, per /64 in all: what one host gets from addresses it made up.
    const network = hostKey(from.host);
    if (!this.sources.allow(from.host) || (network !== from.host && !this.networks.allow(network))) {
      this.counts.flooding++;
      return;
    }
    let announce;
    try {
      announce = parseAnnounce(b);
    } catch {
      this.counts.malformed++;
      return;
    }
    if (announce.cookie === this.cookie) {
      this.counts.own++;
      return;
    }
    this.counts.heard++;
    for (const h of announce.infoHashes) {
      const key = h.toString('hex');
      if (!this.torrents.has(key)) continue;
      this.counts.peers++;
      this.emit('peer', key, { host: from.host, port: announce.port }, family);
    }
  }

  /** A warning, once per WARN_MS for the same `key`. */
  private warn(key: string, message: string): void {
    const now = this.now();
    if (now - (this.warned.get(key) ?? -Infinity) < WARN_MS) return;
    if (this.warned.size >= MAX_WARNED) this.warned.clear();
    this.warned.set(key, now);
    this.emit('warning', message);
  }
}

function names(list: GroupInterface[]): string {
  return list.map((i) => `${i.name} ${i.address}`).join(',');
}
