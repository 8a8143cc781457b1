/**
 * A raw-TCP BitTorrent peer for tests: it speaks the wire protocol byte by byte so a test can
 * play an honest seed (optionally slow), a lying seed (wrong piece data), or a peer that breaks
 * the protocol on purpose (bad lengths, garbage, floods). It parses what it receives with its
 * own minimal framing — deliberately not sixswarm's decoder — so the two cannot share a bug.
 *
 *     const server = await RawPeerServer.listen('127.0.0.2');
 *     server.onPeer(async (peer) => {
 *       await peer.readHandshake();
 *       peer.sendHandshake(meta.infoHash);
 *       peer.serve(payload, meta.pieceLength, { corrupt: true });
 *     });
 *     // ...run sixswarm with --peer 127.0.0.2:<server.port>...
 *     await server.close();
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { MSG } from '../../src/wire/messages.js';

export { MSG };

export interface RawMessage {
  /** Message id; -1 for a keep-alive. */
  id: number;
  payload: Buffer;
}

export interface RawHandshake {
  reserved: Buffer;
  infoHash: Buffer;
  peerId: Buffer;
}

export interface HandshakeOptions {
  peerId?: Buffer;
  /** BEP 6 fast extension bit (default false: plain BEP 3 keeps hostile scripts simple). */
  fast?: boolean;
  /** BEP 10 extension bit (default false). */
  extended?: boolean;
}

export interface ServeOptions {
  /** Answer requests with wrong bytes (same length) instead of the real data. */
  corrupt?: boolean;
  /** Wrong bytes only for the blocks of these pieces. */
  corruptPieces?: number[];
  /** Announce and serve only these pieces (default all). */
  pieces?: number[];
  /** Answer BEP 52 hash requests with hash rejects (else they go unanswered). */
  rejectHashRequests?: boolean;
  /** Upload rate limit in bytes per second; 0 or absent = as fast as the socket takes it. */
  bytesPerSecond?: number;
}

const PSTR = Buffer.from('BitTorrent protocol', 'latin1');
/** Frames larger than this end the harness's own parsing (it reads what sixswarm sends, which is bounded). */
const MAX_FRAME = 4 * 1024 * 1024;

/** A frame with an arbitrary length prefix and body: the length field is NOT derived from the body. */
export function rawFrame(length: number, id?: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(id === undefined ? 4 : 5);
  head.writeUInt32BE(length >>> 0, 0);
  if (id !== undefined) head[4] = id;
  return Buffer.concat([head, payload]);
}

/** A well-formed frame: length = 1 + payload length. */
export function frame(id: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  return rawFrame(1 + payload.length, id, payload);
}

export function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

/** A bitfield payload with every one of `pieces` bits set (spare bits clear). */
export function fullBitfield(pieces: number): Buffer {
  const b = Buffer.alloc(Math.ceil(pieces / 8), 0xff);
  const spare = b.length * 8 - pieces;
  if (spare > 0) b[b.length - 1] = 0xff << spare;
  return b;
}

/** A bitfield payload with the bits of `have` set. */
export function someBitfield(pieces: number, have: Set<number>): Buffer {
  const b = Buffer.alloc(Math.ceil(pieces / 8));
  for (const i of have) if (i < pieces) b[i >> 3]! |= 0x80 >> (i & 7);
  return b;
}

export function encodeRawHandshake(infoHash: Buffer, opts: HandshakeOptions = {}): Buffer {
  const b = Buffer.alloc(68);
  b[0] = PSTR.length;
  PSTR.copy(b, 1);
  if (opts.extended) b[25] = 0x10;
  if (opts.fast) b[27] = 0x04;
  infoHash.copy(b, 28);
  (opts.peerId ?? Buffer.concat([Buffer.from('-RP0001-', 'latin1'), randomBytes(12)])).copy(b, 48);
  return b;
}

/** One TCP connection to or from sixswarm, driven by the test. */
export class RawPeer {
  /** Messages received after the handshake, in order. */
  readonly messages: RawMessage[] = [];
  handshake?: RawHandshake;
  /** Why the connection ended, once it has: 'remote' when the other side closed or reset it. */
  closedBy?: 'remote' | 'local';
  readonly closed: Promise<void>;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private handlers: ((m: RawMessage) => void)[] = [];

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {}); // a reset is just another way of being closed
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedBy ??= 'remote';
        resolve();
        this.wake();
      }),
    );
  }

  static connect(host: string, port: number, timeoutMs = 5000, localAddress?: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
      const timer = setTimeout(() => (s.destroy(), reject(new Error(`connect ${host}:${port}: timed out`))), timeoutMs);
      s.once('error', (e) => (clearTimeout(timer), reject(e)));
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(new RawPeer(s));
      });
    });
  }

  get isClosed(): boolean {
    return this.closedBy !== undefined;
  }

  /** Raw bytes, exactly as given. */
  send(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  sendHandshake(infoHash: Buffer, opts: HandshakeOptions = {}): void {
    this.send(encodeRawHandshake(infoHash, opts));
  }

  sendMessage(id: number, payload?: Uint8Array): void {
    this.send(frame(id, payload));
  }

  /** The other side's 68-byte handshake; rejects if the connection ends first or the bytes are not one. */
  async readHandshake(timeoutMs = 5000): Promise<RawHandshake> {
    await this.until(() => this.handshake !== undefined || this.buf.length >= 68, timeoutMs, 'a handshake');
    if (!this.handshake) throw new Error(`not a handshake: ${this.buf.subarray(0, 68).toString('hex')}`);
    return this.handshake;
  }

  /** The first received message (past or future) with this id. */
  async waitForMessage(id: number, timeoutMs = 5000): Promise<RawMessage> {
    let found: RawMessage | undefined;
    await this.until(() => (found = this.messages.find((m) => m.id === id)) !== undefined, timeoutMs, `message ${id}`);
    return found!;
  }

  /** Resolves when the connection is closed; rejects if it is still open after `timeoutMs`. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    await this.until(() => this.isClosed, timeoutMs, 'the connection to close');
  }

  /** Stop reading: what sixswarm sends piles up in its own socket buffer. */
  pauseReading(): void {
    this.socket.pause();
  }

  /** Read again (a paused socket does not notice that the other side closed). */
  resumeReading(): void {
    this.socket.resume();
  }

  onMessage(handler: (m: RawMessage) => void): void {
    this.handlers.push(handler);
  }

  /**
   * Play a seed that has every piece of `data`: announce them, unchoke whoever is interested and
   * answer every request (with wrong bytes if `corrupt`), at most `bytesPerSecond` if given.
   * The options object is read live, so a test may change the rate while serving.
   */
  serve(data: Buffer, pieceLength: number, opts: ServeOptions = {}): void {
    const pieces = Math.ceil(data.length / pieceLength);
    const only = opts.pieces && new Set(opts.pieces);
    this.sendMessage(MSG.bitfield, only ? someBitfield(pieces, only) : fullBitfield(pieces));
    const queue: { index: number; begin: number; length: number }[] = [];
    let allowance = 0;
    let last = Date.now();
    const pump = () => {
      const rate = opts.bytesPerSecond ?? 0;
      const now = Date.now();
      allowance = Math.min(allowance + ((now - last) / 1000) * rate, Math.max(rate / 10, 16 * 1024));
      last = now;
      while (queue.length > 0 && !this.socket.destroyed) {
        if (rate > 0 && allowance < queue[0]!.length) return;
        const r = queue.shift()!;
        allowance -= r.length;
        const start = r.index * pieceLength + r.begin;
        let block = data.subarray(start, start + r.length);
        if (opts.corrupt || opts.corruptPieces?.includes(r.index)) block = Buffer.from(block.map((x) => x ^ 0x5a));
        this.sendMessage(MSG.piece, Buffer.concat([u32(r.index, r.begin), block]));
      }
    };
    const timer = setInterval(pump, 10);
    void this.closed.then(() => clearInterval(timer));
    this.onMessage((m) => {
      if (m.id === MSG.interested) this.sendMessage(MSG.unchoke);
      else if (m.id === MSG.request && m.payload.length === 12) {
        const r = { index: m.payload.readUInt32BE(0), begin: m.payload.readUInt32BE(4), length: m.payload.readUInt32BE(8) };
        if (r.index < pieces && (!only || only.has(r.index)) && r.index * pieceLength + r.begin + r.length <= data.length) queue.push(r);
        pump();
      } else if (m.id === MSG.hashRequest && opts.rejectHashRequests) {
        this.sendMessage(MSG.hashReject, m.payload);
      } else if (m.id === MSG.cancel && m.payload.length === 12) {
        const i = queue.findIndex((q) => q.index === m.payload.readUInt32BE(0) && q.begin === m.payload.readUInt32BE(4));
        if (i >= 0) queue.splice(i, 1);
      }
    });
  }

  /** Having dialed a peer: handshake (BEP 3 only, so no PEX), then play an honest seed of `data`. */
  async seed(infoHash: Buffer, data: Buffer, pieceLength: number): Promise<void> {
    this.sendHandshake(infoHash);
    await this.readHandshake();
    this.serve(data, pieceLength);
  }

  /**
   * Having read its handshake: answer as a source of the torrent's metadata only (BEP 9), as some
   * clients serve even a private torrent's. The few fields needed are found in the bytes, not
   * decoded (their extension id for ut_metadata, the piece asked for).
   */
  serveMetadata(infoHash: Buffer, info: Buffer): void {
    const ours = 7;
    this.sendHandshake(infoHash, { extended: true });
    this.sendMessage(MSG.extended, Buffer.concat([Buffer.from([0]), Buffer.from(`d1:md11:ut_metadatai${ours}ee13:metadata_sizei${info.length}ee`, 'latin1')]));
    let theirs = 0;
    this.onMessage((m) => {
      if (m.id !== MSG.extended) return;
      const text = m.payload.subarray(1).toString('latin1');
      if (m.payload[0] === 0) theirs = Number(/11:ut_metadatai(\d+)e/.exec(text)?.[1] ?? 0);
      if (m.payload[0] !== ours || !/8:msg_typei0e/.test(text)) return;
      const piece = Number(/5:piecei(\d+)e/.exec(text)?.[1]);
      const head = Buffer.from(`d8:msg_typei1e5:piecei${piece}e10:total_sizei${info.length}ee`, 'latin1');
      this.sendMessage(MSG.extended, Buffer.concat([Buffer.from([theirs]), head, info.subarray(piece * 16384, (piece + 1) * 16384)]));
    });
  }

  close(): void {
    this.closedBy ??= 'local';
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (!this.handshake) {
      if (this.buf.length < 68) return this.wake();
      if (this.buf[0] !== PSTR.length || !this.buf.subarray(1, 20).equals(PSTR)) return this.wake();
      this.handshake = {
        reserved: Buffer.from(this.buf.subarray(20, 28)),
        infoHash: Buffer.from(this.buf.subarray(28, 48)),
        peerId: Buffer.from(this.buf.subarray(48, 68)),
      };
      this.buf = this.buf.subarray(68);
    }
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len > MAX_FRAME) {
        this.close();
        break;
      }
      if (this.buf.length < 4 + len) break;
      const m: RawMessage = len === 0 ? { id: -1, payload: Buffer.alloc(0) } : { id: this.buf[4]!, payload: Buffer.from(this.buf.subarray(5, 4 + len)) };
      this.buf = this.buf.subarray(4 + len);
      this.messages.push(m);
      for (const h of this.handlers) h(m);
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`raw peer: no ${what} within ${timeoutMs} ms (closed: ${this.closedBy ?? 'no'}, got ids ${this.messages.map((m) => m.id).join(',')})`));
      }, timeoutMs);
      const check = () => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
        } else if (this.isClosed) {
          clearTimeout(timer);
          reject(new Error(`raw peer: connection closed (${this.closedBy}) before ${what}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }
}

/** A listening raw peer: every accepted connection becomes a RawPeer handed to `onPeer`. */
export class RawPeerServer {
  /** Every connection ever accepted, in order. */
  readonly peers: RawPeer[] = [];
  private handler: (p: RawPeer) => void | Promise<void> = () => {};

  private constructor(
    readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static listen(host: string, port = 0): Promise<RawPeerServer> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen({ host, port }, () => {
        const rs = new RawPeerServer(server, host, (server.address() as { port: number }).port);
        server.on('connection', (s) => {
          const p = new RawPeer(s);
          rs.peers.push(p);
          // A handler that throws (the peer hung up mid-script) only ends that connection.
          void Promise.resolve()
            .then(() => rs.handler(p))
            .catch(() => p.close());
        });
        resolve(rs);
      });
    });
  }

  /** `--peer` argument for sixswarm. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  onPeer(handler: (p: RawPeer) => void | Promise<void>): void {
    this.handler = handler;
  }

  /** Seed `payload` of the torrent `infoHash` to every peer: handshake back, then serve (options read at each connection). */
  seed(infoHash: Buffer, payload: Buffer, pieceLength: number, serving: ServeOptions = {}): void {
    this.onPeer(async (p) => {
      await p.readHandshake();
      p.sendHandshake(infoHash);
      p.serve(payload, pieceLength, serving);
    });
  }

  async close(): Promise<void> {
    for (const p of this.peers) p.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
