/**
 * The built-in tracker's memory: torrents -> peers -> addresses, bounded per torrent, per source
 * host and in total, with expiry. A peer may hold one source address per family (from the
 * announce's own packets) and, when the server honours them, one extra address per family
 * (ipv4=/ipv6=). A torrent lives only while it has peers; its completion count (scrape's
 * `downloaded`) outlives it in a table bounded like the torrents themselves.
 */
import { randomInt } from 'node:crypto';
import { ipToBytes, type Family } from '../../net/address.js';
import type { PeerAddress } from '../../net/compact.js';
import type { AnnounceEventName, ScrapeEntry } from '../types.js';

export interface StoreLimits {
  maxPeersPerTorrent: number;
  /**
   * Peers of one torrent whose source is one host: one IPv4 address, or one IPv6 /64 (what a
   * single host or LAN typically gets). Identity is the client's own peer_id and key, so
   * without it one host could fill a torrent with made-up peers.
   */
  maxPeersPerSource: number;
  maxPeers: number;
  maxTorrents: number;
  /** An address not re-announced for this long is forgotten (2 x interval). */
  peerTtlMs: number;
}

export const DEFAULT_STORE_LIMITS: Omit<StoreLimits, 'peerTtlMs'> = { maxPeersPerTorrent: 5000, maxPeersPerSource: 16, maxPeers: 100_000, maxTorrents: 10_000 };

type Slot = 'src4' | 'src6' | 'extra4' | 'extra6';

interface StoredAddress extends PeerAddress {
  seen: number;
}

interface PeerEntry {
  peerId: Buffer;
  addrs: Map<Slot, StoredAddress>;
  left: number | undefined;
  /** Counted in `downloaded` already (a dual-stack client sends completed once per family). */
  completed: boolean;
}

interface Swarm {
  peers: Map<string, PeerEntry>;
}

/** Why an announce was not recorded. */
export type NotStoredReason = 'tracker full' | 'too many peers from this address';

export interface StoreAnnounce {
  infoHash: Buffer;
  peerId: Buffer;
  /** Stable identity of the announcing client: its key, or its source address when it sent none. */
  identity: string;
  source: PeerAddress;
  /** ipv4=/ipv6= addresses, already checked by the caller (global unicast only). */
  extra: PeerAddress[];
  left: number | undefined;
  event?: AnnounceEventName;
  numwant: number;
}

export interface PeerWithId extends PeerAddress {
  peerId: Buffer;
}

export interface StoreReply {
  peers4: PeerWithId[];
  peers6: PeerWithId[];
  complete: number;
  incomplete: number;
  /** False when this peer was not recorded (then `reason` says why); always false for stopped. */
  stored: boolean;
  reason?: NotStoredReason;
}

export class SwarmStore {
  private readonly swarms = new Map<string, Swarm>();
  /** Completions per torrent (hex info hash), least recently changed first, at most maxTorrents. */
  private readonly downloads = new Map<string, number>();
  private totalPeers = 0;

  constructor(private readonly limits: StoreLimits) {}

  get peerCount(): number {
    return this.totalPeers;
  }

  get torrentCount(): number {
    return this.swarms.size;
  }

  announce(a: StoreAnnounce, now = Date.now()): StoreReply {
    const hash = a.infoHash.toString('hex');
    let swarm = this.swarms.get(hash);
    let reason: NotStoredReason | undefined;
    if (a.event === 'stopped') {
      if (swarm) this.removePeer(swarm, hash, a.identity);
    } else {
      if (!swarm && this.swarms.size < this.limits.maxTorrents) {
        swarm = { peers: new Map() };
        this.swarms.set(hash, swarm);
      }
      reason = swarm ? this.record(swarm, hash, a, now) : 'tracker full';
      if (swarm && swarm.peers.size === 0) this.swarms.delete(hash);
    }
    const stored = a.event !== 'stopped' && reason === undefined;
    const reply: StoreReply = { peers4: [], peers6: [], complete: 0, incomplete: 0, stored, ...(reason ? { reason } : {}) };
    if (!swarm) return reply;
    const counts = this.counts(swarm, now);
    reply.complete = counts.complete;
    reply.incomplete = counts.incomplete;
    if (a.event !== 'stopped') this.pick(swarm, a, now, reply);
    return reply;
  }

  scrape(infoHash: Buffer, now = Date.now()): ScrapeEntry {
    const hash = infoHash.toString('hex');
    const swarm = this.swarms.get(hash);
    const downloaded = this.downloads.get(hash) ?? 0;
    if (!swarm) return { complete: 0, incomplete: 0, downloaded };
    return { ...this.counts(swarm, now), downloaded };
  }

  /** Forget expired addresses, peers without addresses and empty torrents. */
  sweep(now = Date.now()): void {
    for (const [hash, swarm] of this.swarms) {
      for (const [id, peer] of swarm.peers) {
        this.expire(peer, now);
        if (peer.addrs.size === 0) this.removePeer(swarm, hash, id);
      }
    }
  }

  /** Stores the announce; why not, when it cannot. */
  private record(swarm: Swarm, hash: string, a: StoreAnnounce, now: number): NotStoredReason | undefined {
    let peer = swarm.peers.get(a.identity);
    if (!peer && (swarm.peers.size >= this.limits.maxPeersPerTorrent || this.totalPeers >= this.limits.maxPeers)) return 'tracker full';
    const host = sourceHost(a.source);
    if (!(peer && this.fromHost(peer, host, now)) && this.peersFromHost(swarm, host, now) >= this.limits.maxPeersPerSource) {
      return 'too many peers from this address';
    }
    if (!peer) {
      peer = { peerId: a.peerId, addrs: new Map(), left: a.left, completed: false };
      swarm.peers.set(a.identity, peer);
      this.totalPeers++;
    }
    peer.peerId = a.peerId;
    if (a.left !== undefined) peer.left = a.left;
    if (a.event === 'completed' && !peer.completed) {
      peer.completed = true;
      this.countDownload(hash);
    }
    peer.addrs.set(`src${a.source.family}` as Slot, { ...a.source, seen: now });
    for (const e of a.extra) {
      if (e.host !== a.source.host || e.port !== a.source.port) peer.addrs.set(`extra${e.family}` as Slot, { ...e, seen: now });
    }
    return undefined;
  }

  private countDownload(hash: string): void {
    const n = (this.downloads.get(hash) ?? 0) + 1;
    this.downloads.delete(hash);
    this.downloads.set(hash, n);
    if (this.downloads.size > this.limits.maxTorrents) this.downloads.delete(this.downloads.keys().next().value!);
  }

  /** Whether `peer` has a live source address on `host`. */
  private fromHost(peer: PeerEntry, host: string, now: number): boolean {
    for (const slot of ['src4', 'src6'] as const) {
      const addr = peer.addrs.get(slot);
      if (addr && now - addr.seen <= this.limits.peerTtlMs && sourceHost(addr) === host) return true;
    }
    return false;
  }

  private peersFromHost(swarm: Swarm, host: string, now: number): number {
    let n = 0;
    for (const peer of swarm.peers.values()) if (this.fromHost(peer, host, now)) n++;
    return n;
  }

  private removePeer(swarm: Swarm, hash: string, identity: string): void {
    if (swarm.peers.delete(identity)) this.totalPeers--;
    if (swarm.peers.size === 0) this.swarms.delete(hash);
  }

  private expire(peer: PeerEntry, now: number): void {
    for (const [slot, addr] of peer.addrs) if (now - addr.seen > this.limits.peerTtlMs) peer.addrs.delete(slot);
  }

  private counts(swarm: Swarm, now: number): { complete: number; incomplete: number } {
    let complete = 0;
    let incomplete = 0;
    for (const peer of swarm.peers.values()) {
      if (![...peer.addrs.values()].some((x) => now - x.seen <= this.limits.peerTtlMs)) continue;
      if (peer.left === 0) complete++;
      else incomplete++;
    }
    return { complete, incomplete };
  }

  /** Up to numwant addresses per family, chosen at random, never the announcer itself; seeds get no seeds. */
  private pick(swarm: Swarm, a: StoreAnnounce, now: number, out: StoreReply): void {
    const want = a.numwant;
    if (want === 0) return;
    const seeding = a.left === 0;
    const candidates: PeerEntry[] = [];
    for (const [id, peer] of swarm.peers) {
      if (id === a.identity || (seeding && peer.left === 0)) continue;
      candidates.push(peer);
    }
    const seen = new Set<string>();
    for (let i = 0; i < candidates.length; i++) {
      if (out.peers4.length >= want && out.peers6.length >= want) break;
      const j = i + randomInt(candidates.length - i);
      const peer = candidates[j]!;
      candidates[j] = candidates[i]!;
      for (const addr of peer.addrs.values()) {
        const list = addr.family === 4 ? out.peers4 : out.peers6;
        const id = `${addr.host}|${addr.port}`;
        if (list.length >= want || now - addr.seen > this.limits.peerTtlMs || seen.has(id)) continue;
        seen.add(id);
        list.push({ host: addr.host, port: addr.port, family: addr.family as Family, peerId: peer.peerId });
      }
    }
  }
}

/** The host a source address stands for: the IPv4 address itself, or the /64 of an IPv6 one. */
function sourceHost(addr: PeerAddress): string {
  if (addr.family === 4) return addr.host;
  const bytes = ipToBytes(addr.host);
  return bytes ? `${bytes.subarray(0, 8).toString('hex')}::/64` : addr.host;
}
