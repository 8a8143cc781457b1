/**
 * The built-in tracker's memory: torrents -> peers -> addresses, bounded per torrent, per source
 * host and in total, with expiry. A peer may hold one source address per family (from the
 * announce's own packets) and, when the server honours them, one extra address per family
 * (ipv4=/ipv6=). A torrent lives only while it has peers; its completion count (scrape's
 * `downloaded`) outlives it in a table of at most maxTorrents entries.
 *
 * Newcomers are never refused for want of room: a full table makes room by forgetting the least
 * recently announced peer, chosen so that one host cannot lock others out. Each peer is charged
 * to the host (IPv4 address or IPv6 /64) whose announce created it; a host holding
 * maxPeersPerHost peers loses its own least recently announced one for each new one, and when
 * the whole table is full the host holding the most loses its oldest. Hosts holding few peers
 * thus keep their share however hard one host announces.
 */
import { randomInt } from 'node:crypto';
import { hostKey, type Family } from '../../net/address.js';
import type { PeerAddress } from '../../net/compact.js';
import type { AnnounceEventName, ScrapeEntry } from '../types.js';

export interface StoreLimits {
  /** Peers of one torrent; a newcomer to a full torrent replaces its least recently announced peer. */
  maxPeersPerTorrent: number;
  /**
   * Peers of one torrent whose source is one host: one IPv4 address, or one IPv6 /64 (what a
   * single host or LAN typically gets). Identity is the client's own peer_id and key, so
   * without it one host could fill a torrent with made-up peers.
   */
  maxPeersPerSource: number;
  /** Peers in all torrents. */
  maxPeers: number;
  /** Peers in all torrents charged to one host (the host whose announce created them). */
  maxPeersPerHost: number;
  /** Torrents whose completion count (scrape's `downloaded`) is kept after their last peer left. */
  maxTorrents: number;
  /** An address not re-announced for this long is forgotten (2 x interval). */
  peerTtlMs: number;
}

/**
 * 1,000 peers per host: a seedbox announcing a thousand torrents here keeps them all; a host
 * announcing random info hashes holds at most 1% of the 100,000 peers the table holds.
 */
export const DEFAULT_STORE_LIMITS: Omit<StoreLimits, 'peerTtlMs'> = {
  maxPeersPerTorrent: 5000,
  maxPeersPerSource: 16,
  maxPeers: 100_000,
  maxPeersPerHost: 1000,
  maxTorrents: 10_000,
};

type Slot = 'src4' | 'src6' | 'extra4' | 'extra6';

interface StoredAddress extends PeerAddress {
  seen: number;
  /** hostKey of the address, kept to count peers per host without parsing it again. */
  hostKey: string;
}

interface PeerEntry {
  infoHash: string;
  identity: string;
  /** The host this peer is charged to. */
  owner: string;
  peerId: Buffer;
  addrs: Map<Slot, StoredAddress>;
  left: number | undefined;
  /** Counted in `downloaded` already (a dual-stack client sends completed once per family). */
  completed: boolean;
}

interface Swarm {
  /** Least recently announced first. */
  peers: Map<string, PeerEntry>;
}

/** Why an announce was not recorded. */
export type NotStoredReason = 'too many peers from this address';

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

/**
 * The peers charged to each host, least recently announced first, and the hosts grouped by how
 * many they hold, so the host holding the most is found at once.
 */
class HostCharges {
  private readonly byHost = new Map<string, Set<PeerEntry>>();
  private readonly bySize = new Map<number, Set<string>>();
  private most = 0;

  held(host: string): number {
    return this.byHost.get(host)?.size ?? 0;
  }

  /** Charge a new peer, or move an announcing one to the most recent end. */
  touch(peer: PeerEntry): void {
    let own = this.byHost.get(peer.owner);
    if (!own) this.byHost.set(peer.owner, (own = new Set()));
    const had = own.size;
    own.delete(peer);
    own.add(peer);
    if (own.size !== had) this.resize(peer.owner, had, own.size);
  }

  remove(peer: PeerEntry): void {
    const own = this.byHost.get(peer.owner);
    if (!own?.delete(peer)) return;
    this.resize(peer.owner, own.size + 1, own.size);
    if (own.size === 0) this.byHost.delete(peer.owner);
  }

  /** The least recently announced peer of `host`, or of the host holding the most. */
  oldestOf(host?: string): PeerEntry | undefined {
    const own = host !== undefined ? this.byHost.get(host) : this.byHost.get(this.bySize.get(this.most)?.values().next().value ?? '');
    return own?.values().next().value;
  }

  private resize(host: string, from: number, to: number): void {
    const old = this.bySize.get(from);
    old?.delete(host);
    if (old?.size === 0) this.bySize.delete(from);
    if (to > 0) {
      let group = this.bySize.get(to);
      if (!group) this.bySize.set(to, (group = new Set()));
      group.add(host);
    }
    // Sizes change by one at a time, so the largest is at most one step away.
    if (to > this.most) this.most = to;
    else if (from === this.most && !this.bySize.has(from)) this.most = to;
  }
}

export class SwarmStore {
  private readonly swarms = new Map<string, Swarm>();
  /** Completions per torrent (hex info hash), least recently changed first, at most maxTorrents. */
  private readonly downloads = new Map<string, number>();
  private readonly charges = new HostCharges();
  private totalPeers = 0;

  constructor(private readonly limits: StoreLimits) {}

  get peerCount(): number {
    return this.totalPeers;
  }

  get torrentCount(): number {
    return this.swarms.size;
  }

  /** Peers charged to the host of `ip` (an IPv4 address or IPv6 /64). */
  peersOfHost(ip: string): number {
    return this.charges.held(hostKey(ip));
  }

  announce(a: StoreAnnounce, now = Date.now()): StoreReply {
    const hash = a.infoHash.toString('hex');
    let reason: NotStoredReason | undefined;
    if (a.event === 'stopped') {
      const peer = this.swarms.get(hash)?.peers.get(a.identity);
      if (peer) this.removePeer(peer);
    } else {
      reason = this.record(hash, a, now);
    }
    const stored = a.event !== 'stopped' && reason === undefined;
    const reply: StoreReply = { peers4: [], peers6: [], complete: 0, incomplete: 0, stored, ...(reason ? { reason } : {}) };
    const swarm = this.swarms.get(hash);
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
    for (const swarm of this.swarms.values()) {
      for (const peer of swarm.peers.values()) {
        this.expire(peer, now);
        if (peer.addrs.size === 0) this.removePeer(peer);
      }
    }
  }

  /** Stores the announce; why not, when it cannot. */
  private record(hash: string, a: StoreAnnounce, now: number): NotStoredReason | undefined {
    const sourceKey = hostKey(a.source.host);
    let swarm = this.swarms.get(hash);
    let peer = swarm?.peers.get(a.identity);
    if (swarm && !(peer && this.fromHost(peer, sourceKey, now)) && this.peersFromHost(swarm, sourceKey, now) >= this.limits.maxPeersPerSource) {
      return 'too many peers from this address';
    }
    if (!peer) {
      this.makeRoom(sourceKey, hash);
      swarm = this.swarms.get(hash);
      if (!swarm) this.swarms.set(hash, (swarm = { peers: new Map() }));
      peer = { infoHash: hash, identity: a.identity, owner: sourceKey, peerId: a.peerId, addrs: new Map(), left: a.left, completed: false };
      this.totalPeers++;
    }
    // Least recently announced first, in the torrent and among its host's peers.
    swarm!.peers.delete(a.identity);
    swarm!.peers.set(a.identity, peer);
    this.charges.touch(peer);
    peer.peerId = a.peerId;
    if (a.left !== undefined) peer.left = a.left;
    if (a.event === 'completed' && !peer.completed) {
      peer.completed = true;
      this.countDownload(hash);
    }
    peer.addrs.set(`src${a.source.family}` as Slot, { ...a.source, seen: now, hostKey: sourceKey });
    for (const e of a.extra) {
      if (e.host !== a.source.host || e.port !== a.source.port) peer.addrs.set(`extra${e.family}` as Slot, { ...e, seen: now, hostKey: hostKey(e.host) });
    }
    return undefined;
  }

  /**
   * Room for one more peer of torrent `hash` charged to `host`: its own least recently announced
   * peer goes when it holds its share already, else (the table full) the oldest of the host
   * holding the most, and in a full torrent that torrent's least recently announced peer.
   */
  private makeRoom(host: string, hash: string): void {
    if (this.charges.held(host) >= this.limits.maxPeersPerHost) this.removePeer(this.charges.oldestOf(host)!);
    else if (this.totalPeers >= this.limits.maxPeers) this.removePeer(this.charges.oldestOf()!);
    const swarm = this.swarms.get(hash);
    if (swarm && swarm.peers.size >= this.limits.maxPeersPerTorrent) this.removePeer(swarm.peers.values().next().value!);
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
      if (addr && now - addr.seen <= this.limits.peerTtlMs && addr.hostKey === host) return true;
    }
    return false;
  }

  private peersFromHost(swarm: Swarm, host: string, now: number): number {
    let n = 0;
    for (const peer of swarm.peers.values()) if (this.fromHost(peer, host, now)) n++;
    return n;
  }

  private removePeer(peer: PeerEntry): void {
    const swarm = this.swarms.get(peer.infoHash);
    if (!swarm || swarm.peers.get(peer.identity) !== peer) return;
    swarm.peers.delete(peer.identity);
    this.charges.remove(peer);
    this.totalPeers--;
    if (swarm.peers.size === 0) this.swarms.delete(peer.infoHash);
  }

  private expire(peer: PeerEntry, now: number): void {
    for (const [slot, addr] of peer.addrs) if (now - addr.seen > this.limits.peerTtlMs) peer.addrs.delete(slot);
  }

  private counts(swarm: Swarm, now: number): { complete: number; incomplete: number } {
    let complete = 0;
    let incomplete = 0;
    for (const peer of swarm.peers.values()) {
      if (!this.live(peer, now)) continue;
      if (peer.left === 0) complete++;
      else incomplete++;
    }
    return { complete, incomplete };
  }

  private live(peer: PeerEntry, now: number): boolean {
    for (const addr of peer.addrs.values()) if (now - addr.seen <= this.limits.peerTtlMs) return true;
    return false;
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
