/**
 * One peer connection at the byte level: the handshake, then bounded frames in and encoded
 * messages out, over a Transport. It knows nothing about pieces; a rule break, found by the
 * codec or by a handler above it, closes only this connection and reports why.
 */
import type { PeerAddress } from '../net/compact.js';
import { FrameDecoder, ProtocolError, type FrameLimits } from './frame-decoder.js';
import { encodeHandshake, HANDSHAKE_LENGTH, parseHandshake, type Handshake } from './handshake.js';
import { encode, type BlockRef, type HashRequest, type Message } from './messages.js';
import type { Transport } from '../transport/transport.js';

/** What a peer may stream ahead of a handshake we have not answered yet: a few frames. */
const MAX_PENDING_BYTES = 256 * 1024;

export interface WireHandlers {
  /** The peer's handshake arrived. Return false to refuse it (the wire closes). */
  onHandshake(h: Handshake): boolean;
  /**
   * One message. A rule break found here (a request for a piece we never announced, a bitfield
   * with spare bits) is thrown as a ProtocolError: it closes this connection alone with
   * "protocol error: ...". Any other throw is a bug of ours and closes it with "error: ...".
   */
  onMessage(m: Message): void;
  /** Everything queued has left: uploads may go on. */
  onDrain?(): void;
  onClose(reason: string): void;
}

/** Just the fields of a hash request (a decoded message passed on carries its own type). */
function hashRequestOf(r: HashRequest): HashRequest {
  return { root: r.root, base: r.base, index: r.index, count: r.count, proofLayers: r.proofLayers };
}

export class PeerWire {
  handshake?: Handshake;
  /** BEP 52: the connection runs under the torrent's v2 info hash (named, or upgraded to from a hybrid's v1 one). */
  v2 = false;
  bytesIn = 0;
  bytesOut = 0;
  lastReceived = Date.now();
  lastSent = Date.now();
  closed = false;
  private handlers?: WireHandlers;
  private started = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private decoder?: FrameDecoder;

  constructor(
    readonly transport: Transport,
    readonly outgoing: boolean,
    /** It came through an MSE handshake (whichever method was chosen): the peer speaks encryption. */
    readonly mse = false,
  ) {}

  get remote(): PeerAddress {
    return this.transport.remote;
  }

  get encrypted(): boolean {
    return this.transport.encrypted;
  }

  /** Our own address on this connection. */
  get localHost(): string {
    return this.transport.localHost;
  }

  /** (Re)direct the wire's events; the first call starts reading. Bytes already received wait until then. */
  attach(handlers: WireHandlers): void {
    this.handlers = handlers;
    if (!this.started) {
      this.started = true;
      this.transport.start({
        data: (chunk, transient) => this.onData(chunk, transient),
        drain: () => this.handlers?.onDrain?.(),
        close: (reason) => this.close(reason),
      });
    } else this.drainPending();
  }

  /** `v2Upgrade`: we name a hybrid's v1 hash and offer its v2 one (BEP 52). */
  sendHandshake(infoHash: Buffer, peerId: Buffer, v2Upgrade = false): void {
    this.write(encodeHandshake(infoHash, peerId, v2Upgrade));
  }

  /** After a handshake is accepted: frame limits need the torrent's size (bitfieldBytes 0 while it is unknown). */
  startMessages(limits: FrameLimits): void {
    this.decoder = new FrameDecoder(limits);
    this.drainPending();
  }

  /** The torrent's size became known (metadata arrived): bitfields are held to it from now on. */
  setBitfieldBytes(n: number): void {
    this.decoder?.setBitfieldBytes(n);
  }

  /** Bytes queued but not yet handed to the kernel (for upload backpressure). */
  get queuedBytes(): number {
    return this.transport.queuedBytes;
  }

  send = {
    keepAlive: () => this.write(encode.keepAlive()),
    choke: () => this.message({ type: 'choke' }),
    unchoke: () => this.message({ type: 'unchoke' }),
    interested: () => this.message({ type: 'interested' }),
    notInterested: () => this.message({ type: 'not-interested' }),
    have: (index: number) => this.message({ type: 'have', index }),
    bitfield: (bits: Uint8Array) => this.write(encode.bitfield(bits)),
    haveAll: () => this.message({ type: 'have-all' }),
    haveNone: () => this.message({ type: 'have-none' }),
    /** Many requests in one write. */
    requests: (list: BlockRef[]) => this.write(encode.requests(list)),
    cancel: (r: BlockRef) => this.message({ type: 'cancel', ...r }),
    reject: (r: BlockRef) => this.message({ type: 'reject', ...r }),
    extended: (id: number, payload: Uint8Array) => this.write(encode.extended(id, payload)),
    hashRequest: (r: HashRequest) => this.message({ ...hashRequestOf(r), type: 'hash-request' }),
    hashReject: (r: HashRequest) => this.message({ ...hashRequestOf(r), type: 'hash-reject' }),
    hashes: (r: HashRequest, hashes: Buffer) => this.message({ ...hashRequestOf(r), type: 'hashes', hashes }),
    /** `sent` runs once the transport no longer needs `block` (written, or the connection gone). */
    piece: (index: number, begin: number, block: Buffer, sent: () => void) => {
      if (this.closed) return sent();
      this.write(encode.pieceHeader(index, begin, block.length));
      this.write(block, sent);
    },
  };

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
    this.pending = [];
    this.handlers?.onClose(reason);
  }

  private message(m: Message): void {
    this.write(encode.message(m));
  }

  /**
   * Everything sent to a peer in the same tick leaves in one writev: per-write costs (on loopback
   * the receiver's TCP work runs inside the sender's syscall) dominate small messages (haves,
   * request batches) and 16 KiB blocks alike. The cork lasts until the tick ends.
   */
  private write(b: Buffer, done?: () => void): void {
    if (this.closed) return done?.();
    this.bytesOut += b.length;
    this.lastSent = Date.now();
    this.transport.cork();
    this.transport.write(b, done);
  }

  /** `transient` bytes are overwritten once this returns: whatever waits for later is copied. */
  private onData(chunk: Buffer, transient: boolean): void {
    if (this.closed) return;
    this.bytesIn += chunk.length;
    this.lastReceived = Date.now();
    if (this.handshake && !this.decoder) {
      this.queue(transient ? Buffer.from(chunk) : chunk);
      return;
    }
    this.consume(chunk, transient);
  }

  private queue(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes > MAX_PENDING_BYTES) this.close('peer sent too much before the handshake completed');
  }

  private drainPending(): void {
    if (!this.decoder) return;
    const queued = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (queued.length === 0 || this.closed) return;
    this.consume(queued.length === 1 ? queued[0]! : Buffer.concat(queued), false);
  }

  private consume(chunk: Buffer, transient: boolean): void {
    try {
      if (!this.handshake) {
        this.pending.push(transient ? Buffer.from(chunk) : chunk);
        this.pendingBytes += chunk.length;
        if (this.pendingBytes < HANDSHAKE_LENGTH) return;
        const all = Buffer.concat(this.pending);
        this.pending = [];
        this.pendingBytes = 0;
        transient = false;
        const h = parseHandshake(all);
        if (!h) throw new ProtocolError('not a BitTorrent handshake');
        this.handshake = h;
        if (!this.handlers!.onHandshake(h)) {
          this.close('handshake refused');
          return;
        }
        const rest = all.subarray(HANDSHAKE_LENGTH);
        if (rest.length === 0 || this.closed) return;
        if (!this.decoder) {
          this.queue(rest);
          return;
        }
        chunk = rest;
      }
      // A handler may close the wire mid-chunk (a ban): the rest of that chunk is not delivered.
      this.decoder!.push(
        chunk,
        (m) => {
          if (!this.closed) this.handlers!.onMessage(m);
        },
        transient,
      );
    } catch (e) {
      this.close(e instanceof ProtocolError ? `protocol error: ${e.message}` : `error: ${(e as Error).message}`);
    }
  }
}
