/**
 * Bounded framing of the peer wire: an unsigned length prefix, a maximum frame size, and exact
 * per-type payload lengths. Anything else is a ProtocolError, which costs the peer its connection.
 */
import { HASH_REQUEST_BYTES, MSG, type HashRequest, type Message } from './messages.js';

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
  [MSG.hashRequest]: HASH_REQUEST_BYTES,
  [MSG.hashReject]: HASH_REQUEST_BYTES,
};

/**
 * Most hashes one BEP 52 `hashes` message may carry: the 8192 of the largest request we make or
 * answer (see merkle/file-tree.ts), and an uncle for each level of the deepest tree there is.
 */
export const MAX_HASHES = 8192 + 64;

export class FrameDecoder {
  /** A length prefix split across chunks. */
  private readonly lenBuf = Buffer.alloc(4);
  private lenFilled = 0;
  private need = -1; // payload length of the frame being read, -1 while reading a length
  /** A frame split across chunks, copied together here (grown as its bytes arrive, so a bare length costs nothing). */
  private partial?: Buffer;
  private filled = 0;
  private transient = false; // whether the bytes being parsed are overwritten after push returns
  private maxFrame: number;
  private readonly limits: FrameLimits;

  constructor(limits: FrameLimits) {
    this.limits = { ...limits };
    this.maxFrame = this.frameLimit();
  }

  /** The torrent's size became known: bitfields must have exactly this many bytes from now on. */
  setBitfieldBytes(n: number): void {
    this.limits.bitfieldBytes = n;
    this.maxFrame = this.frameLimit();
  }

  private frameLimit(): number {
    // A full hashes message (MAX_HASHES, 264 KiB) fits under the swarm's 1 MiB extended bound.
    return Math.max(1 + this.limits.bitfieldBytes, 9 + this.limits.maxBlock, 2 + this.limits.maxExtended);
  }

  /**
   * Feed bytes; calls `onMessage` for every complete message. Throws ProtocolError on a rule
   * break. A frame that lies whole in the chunk is parsed in place; one split across chunks is
   * copied together, so the work stays linear in the bytes however they are cut. A `transient`
   * chunk is overwritten after this returns: nothing keeps a view of it, and the payloads a
   * handler may keep (bitfield, extended) are copied; a piece's block is a view, valid only
   * while its message is handled.
   */
  push(chunk: Buffer, onMessage: (m: Message) => void, transient = false): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.need < 0) {
        let len: number;
        if (this.lenFilled === 0 && chunk.length - off >= 4) {
          len = chunk.readUInt32BE(off);
          off += 4;
        } else {
          const k = Math.min(4 - this.lenFilled, chunk.length - off);
          chunk.copy(this.lenBuf, this.lenFilled, off, off + k);
          this.lenFilled += k;
          off += k;
          if (this.lenFilled < 4) return;
          this.lenFilled = 0;
          len = this.lenBuf.readUInt32BE(0);
        }
        if (len > this.maxFrame) throw new ProtocolError(`message of ${len} bytes exceeds the ${this.maxFrame}-byte limit`);
        if (len === 0) {
          onMessage({ type: 'keep-alive' });
          continue;
        }
        this.need = len;
      }
      let body: Buffer;
      if (this.partial) {
        const k = Math.min(this.need - this.filled, chunk.length - off);
        if (this.filled + k > this.partial.length) this.grow(this.filled + k);
        chunk.copy(this.partial, this.filled, off, off + k);
        this.filled += k;
        off += k;
        if (this.filled < this.need) return;
        body = this.partial;
        this.partial = undefined;
        this.transient = false;
      } else if (chunk.length - off >= this.need) {
        body = chunk.subarray(off, off + this.need);
        off += this.need;
        this.transient = transient;
      } else {
        this.partial = Buffer.allocUnsafe(Math.min(this.need, Math.max(64 * 1024, chunk.length - off)));
        this.filled = 0;
        continue;
      }
      this.need = -1;
      const m = this.parse(body);
      if (m) onMessage(m);
    }
  }

  /** Room for at least `n` bytes of the split frame: doubling, so the copies add up to a few times the frame. */
  private grow(n: number): void {
    const bigger = Buffer.allocUnsafe(Math.min(this.need, Math.max(n, 2 * this.partial!.length)));
    this.partial!.copy(bigger, 0, 0, this.filled);
    this.partial = bigger;
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
        const length = b.readUInt32BE(9);
        if (length === 0 || length > this.limits.maxBlock) throw new ProtocolError(`block length ${length} outside 1..${this.limits.maxBlock}`);
        // One object, spelled out: a seed parses one of these per block it sends.
        return { type: id === MSG.request ? 'request' : id === MSG.cancel ? 'cancel' : 'reject', index: b.readUInt32BE(1), begin: b.readUInt32BE(5), length };
      }
      case MSG.piece:
        if (len < 9 || len - 8 > this.limits.maxBlock) throw new ProtocolError(`piece message with a ${len - 8}-byte block`);
        return { type: 'piece', index: b.readUInt32BE(1), begin: b.readUInt32BE(5), block: b.subarray(9) };
      case MSG.port: return { type: 'port', port: b.readUInt16BE(1) };
      case MSG.suggest: return { type: 'suggest', index: b.readUInt32BE(1) };
      case MSG.haveAll: return { type: 'have-all' };
      case MSG.haveNone: return { type: 'have-none' };
      case MSG.allowedFast: return { type: 'allowed-fast', index: b.readUInt32BE(1) };
      case MSG.hashRequest:
        return { type: 'hash-request', ...this.hashRequest(b) };
      case MSG.hashReject:
        return { type: 'hash-reject', ...this.hashRequest(b) };
      case MSG.hashes: {
        const extra = len - HASH_REQUEST_BYTES;
        if (extra < 0 || extra % 32 !== 0 || extra / 32 > MAX_HASHES) throw new ProtocolError(`hashes message of ${len} bytes`);
        return { type: 'hashes', ...this.hashRequest(b), hashes: this.own(b.subarray(1 + HASH_REQUEST_BYTES)) };
      }
      case MSG.extended:
        if (len < 1) throw new ProtocolError('extended message without an id');
        if (len - 1 > this.limits.maxExtended) throw new ProtocolError(`extended message of ${len - 1} bytes`);
        return { type: 'extended', id: b[1]!, payload: this.own(b.subarray(2)) };
      default:
        return undefined; // BEP 3: unknown messages are ignored (their size is already bounded).
    }
  }

  /** The fields every BEP 52 hash message starts with (the root copied: it outlives the chunk). */
  private hashRequest(b: Buffer): HashRequest {
    return { root: Buffer.from(b.subarray(1, 33)), base: b.readUInt32BE(33), index: b.readUInt32BE(37), count: b.readUInt32BE(41), proofLayers: b.readUInt32BE(45) };
  }

  private own(view: Buffer): Buffer {
    return this.transient ? Buffer.from(view) : view;
  }
}
