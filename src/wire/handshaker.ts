/**
 * The BitTorrent handshake in both directions, in one place. Incoming connections are matched
 * to the torrent their handshake names; our dials learn whether the peer is the one we wanted.
 * Unfinished handshakes are bounded overall and per host (an IPv4 address or an IPv6 /64) by
 * FairSlots: a host at its limit loses its own oldest, and a full table loses the oldest of the
 * host holding the most, so one host's idle connections never lock out anyone else.
 */
import { dial, type DialOptions, type DialTarget } from '../net/dial.js';
import { FairSlots } from '../net/fair-slots.js';
import { TcpTransport } from '../net/tcp-transport.js';
import type { Handshake } from './handshake.js';
import { PeerWire } from './peer-wire.js';
import type { Transport } from './transport.js';

/** A torrent as the handshaker sees it. */
export interface HandshakeTarget {
  /** A handshaken incoming connection (our handshake is already sent). False refuses it. */
  accept(wire: PeerWire): boolean;
}

export interface TorrentDirectory {
  find(infoHash: Buffer): HandshakeTarget | undefined;
}

export interface HandshakerOptions {
  peerId: Buffer;
  directory: TorrentDirectory;
  /** Unfinished incoming handshakes at once (default 256). */
  maxUnfinished?: number;
  /** Of those, from one host (default 16). */
  maxUnfinishedPerHost?: number;
  /** Default 15 s. */
  timeoutMs?: number;
  /** Opens a connection to one of a peer's addresses (default: TCP, Happy Eyeballs). */
  dial?: (targets: DialTarget[], opts: DialOptions) => Promise<Transport>;
}

/** Plain TCP to the first address that answers. */
async function dialTcp(targets: DialTarget[], opts: DialOptions): Promise<Transport> {
  return new TcpTransport(await dial(targets, opts));
}

/** Why a dial did not give a usable connection. */
export class HandshakeFailure extends Error {
  constructor(
    message: string,
    /** The peer turned out to be us. */
    readonly self = false,
  ) {
    super(message);
    this.name = 'HandshakeFailure';
  }
}

export class Handshaker {
  private readonly unfinished: FairSlots<PeerWire>;
  private readonly timers = new Map<PeerWire, NodeJS.Timeout>();
  private readonly outgoing = new Set<PeerWire>();
  private readonly timeoutMs: number;
  private closed = false;

  constructor(private readonly opts: HandshakerOptions) {
    this.unfinished = new FairSlots(opts.maxUnfinishedPerHost ?? 16, opts.maxUnfinished ?? 256);
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  /** Incoming handshakes not finished yet. */
  get pending(): number {
    return this.unfinished.size;
  }

  /** A connection that arrived on our listener. */
  incoming(transport: Transport): void {
    if (this.closed) return transport.close();
    const wire = new PeerWire(transport, false);
    this.unfinished.admit(wire, transport.remote.host)?.close('dropped: too many unfinished handshakes from its host');
    this.timers.set(wire, this.timeout(wire));
    wire.attach({
      onHandshake: (h) => {
        this.finish(wire);
        if (h.peerId.equals(this.opts.peerId)) return false; // we reached ourselves
        const target = this.opts.directory.find(h.infoHash);
        if (!target) return false;
        wire.sendHandshake(h.infoHash, this.opts.peerId);
        return target.accept(wire);
      },
      onMessage: () => {},
      onClose: () => this.finish(wire),
    });
  }

  /**
   * Dial one peer (all its addresses, Happy Eyeballs) for a torrent and exchange handshakes.
   * Resolves with a wire whose handshake names that torrent; the caller attaches to it and
   * starts its messages (bytes that follow the handshake wait until then).
   */
  async connect(targets: DialTarget[], infoHash: Buffer, dialOpts: DialOptions): Promise<PeerWire> {
    if (this.closed) throw new HandshakeFailure('shutting down');
    const transport = await (this.opts.dial ?? dialTcp)(targets, dialOpts);
    if (this.closed) {
      transport.close();
      throw new HandshakeFailure('shutting down');
    }
    return this.handshake(transport, infoHash);
  }

  /** Our handshake over an open transport, then theirs. */
  handshake(transport: Transport, infoHash: Buffer): Promise<PeerWire> {
    const wire = new PeerWire(transport, true);
    this.outgoing.add(wire);
    return new Promise((resolve, reject) => {
      const timer = this.timeout(wire);
      let result: PeerWire | HandshakeFailure | undefined;
      wire.attach({
        onHandshake: (h: Handshake) => {
          clearTimeout(timer);
          this.outgoing.delete(wire);
          if (h.peerId.equals(this.opts.peerId)) result = new HandshakeFailure('connected to ourselves', true);
          else if (!h.infoHash.equals(infoHash)) result = new HandshakeFailure('the peer answered for another torrent');
          else result = wire;
          if (result instanceof HandshakeFailure) {
            reject(result);
            return false;
          }
          resolve(wire);
          return true;
        },
        onMessage: () => {},
        onClose: (reason) => {
          clearTimeout(timer);
          this.outgoing.delete(wire);
          if (!result) reject(new HandshakeFailure(reason));
        },
      });
      wire.sendHandshake(infoHash, this.opts.peerId);
    });
  }

  close(): void {
    this.closed = true;
    for (const w of [...this.unfinished.entries(), ...this.outgoing]) w.close('shutting down');
  }

  private timeout(wire: PeerWire): NodeJS.Timeout {
    const t = setTimeout(() => wire.close(`no handshake within ${this.timeoutMs / 1000} s`), this.timeoutMs);
    t.unref();
    return t;
  }

  private finish(wire: PeerWire): void {
    clearTimeout(this.timers.get(wire));
    this.timers.delete(wire);
    this.unfinished.release(wire);
  }
}
