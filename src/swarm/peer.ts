/** What the swarm knows about one connected peer: protocol state, its pieces, requests both ways, rates. */
import { formatHostPort } from '../net/hostport.js';
import { Bitfield } from '../util/bitfield.js';
import type { ExtensionHandshake } from '../wire/extension-handshake.js';
import { BLOCK_SIZE, type BlockRef } from '../wire/messages.js';
import type { PeerWire } from '../wire/peer-wire.js';
import { RateMeter } from './rate.js';

export function blockKey(r: { index: number; begin: number }): number {
  // Unique per block: a piece has at most 2^16 blocks of 16 KiB (pieces up to 1 GiB).
  return r.index * 65536 + r.begin / BLOCK_SIZE;
}

export class Peer {
  readonly id: Buffer;
  /** Address key used for bans and blame: the IP. */
  readonly ip: string;
  readonly label: string;
  readonly bits: Bitfield;
  amChoking = true;
  amInterested = false;
  peerChoking = true;
  peerInterested = false;
  ext?: ExtensionHandshake;
  /** Requests we sent and are waiting for. */
  readonly requests = new Map<number, BlockRef & { at: number }>();
  /** Blocks we cancelled or gave up on, which may still arrive (bounded, oldest forgotten first). */
  private readonly cancelled = new Set<number>();
  /** Requests the peer sent us, in order. */
  readonly uploadQueue: BlockRef[] = [];
  uploadReads = 0;
  /** Requests received since we last unchoked it (all answered with nothing or a reject). */
  requestsWhileChoked = 0;
  readonly down = new RateMeter();
  readonly up = new RateMeter();
  readonly connectedAt = Date.now();
  lastPieceAt = Date.now();
  lastUnchokedAt = 0;
  /** The peer speaks BEP 6 (fast extension): have-all/none, rejects, no implicit drop on choke. */
  readonly fast: boolean;

  constructor(
    readonly wire: PeerWire,
    pieceCount: number,
  ) {
    const h = wire.handshake!;
    this.id = h.peerId;
    this.fast = h.fast;
    this.ip = wire.remote.host;
    this.label = formatHostPort(wire.remote.host, wire.remote.port);
    this.bits = new Bitfield(pieceCount);
  }

  rememberCancelled(key: number): void {
    this.cancelled.add(key);
    if (this.cancelled.size > 4096) this.cancelled.delete(this.cancelled.values().next().value!);
  }

  /** True (and forgotten) if this block was one we cancelled: its late arrival is no offence. */
  forgetCancelled(key: number): boolean {
    return this.cancelled.delete(key);
  }

  get family(): 4 | 6 {
    return this.wire.remote.family;
  }

  get isSeed(): boolean {
    return this.bits.complete;
  }

  /**
   * How many requests to keep in flight: about 3 s of its current rate (as libtorrent does), so a
   * peer that answers in batches (Transmission: every 500 ms) never runs dry.
   */
  pipelineDepth(): number {
    const limit = Math.min(this.ext?.reqq ?? 250, 2000);
    const byRate = Math.ceil((this.down.rate() * 3) / BLOCK_SIZE) + 16;
    return Math.max(16, Math.min(limit, byRate));
  }

  client(): string {
    if (this.ext?.client) return this.ext.client;
    // Azureus style (-TR3000-), else the printable prefix of Mainline/aria2 style ids (M7-2-3--, A2-1-36-0-).
    const id = this.id.toString('latin1');
    const azureus = /^-[A-Za-z0-9]{6}-/.exec(id);
    if (azureus) return azureus[0];
    const dashed = /^[A-Za-z][A-Za-z0-9]?-[0-9]+-[0-9]+-[0-9-]*/.exec(id);
    return dashed ? dashed[0].replace(/-+$/, '') : 'unknown';
  }
}
