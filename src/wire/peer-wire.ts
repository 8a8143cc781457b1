/**
 * One peer connection at the byte level: the handshake, then bounded frames in and encoded
 * messages out. It knows nothing about pieces; any rule break or socket error closes only this
 * connection and reports why.
 */
import type { Socket } from 'node:net';
import type { PeerAddress } from '../net/compact.js';
import { familyOf, unmapIp } from '../net/address.js';
import { receive } from '../net/shared-read.js';
import { TickCork } from '../net/tick-cork.js';
import { FrameDecoder, ProtocolError, type FrameLimits } from './frame-decoder.js';
import { encodeHandshake, HANDSHAKE_LENGTH, parseHandshake, type Handshake } from './handshake.js';
import { encode, MSG, type BlockRef, type Message } from './messages.js';

const HANDSHAKE_TIMEOUT_MS = 15_000;

export interface WireHandlers {
  /** The peer's handshake arrived. Return false to refuse it (the wire closes). */
  onHandshake(h: Handshake): boolean;
  onMessage(m: Message): void;
  onClose(reason: string): void;
}

export class PeerWire {
  readonly remote: PeerAddress;
  handshake?: Handshake;
  bytesIn = 0;
  bytesOut = 0;
  lastReceived = Date.now();
  lastSent = Date.now();
  closed = false;
  private readonly cork: TickCork;
  private handlers?: WireHandlers;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private decoder?: FrameDecoder;
  private readonly handshakeTimer: NodeJS.Timeout;

  constructor(
    readonly socket: Socket,
    readonly outgoing: boolean,
  ) {
    const host = unmapIp(socket.remoteAddress ?? '');
    this.remote = { host, port: socket.remotePort ?? 0, family: familyOf(host) ?? 4 };
    socket.setNoDelay(true);
    this.cork = new TickCork(socket);
    receive(socket, (chunk, transient) => this.onData(chunk, transient));
    socket.on('error', (e) => this.close(`socket error: ${e.message}`));
    socket.on('close', () => this.close('connection closed by peer'));
    socket.on('end', () => this.close('connection closed by peer'));
    // A connection that never says who it is holds a descriptor for nothing.
    this.handshakeTimer = setTimeout(() => this.close(`no handshake within ${HANDSHAKE_TIMEOUT_MS / 1000} s`), HANDSHAKE_TIMEOUT_MS);
    this.handshakeTimer.unref();
  }

  /** Start reading. Bytes already received wait until then. */
  attach(handlers: WireHandlers): void {
    this.handlers = handlers;
    this.drainPending();
  }

  sendHandshake(infoHash: Buffer, peerId: Buffer): void {
    this.write(encodeHandshake(infoHash, peerId));
  }

  /** After a handshake is accepted: frame limits need the torrent's size. */
  startMessages(limits: FrameLimits): void {
    this.decoder = new FrameDecoder(limits);
    this.drainPending();
  }

  /** Bytes queued in the socket but not yet handed to the kernel (for upload backpressure). */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  send = {
    keepAlive: () => this.write(encode.keepAlive()),
    choke: () => this.write(encode.simple(MSG.choke)),
    unchoke: () => this.write(encode.simple(MSG.unchoke)),
    interested: () => this.write(encode.simple(MSG.interested)),
    notInterested: () => this.write(encode.simple(MSG.notInterested)),
    have: (index: number) => this.write(encode.index(MSG.have, index)),
    bitfield: (bits: Uint8Array) => this.write(encode.bitfield(bits)),
    haveAll: () => this.write(encode.simple(MSG.haveAll)),
    haveNone: () => this.write(encode.simple(MSG.haveNone)),
    request: (r: BlockRef) => this.write(encode.block(MSG.request, r)),
    /** Many requests in one write. */
    requests: (list: BlockRef[]) => this.write(encode.requests(list)),
    cancel: (r: BlockRef) => this.write(encode.block(MSG.cancel, r)),
    reject: (r: BlockRef) => this.write(encode.block(MSG.reject, r)),
    extended: (id: number, payload: Uint8Array) => this.write(encode.extended(id, payload)),
    /**
     * Blocks sent in the same tick leave in one writev: per-write costs dominate 16 KiB writes.
     * `sent` runs once the socket no longer needs `block` (written, or the connection gone).
     */
    piece: (index: number, begin: number, block: Buffer, sent: () => void) => {
      if (this.closed) return sent();
      this.cork.hold();
      this.write(encode.pieceHeader(index, begin, block.length));
      this.write(block, sent);
    },
  };

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.handshakeTimer);
    this.socket.destroy();
    this.pending = [];
    this.handlers?.onClose(reason);
  }

  private write(b: Buffer, done?: () => void): void {
    if (this.closed) return done?.();
    this.bytesOut += b.length;
    this.lastSent = Date.now();
    this.socket.write(b, done);
  }

  /** `transient` bytes are overwritten once this returns: whatever waits for later is copied. */
  private onData(chunk: Buffer, transient: boolean): void {
    if (this.closed) return;
    this.bytesIn += chunk.length;
    this.lastReceived = Date.now();
    if (!this.handlers || (this.handshake && !this.decoder)) {
      this.queue(transient ? Buffer.from(chunk) : chunk);
      return;
    }
    this.consume(chunk, transient);
  }

  private queue(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // The peer may not stream ahead of a handshake we have not answered by more than a few frames.
    if (this.pendingBytes > 256 * 1024) this.close('peer sent too much before the handshake completed');
  }

  private drainPending(): void {
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
        clearTimeout(this.handshakeTimer);
        this.handshake = h;
        if (!this.handlers!.onHandshake(h)) {
          this.close('handshake refused');
          return;
        }
        const rest = all.subarray(HANDSHAKE_LENGTH);
        if (rest.length === 0) return;
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
