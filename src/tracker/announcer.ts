/**
 * The engine's view of the trackers of one torrent: one announce schedule per address family
 * (BEP 7), the same `key` on all of them, BEP 7 ipv4=/ipv6= by policy, and events for
 * everything. No tracker failure ever escapes as an exception.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Family } from '../net/address.js';
import { isSelfAddress } from '../net/self.js';
import type { PeerAddress } from '../net/compact.js';
import type { OurPorts } from '../transport/advertised-ports.js';
import type { TrackerNetwork } from '../transport/network.js';
import { advertisable, ownAddressParams, type AnnounceIpPolicy } from './announce-ip.js';
import type { AnnouncePacer } from './announce-pacer.js';
import { FamilyAnnouncer } from './family-announcer.js';
import { Reachability } from './reachability.js';
import { resolveFor } from './resolve.js';
import type { AnnounceEvent } from './types.js';
import { UdpTrackerClient } from './udp-client.js';
import { parseTrackerUrl, type TrackerUrl } from './url.js';


export interface AnnounceStats {
  uploaded: number;
  downloaded: number;
  left: number;
}

export interface AnnouncerOptions {
  infoHash: Buffer;
  peerId: Buffer;
  /** Our ports: each family announces its advertised one. */
  ports: OurPorts;
  /** Announce URLs by tier (BEP 12). */
  tiers: string[][];
  /** Which families we listen on / may announce on. */
  families: { 4: boolean; 6: boolean };
  getStats(): AnnounceStats;
  /** Our addresses for ipv4=/ipv6= (re-checked here: only global unicast is ever sent). */
  ownAddresses(): { 4?: string; 6?: string };
  /** More addresses to drop from replies as ourselves (our own listeners always are). */
  isSelf?(p: PeerAddress): boolean;
  /** Default 'auto'. */
  announceIp?: AnnounceIpPolicy;
  /** Default 50 (per family). */
  numwant?: number;
  /** Default 30 000: no tracker makes us announce more often than this. */
  minIntervalFloorMs?: number;
  /** Default 15 000 (BEP 15); a UDP announce gives up after 7 x this (three sends). */
  udpRetransmitBaseMs?: number;
  /** Default 60 000 (BEP 15): a UDP connection id older than this is renewed before the next request. */
  udpConnectionIdTtlMs?: number;
  /** HTTP timeout, default 20 000. */
  timeoutMs?: number;
  /** Extra trusted CA certificates (PEM) for HTTPS trackers with a private CA. */
  ca?: string | Buffer;
  /** Where announces go out (default: the kernel's sockets). */
  network?: TrackerNetwork;
  /** Shared by every torrent of a client: announces spaced and spread (see AnnouncePacer). */
  pacer?: AnnouncePacer;
}

export interface AnnouncerEvents {
  peers: [peers: PeerAddress[], ev: AnnounceEvent];
  announce: [ev: AnnounceEvent];
}

/** How long stop() waits for the stopped announces. */
const STOP_BUDGET_MS = 3000;
/** How long the 'auto' policy waits to learn whether a tracker has an address of the other family. */
const PROBE_TIMEOUT_MS = 5000;

/**
 * The tiers one family announces to: a tracker whose host is an address literal of the other
 * family is simply not for it (no error, no retry); names and unparsable URLs stay, and fail or
 * succeed on their own.
 */
function tiersFor(tiers: string[][], family: Family): string[][] {
  const ofFamily = (url: string) => {
    try {
      const lit = parseTrackerUrl(url).literalFamily;
      return lit === undefined || lit === family;
    } catch {
      return true;
    }
  };
  return tiers.map((tier) => tier.filter(ofFamily)).filter((tier) => tier.length > 0);
}

export class Announcer extends EventEmitter<AnnouncerEvents> {
  /** The BEP 7 `key`: 32 random bits, sent on every family (HTTP as 8 hex digits). */
  readonly key: number;
  private readonly announcers: FamilyAnnouncer[] = [];
  private readonly udpClients = new Map<Family, UdpTrackerClient>();
  private readonly reach: Reachability;
  private readonly policy: AnnounceIpPolicy;
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: AnnouncerOptions) {
    super();
    if (opts.infoHash.length !== 20) throw new RangeError('infoHash must be 20 bytes');
    if (opts.peerId.length !== 20) throw new RangeError('peerId must be 20 bytes');
    this.key = randomBytes(4).readUInt32BE(0);
    this.policy = opts.announceIp ?? 'auto';
    this.reach = new Reachability((tracker, family) => this.onUnreachable(tracker, family));
    const isSelf = (p: PeerAddress) => this.isSelf(p);
    for (const family of [6, 4] as const) {
      if (!opts.families[family]) continue;
      this.announcers.push(
        new FamilyAnnouncer({
          family,
          tiers: tiersFor(opts.tiers, family),
          infoHash: opts.infoHash,
          peerId: opts.peerId,
          port: () => opts.ports.advertised(family),
          key: this.key,
          numwant: Math.max(0, Math.min(opts.numwant ?? 50, 1000)),
          minIntervalFloorMs: opts.minIntervalFloorMs ?? 30_000,
          timeoutMs: opts.timeoutMs ?? 20_000,
          ...(opts.ca ? { ca: opts.ca } : {}),
          ...(opts.network ? { network: opts.network } : {}),
          ...(opts.pacer ? { pacer: opts.pacer } : {}),
          getStats: () => opts.getStats(),
          isSelf,
          udp: () => this.udp(family),
          reach: this.reach,
          ownAddressParams: (t, signal) => this.ownAddressParams(t, family, signal),
          emit: (ev, peers) => {
            this.deliver(() => this.emit('announce', ev));
            if (peers.length > 0) this.deliver(() => this.emit('peers', peers, ev));
          },
        }),
      );
    }
  }

  /** event=started on every family's tier. */
  start(): void {
    if (this.stopping) return;
    for (const a of this.announcers) a.start();
  }

  /** event=completed now. */
  completed(): void {
    for (const a of this.announcers) a.completed();
  }

  /** Ask for more peers soon (respecting min interval), e.g. when the swarm runs low. */
  requestMorePeers(): void {
    for (const a of this.announcers) a.announceSoon();
  }

  /** event=stopped, bounded to a few seconds, then sockets and timers are closed. */
  stop(): Promise<void> {
    this.stopping ??= Promise.all(this.announcers.map((a) => a.stop(STOP_BUDGET_MS))).then(() => {
      for (const c of this.udpClients.values()) c.close();
      this.udpClients.clear();
    });
    return this.stopping;
  }

  /**
   * Runs one emit. A listener that throws has a bug, but it must not stop the announce schedule
   * (the throw would unwind through it) nor crash the process: it is noted on stderr, and the
   * 'peers' event of the same announce and all later events still go out.
   */
  private deliver(emit: () => void): void {
    try {
      emit();
    } catch (e) {
      process.stderr.write(`sixswarm: a tracker event listener failed (ignored): ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    }
  }

  private udp(family: Family): UdpTrackerClient {
    let c = this.udpClients.get(family);
    if (!c) {
      c = new UdpTrackerClient({
        family,
        retransmitBaseMs: this.opts.udpRetransmitBaseMs ?? 15_000,
        ...(this.opts.udpConnectionIdTtlMs !== undefined ? { connectionIdTtlMs: this.opts.udpConnectionIdTtlMs } : {}),
        ...(this.opts.network ? { network: this.opts.network } : {}),
      });
      this.udpClients.set(family, c);
    }
    return c;
  }

  private isSelf(p: PeerAddress): boolean {
    return !!this.opts.isSelf?.(p) || isSelfAddress(p.host, p.port, this.opts.ports.local(p.family), this.ownAddresses());
  }

  private ownAddresses(): { 4?: string; 6?: string } {
    try {
      return this.opts.ownAddresses();
    } catch {
      return {};
    }
  }

  /** Our advertisable address of `family`, when we listen on that family at all. */
  private ownAddress(family: Family): string | undefined {
    return this.opts.families[family] ? advertisable(this.ownAddresses()[family], family) : undefined;
  }

  private async ownAddressParams(t: TrackerUrl, over: Family, signal: AbortSignal): Promise<{ ipv4?: string; ipv6?: string }> {
    const other: Family = over === 4 ? 6 : 4;
    const own = this.ownAddress(other);
    if (!own || this.policy === 'never') return {};
    if (this.policy === 'auto' && this.reach.get(t.text, other) === undefined) {
      // Not tried over the other family yet: a failed lookup already tells us it is unreachable there.
      await resolveFor(t, other, PROBE_TIMEOUT_MS, signal).then(
        () => undefined,
        (e: { unreachable?: boolean }) => {
          if (e.unreachable) this.reach.set(t.text, other, false);
        },
      );
    }
    return ownAddressParams(this.policy, over, own, this.reach.get(t.text, other) === false);
  }

  /** Auto policy: the tracker just proved unreachable over `family`; tell it our address over the other one soon. */
  private onUnreachable(tracker: string, family: Family): void {
    if (this.policy !== 'auto' || !this.ownAddress(family)) return;
    for (const a of this.announcers) if (a.family !== family) a.announceSoon(tracker);
  }
}
