/**
 * PEX with one partner. Sending (BEP 11): the first message carries our current peer set, later
 * ones what changed, at most one a minute, at most 50 added and 50 dropped each; a peer is never
 * added and dropped in one message, and a partner is never told about itself. Receiving: lenient
 * to a partner whose minute runs a little short, bounded per message and per partner; a partner
 * that sends more unusable addresses than usable ones loses its candidates and is not heard again.
 */
import { formatHostPort } from '../../net/hostport.js';
import type { ExtensionPeer, PeerExtension } from '../../wire/extensions.js';
import { decodePex, encodePex, filteredCount, partnerScope, PEX_FLAGS, type FilterReason, type PartnerScope } from './codec.js';
import type { Partner, PexEntry, PexTorrent } from './torrent.js';

export const SEND_INTERVAL_MS = 60_000;
/** Messages closer than this to the previous one are ignored (a partner's timer may run a little fast). */
export const MIN_RECEIVE_INTERVAL_MS = 50_000;
/** BEP 11: at most this many added, and as many dropped, per message. */
export const MAX_SENT_PER_LIST = 50;
/** Entries of one message we look at, and valid ones we take from it. */
export const MAX_READ_PER_MESSAGE = 500;
export const MAX_TAKEN_PER_MESSAGE = 200;
/** Candidates one partner may give us: a burst of this many, then as many a minute as the BEP lets it send. */
export const PARTNER_BURST = 500;
export const PARTNER_REFILL_PER_MINUTE = MAX_SENT_PER_LIST;
/** Unusable entries a partner may send before the share of them is held against it. */
export const LITTER_GRACE = 20;

export class PexConnection implements PeerExtension {
  readonly partner: Partner;
  /** What this partner has been told: the entries it was sent as added and not dropped since. */
  private readonly told = new Map<string, PexEntry>();
  private readonly id: string;
  private readonly scope: PartnerScope;
  private lastSent?: number;
  private lastReceived?: number;
  private allowance = PARTNER_BURST;
  private allowanceAt: number;
  private closed = false;

  constructor(
    private readonly torrent: PexTorrent,
    peer: ExtensionPeer,
    private readonly send: (payload: Uint8Array) => boolean,
    private readonly clock: () => number = Date.now,
  ) {
    this.id = peer.peerId.toString('hex');
    this.scope = partnerScope(peer.remote.host);
    this.partner = torrent.join(formatHostPort(peer.remote.host, peer.remote.port));
    this.allowanceAt = clock();
  }

  /** The partner's handshake says it speaks ut_pex: it gets our peer set at once. */
  onExtendedHandshake(): void {
    this.maybeSend(this.clock());
  }

  onTick(now: number): void {
    this.maybeSend(now);
  }

  onClose(): void {
    this.closed = true;
    this.torrent.leave(this.partner);
  }

  onMessage(payload: Buffer): void {
    const c = this.partner.counts;
    const now = this.clock();
    if (c.littering || (this.lastReceived !== undefined && now - this.lastReceived < MIN_RECEIVE_INTERVAL_MS)) {
      c.ignored++;
      return;
    }
    this.lastReceived = now;
    const swarm = this.torrent.swarm;
    const d = decodePex(payload, { partner: this.scope, isSelf: swarm.selfCheck(), maxEntries: MAX_READ_PER_MESSAGE });
    c.messages++;
    c.filtered += filteredCount(d.filtered);
    for (const [reason, n] of Object.entries(d.filtered) as [FilterReason, number][]) c.reasons[reason] = (c.reasons[reason] ?? 0) + n;
    if (c.filtered > LITTER_GRACE && c.filtered > c.taken + d.added.length) {
      c.littering = true;
      c.capped += d.unread;
      const dropped = swarm.dropFrom(this.partner.label);
      const why = Object.entries(c.reasons).map(([r, n]) => `${n} ${r}`).join(', ');
      swarm.warn(`PEX partner ${this.partner.label} sends unusable peer addresses (${why}): its ${dropped} candidates were dropped and its PEX is ignored from now on`);
      return;
    }
    const take = Math.min(d.added.length, MAX_TAKEN_PER_MESSAGE, this.refill(now));
    this.allowance -= take;
    c.taken += take;
    c.capped += d.added.length - take + d.unread;
    const hints = d.added.slice(0, take).map((p) => ({ host: p.host, port: p.port, prefersEncryption: (p.flags & PEX_FLAGS.encryption) !== 0, utp: (p.flags & PEX_FLAGS.utp) !== 0 }));
    if (take > 0) swarm.addPeers(hints, { kind: 'pex', from: this.partner.label });
  }

  private refill(now: number): number {
    this.allowance = Math.min(PARTNER_BURST, this.allowance + ((now - this.allowanceAt) / 60_000) * PARTNER_REFILL_PER_MINUTE);
    this.allowanceAt = now;
    return Math.floor(this.allowance);
  }

  private maybeSend(now: number): void {
    if (this.closed || (this.lastSent !== undefined && now - this.lastSent < SEND_INTERVAL_MS)) return;
    const current = this.torrent.current(now);
    const added: PexEntry[] = [];
    for (const e of current.values()) {
      if (added.length >= MAX_SENT_PER_LIST) break;
      // Loopback peers mean nothing to a partner elsewhere, and our LAN's are none of the Internet's business.
      if (e.id !== this.id && reaches(e.scope, this.scope) && !this.told.has(e.key)) added.push(e);
    }
    const dropped: PexEntry[] = [];
    for (const [key, e] of this.told) {
      if (dropped.length >= MAX_SENT_PER_LIST) break;
      if (!current.has(key)) dropped.push(e);
    }
    if (added.length === 0 && dropped.length === 0) return; // nothing new: no message, and the minute has not started
    if (!this.send(encodePex(added, dropped))) return;
    this.lastSent = now;
    this.torrent.messagesOut++;
    for (const e of added) this.told.set(e.key, e);
    for (const e of dropped) this.told.delete(e.key);
  }
}

/** Whether an address of scope `entry` means something to a partner of scope `partner`. */
function reaches(entry: PartnerScope, partner: PartnerScope): boolean {
  const near = { loopback: 0, local: 1, global: 2 } as const;
  return near[entry] >= near[partner];
}
