/**
 * One connected peer as the connection half of the swarm knows it: who it is, how it reached us,
 * its BEP 10 handshake and extensions, and what it said about its pieces before the torrent's
 * metadata was known (replayed to the transfer once it attaches).
 */
import { formatHostPort } from '../net/hostport.js';
import type { ExtensionHandshake } from '../wire/extension-handshake.js';
import type { PeerExtensions } from '../wire/extensions.js';
import type { PeerWire } from '../wire/peer-wire.js';
import type { PeerSource } from './peer-pool.js';
import type { TransportKind } from '../transport/transport.js';

/** `have` messages remembered before the metadata arrives: more is a peer that floods. */
export const MAX_EARLY_HAVES = 65_536;

/** What a peer told us before there was a transfer to tell. */
export interface EarlyState {
  pieces?: { type: 'bitfield'; bits: Buffer } | { type: 'have-all' } | { type: 'have-none' };
  haves: number[];
  peerChoking: boolean;
  peerInterested: boolean;
}

export class Peer {
  readonly id: Buffer;
  /** Address key used for bans and blame: the IP. */
  readonly ip: string;
  readonly label: string;
  /** The peer speaks BEP 6 (fast extension): have-all/none, rejects, no implicit drop on choke. */
  readonly fast: boolean;
  readonly connectedAt = Date.now();
  /** When it last moved payload either way (or metadata to us): peers idle for long are turned over under pressure. */
  lastUsefulAt = this.connectedAt;
  /**
   * It speaks encryption: the connection came through an MSE handshake. What PEX sends as flag
   * 0x01 for it.
   */
  readonly prefersEncryption: boolean;
  /** It speaks uTP: connected over it, or its source said so (PEX flag 0x04). What PEX sends as flag 0x04 for it. */
  readonly speaksUtp: boolean;
  /** BEP 52: the connection runs under the torrent's v2 info hash (hash messages are allowed). */
  readonly v2: boolean;
  ext?: ExtensionHandshake;
  extensions!: PeerExtensions;
  readonly early: EarlyState = { haves: [], peerChoking: true, peerInterested: false };

  constructor(
    readonly wire: PeerWire,
    /** Where we learned its address; `incoming` when it connected to us. */
    readonly source: PeerSource,
    /** Its source said it speaks uTP. */
    saidUtp = false,
    /** The connection was opened by a BEP 55 holepunch (a relay had both ends dial at once). */
    readonly holepunched = false,
  ) {
    const h = wire.handshake!;
    this.id = h.peerId;
    this.fast = h.fast;
    this.ip = wire.remote.host;
    this.label = formatHostPort(wire.remote.host, wire.remote.port);
    this.prefersEncryption = wire.mse;
    this.speaksUtp = saidUtp || wire.transport.kind === 'utp';
    this.v2 = wire.v2;
  }

  get family(): 4 | 6 {
    return this.wire.remote.family;
  }

  /** What carries the connection. */
  get transport(): TransportKind {
    return this.wire.transport.kind;
  }

  get direction(): 'in' | 'out' {
    return this.wire.outgoing ? 'out' : 'in';
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
