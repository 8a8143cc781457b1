/**
 * Bounded framing of the peer wire: an unsigned length prefix, a maximum frame size, and exact
 * per-type payload lengths. Anything else is a ProtocolError, which costs the peer its connection.
 */
import { MSG, type Message } from './messages.js';

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export interface FrameLimits {
  /** Bytes of the bitfield payload for this torrent (ceil(pieces/8)); 0 while the torrent size is unknown. */
  bitfieldBytes: number;
  /** Largest block we accept in a piece message or a request. */
  maxBlock: number;
  /** Largest BEP 10 message (ut_metadata carries 16 KiB plus a small dictionary). */
  maxExtended: number;
}

const FIXED: Partial<Record<number, number>> = {
  [MSG.choke]: 0,
  [MSG.unchoke]: 0,
  [MSG.interested]: 0,
  [MSG.notInterested]: 0,
  [MSG.have]: 4,
  [MSG.request]: 12,
  [MSG.cancel]: 12,
  [MSG.port]: 2,
  [MSG.suggest]: 4,
  [MSG.haveAll]: 0,
  [MSG.haveNone]: 0,
  [MSG.reject]: 12,
  [MSG.allowedFast]: 4,
};

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private head = 0; // read offset in chunks[0]
  private avail = 0;
  private need = -1; // payload length of the frame being read, -1 while reading a length
  private transient = false; // whether the chunk being read is overwritten after push returns
  private readonly maxFrame: number;

  constructor(private readonly limits: FrameLimits) {
    this.maxFrame = Math.max(1 + limits.bitfieldBytes, 9 + limits.maxBlock, 2 + limits.maxExtended);
  }

  /**
   * Feed bytes; calls `onMessage` for every complete message. Throws ProtocolError on a rule
   * break. A `transient` chunk is overwritten after this returns: what is left of it is copied,
   * and so are the payloads of messages a handler may keep (bitfield, extended); a piece's block
   * stays a view, valid only while its message is handled.
   */
  push(chunk: Buffer, onMessage: (m: Message) => void, transient = false): void {
    this.chunks.push(chunk);
    this.avail += chunk.length;
    this.transient = transient;
    try {
      this.drain(onMessage);
    } finally {
      if (transient) this.ownRest(chunk);
    }
  }

  private drain(onMessage: (m: Message) => void): void {
    for (;;) {
      if (this.need < 0) {
        if (this.avail < 4) return;
        const len = this.take(4).readUInt32BE(0);
        if (len > this.maxFrame) throw new ProtocolError(`message of ${len} bytes exceeds the ${this.maxFrame}-byte limit`);
        if (len === 0) {
          onMessage({ type: 'keep-alive' });
          continue;
        }
        this.need = len;
      }
      if (this.avail < this.need) return;
      const body = this.take(this.need);
      this.need = -1;
      const m = this.parse(body);
      if (m) onMessage(m);
    }
  }

  /** Copy the unread rest of a transient chunk (only the newest chunk can be one). */
  private ownRest(chunk: Buffer): void {
    const last = this.chunks.length - 1;
    if (last < 0 || this.chunks[last] !== chunk) return;
    this.chunks[last] = Buffer.from(chunk.subarray(last === 0 ? this.head : 0));
    if (last === 0) this.head = 0;
  }

  /** Next `n` buffered bytes: a view when they sit in one chunk, else a copy. */
  private take(n: number): Buffer {
    this.avail -= n;
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length - this.head, n - filled);
      c.copy(out, filled, this.head, this.head + k);
      filled += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }

  private parse(b: Buffer): Message | undefined {
    const id = b[0]!;
    const len = b.length - 1;
    const fixed = FIXED[id];
    if (fixed !== undefined && len !== fixed) throw new ProtocolError(`message type ${id} with ${len} payload bytes (expected ${fixed})`);
    switch (id) {
      case MSG.choke: return { type: 'choke' };
      case MSG.unchoke: return { type: 'unchoke' };
      case MSG.interested: return { type: 'interested' };
      case MSG.notInterested: return { type: 'not-interested' };
      case MSG.have: return { type: 'have', index: b.readUInt32BE(1) };
      case MSG.bitfield:
        if (this.limits.bitfieldBytes > 0 && len !== this.limits.bitfieldBytes) {
          throw new ProtocolError(`bitfield of ${len} bytes (expected ${this.limits.bitfieldBytes})`);
        }
        return { type: 'bitfield', bits: this.own(b.subarray(1)) };
      case MSG.request:
      case MSG.cancel:
      case MSG.reject: {
        const r = { index: b.readUInt32BE(1), begin: b.readUInt32BE(5), length: b.readUInt32BE(9) };
        if (r.length === 0 || r.length > this.limits.maxBlock) throw new ProtocolError(`block length ${r.length} outside 1..${this.limits.maxBlock}`);
        return { type: id === MSG.request ? 'request' : id === MSG.cancel ? 'cancel' : 'reject', ...r };
      }
      case MSG.piece:
        if (len < 9 || len - 8 > this.limits.maxBlock) throw new ProtocolError(`piece message with a ${len - 8}-byte block`);
        return { type: 'piece', index: b.readUInt32BE(1), begin: b.readUInt32BE(5), block: b.subarray(9) };
      case MSG.port: return { type: 'port', port: b.readUInt16BE(1) };
      case MSG.suggest: return { type: 'suggest', index: b.readUInt32BE(1) };
      case MSG.haveAll: return { type: 'have-all' };
      case MSG.haveNone: return { type: 'have-none' };
      case MSG.allowedFast: return { type: 'allowed-fast', index: b.readUInt32BE(1) };
      case MSG.extended:
        if (len < 1) throw new ProtocolError('extended message without an id');
        if (len - 1 > this.limits.maxExtended) throw new ProtocolError(`extended message of ${len - 1} bytes`);
        return { type: 'extended', id: b[1]!, payload: this.own(b.subarray(2)) };
      default:
        return undefined; // BEP 3: unknown messages are ignored (their size is already bounded).
    }
  }

  private own(view: Buffer): Buffer {
    return this.transient ? Buffer.from(view) : view;
  }
}
