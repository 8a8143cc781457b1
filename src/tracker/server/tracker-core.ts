/** Transport-independent announce and scrape logic of the built-in tracker. */
import { classify, type Family } from '../../net/address.js';
import type { PeerAddress } from '../../net/compact.js';
import { formatHostPort } from '../../net/hostport.js';
import type { AnnounceEventName, ScrapeEntry } from '../types.js';
import { DEFAULT_STORE_LIMITS, SwarmStore, type NotStoredReason, type PeerWithId, type StoreLimits } from './swarm-store.js';

export const DEFAULT_NUMWANT = 50;
export const MAX_NUMWANT = 200;

export interface CoreOptions {
  intervalSec: number;
  /** Store ipv4=/ipv6= (global unicast only) next to the source address. */
  honorIpParams: boolean;
  limits?: Partial<Omit<StoreLimits, 'peerTtlMs'>>;
}

export interface CoreAnnounce {
  transport: 'http' | 'udp';
  infoHash: Buffer;
  peerId: Buffer;
  port: number;
  /** Normalised key (8 lower-case hex digits when it is a 32-bit number). */
  key?: string;
  left?: number;
  event?: AnnounceEventName;
  /** Undefined: the tracker's default. */
  numwant?: number;
  source: { host: string; family: Family };
  /** Raw ipv4= / ipv6= values (or the BEP 15 IP field). */
  claimed: { 4?: string; 6?: string };
}

export interface CoreReply {
  interval: number;
  minInterval: number;
  complete: number;
  incomplete: number;
  peers4: PeerWithId[];
  peers6: PeerWithId[];
  warning?: string;
}

/** One line of `sixswarm tracker --json` per announce. */
export interface ServerAnnounceEvent {
  type: 'announce';
  transport: 'http' | 'udp';
  family: Family;
  peer: string;
  infoHash: string;
  peerId: string;
  key?: string;
  event?: AnnounceEventName;
  left?: number;
  /** ipv4=/ipv6= values as the client sent them (first 64 characters), stored or not. */
  claimed: { 4?: string; 6?: string };
  /** ipv4=/ipv6= addresses that were stored (only with honorIpParams). */
  extra: string[];
  returned4: number;
  returned6: number;
  stored: boolean;
  /** Why the announce was not stored (never set for stopped). */
  notStored?: NotStoredReason;
}

export class TrackerCore {
  readonly store: SwarmStore;

  constructor(private readonly opts: CoreOptions, private readonly onAnnounce: (ev: ServerAnnounceEvent) => void) {
    this.store = new SwarmStore({ ...DEFAULT_STORE_LIMITS, ...opts.limits, peerTtlMs: 2 * opts.intervalSec * 1000 });
  }

  get intervalSec(): number {
    return this.opts.intervalSec;
  }

  announce(a: CoreAnnounce): CoreReply {
    const source: PeerAddress = { host: a.source.host, port: a.port, family: a.source.family };
    const extra = this.opts.honorIpParams ? claimedAddresses(a.claimed, a.port) : [];
    const r = this.store.announce({
      infoHash: a.infoHash,
      peerId: a.peerId,
      identity: `${a.peerId.toString('hex')}|${a.key ?? a.source.host}`,
      source,
      extra,
      left: a.left,
      ...(a.event ? { event: a.event } : {}),
      numwant: Math.min(a.numwant ?? DEFAULT_NUMWANT, MAX_NUMWANT),
    });
    this.onAnnounce({
      type: 'announce',
      transport: a.transport,
      family: a.source.family,
      peer: formatHostPort(a.source.host, a.port),
      infoHash: a.infoHash.toString('hex'),
      peerId: a.peerId.toString('hex'),
      ...(a.key !== undefined ? { key: a.key } : {}),
      ...(a.event ? { event: a.event } : {}),
      ...(a.left !== undefined ? { left: a.left } : {}),
      claimed: {
        ...(a.claimed[4] ? { 4: a.claimed[4].slice(0, 64) } : {}),
        ...(a.claimed[6] ? { 6: a.claimed[6].slice(0, 64) } : {}),
      },
      extra: extra.map((e) => formatHostPort(e.host, e.port)),
      returned4: r.peers4.length,
      returned6: r.peers6.length,
      stored: r.stored,
      ...(r.reason ? { notStored: r.reason } : {}),
    });
    return {
      interval: this.opts.intervalSec,
      minInterval: Math.max(1, Math.floor(this.opts.intervalSec / 2)),
      complete: r.complete,
      incomplete: r.incomplete,
      peers4: r.peers4,
      peers6: r.peers6,
      ...(r.reason ? { warning: 'too many peers from your address for this torrent: you are not listed' } : {}),
    };
  }

  scrape(hashes: Buffer[]): ScrapeEntry[] {
    return hashes.map((h) => this.store.scrape(h));
  }

  sweep(): void {
    this.store.sweep();
  }
}

/** 32-bit keys (HTTP hex text or the BEP 15 integer) share one spelling so both families match. */
export function normaliseKey(k: string | number): string {
  if (typeof k === 'number') return (k >>> 0).toString(16).padStart(8, '0');
  return /^[0-9a-fA-F]{1,8}$/.test(k) ? parseInt(k, 16).toString(16).padStart(8, '0') : k;
}

/** ipv4=/ipv6= values (`addr`, or `addr:port` / `[v6]:port`), global unicast of the right family only. */
function claimedAddresses(claimed: { 4?: string; 6?: string }, port: number): PeerAddress[] {
  const out: PeerAddress[] = [];
  for (const family of [4, 6] as const) {
    const raw = claimed[family];
    if (!raw) continue;
    const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(raw) ?? (family === 4 ? /^([\d.]+):(\d{1,5})$/.exec(raw) : null);
    const host = m ? m[1]! : raw;
    const p = m ? Number(m[2]) : port;
    const c = classify(host);
    if (c && c.family === family && c.kind === 'global' && p >= 1 && p <= 65535) out.push({ host: c.text, port: p, family });
  }
  return out;
}
