/**
 * The stream mode's wire format: what two sixswarm tunnel ends send each other after a handshake
 * that agreed on `"Streams"` (see handshake.ts), in place of IPv6 packets. The server terminates
 * IPv6 TCP and UDP for the client and relays them as streams and datagrams, many over the one
 * IPv4 connection.
 *
 * Every frame is a 9-byte header and a payload:
 *
 *   type u8 | id u32 | length u32 | payload (length bytes)          (big endian throughout)
 *
 * `id` names a stream, a listener or a UDP socket. The client numbers what it opens with odd
 * ids, the server the streams it accepts for the client with even ids, so the two never clash.
 * An IPv6 address is its 16 bytes, a port a u16, a window a u32.
 *
 *   DATA       both   stream id   bytes (within the receiver's window)
 *   WINDOW     both   stream id   u32: the sender may send this many more bytes
 *   FIN        both   stream id   -: the sender sends no more on this stream (TCP's FIN)
 *   RESET      both   any id      error code, LF, message (UTF-8): the stream, listener or socket is gone
 *   CONNECT    c->s   new odd id  address, port, window: dial from the client's address
 *   CONNECTED  s->c   stream id   local port, window: the dial succeeded
 *   ACCEPT     s->c   new even id local port, remote address, remote port, window: an incoming connection
 *   LISTEN     c->s   new odd id  port: accept connections to the client's address on it
 *   LISTENING  s->c   listener id port
 *   UDP_BIND   c->s   new odd id  port [, address, port: a connected socket]
 *   UDP_BOUND  s->c   socket id   port
 *   DATAGRAM   both   socket id   address, port, bytes (the remote end; from or to)
 *   UDP_ERROR  s->c   socket id   error code, LF, message: an ICMP report; the socket stays
 *
 * A stream is answered with CONNECTED (or RESET), an ACCEPT with WINDOW (or RESET). Flow control
 * is per stream and per direction: nothing is sent beyond what the other end granted, so one
 * stream whose reader is slow holds only its own window. A frame that breaks these rules (an
 * unknown type, a bad length, data beyond the window, an id of the wrong side) ends the whole
 * connection; frames for ids that are gone are dropped (they may have crossed a RESET).
 */
import { bytesToIp, ipToBytes } from '../../net/address.js';

export const HEADER_BYTES = 9;

export const FrameType = {
  DATA: 0,
  WINDOW: 1,
  FIN: 2,
  RESET: 3,
  CONNECT: 4,
  CONNECTED: 5,
  ACCEPT: 6,
  LISTEN: 7,
  LISTENING: 8,
  UDP_BIND: 9,
  UDP_BOUND: 10,
  DATAGRAM: 11,
  UDP_ERROR: 12,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];
const TYPE_COUNT = 13;

/** DATA payloads are cut to this size by senders, and refused above it. */
export const MAX_DATA_BYTES = 256 * 1024;
/** A UDP payload (IPv6 without jumbograms) behind its address and port. */
const MAX_DATAGRAM_FRAME = 18 + 65535;
/** Control frames are small; an error message is cut to fit. */
const MAX_CONTROL_BYTES = 512;
const MAX_ERROR_TEXT = 256;
/** Largest window either end may grant on one stream (more is a flood, not flow control). */
export const MAX_WINDOW = 64 * 1024 * 1024;

export class ProtocolError extends Error {
  constructor(message: string) {
    super(`stream-mode protocol violation: ${message}`);
    this.name = 'ProtocolError';
  }
}

export interface Endpoint {
  host: string;
  port: number;
}

/** What a reader hands on. DATA comes in slices, as it arrives (`last` on the frame's final one). */
export interface FrameHandler {
  data(id: number, bytes: Buffer, last: boolean): void;
  /** Every other frame, whole; `payload` is only valid during the call. */
  control(type: FrameType, id: number, payload: Buffer): void;
}

/** Exact payload lengths of the fixed-size control frames. */
const FIXED: Partial<Record<FrameType, number>> = {
  [FrameType.WINDOW]: 4,
  [FrameType.FIN]: 0,
  [FrameType.CONNECT]: 22,
  [FrameType.CONNECTED]: 6,
  [FrameType.ACCEPT]: 24,
  [FrameType.LISTEN]: 2,
  [FrameType.LISTENING]: 2,
  [FrameType.UDP_BOUND]: 2,
};

function checkLength(type: number, length: number): void {
  if (type >= TYPE_COUNT) throw new ProtocolError(`unknown frame type ${type}`);
  const t = type as FrameType;
  const fixed = FIXED[t];
  if (fixed !== undefined) {
    if (length !== fixed) throw new ProtocolError(`frame type ${t} with ${length} payload bytes (expected ${fixed})`);
    return;
  }
  if (t === FrameType.DATA) {
    if (length === 0 || length > MAX_DATA_BYTES) throw new ProtocolError(`a DATA frame of ${length} bytes (1..${MAX_DATA_BYTES})`);
  } else if (t === FrameType.DATAGRAM) {
    if (length < 18 || length > MAX_DATAGRAM_FRAME) throw new ProtocolError(`a DATAGRAM frame of ${length} bytes`);
  } else if (t === FrameType.UDP_BIND) {
    if (length !== 2 && length !== 20) throw new ProtocolError(`a UDP_BIND frame of ${length} bytes (2 or 20)`);
  } else if (length > MAX_CONTROL_BYTES) {
    throw new ProtocolError(`a control frame of ${length} bytes`);
  }
}

/**
 * Cuts frames off a byte stream, chunk by chunk. DATA payloads are handed on as slices of the
 * chunks (no copy); only headers and control frames split across chunks are copied, and those
 * are small, so a peer trickling bytes costs linear work. Throws ProtocolError (then the reader
 * is done with and the connection must close).
 */
export class FrameReader {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerHave = 0;
  private type = 0;
  private id = 0;
  /** Payload bytes still to come for the current frame. */
  private left = 0;
  private inFrame = false;
  /** A control frame's payload being collected. */
  private control: Buffer | undefined;
  private controlHave = 0;
  private broken: ProtocolError | undefined;

  constructor(private readonly handler: FrameHandler) {}

  push(chunk: Buffer): void {
    if (this.broken) throw this.broken;
    try {
      this.parse(chunk);
    } catch (e) {
      if (e instanceof ProtocolError) this.broken = e;
      throw e;
    }
  }

  private parse(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      if (!this.inFrame) {
        if (this.headerHave === 0 && n - off >= HEADER_BYTES) {
          this.begin(chunk.readUInt8(off), chunk.readUInt32BE(off + 1), chunk.readUInt32BE(off + 5));
          off += HEADER_BYTES;
        } else {
          const take = Math.min(HEADER_BYTES - this.headerHave, n - off);
          chunk.copy(this.header, this.headerHave, off, off + take);
          this.headerHave += take;
          off += take;
          if (this.headerHave < HEADER_BYTES) return;
          this.headerHave = 0;
          this.begin(this.header.readUInt8(0), this.header.readUInt32BE(1), this.header.readUInt32BE(5));
        }
        if (this.left === 0) this.finishControl(Buffer.alloc(0));
        continue;
      }
      const take = Math.min(this.left, n - off);
      if (this.type === FrameType.DATA) {
        this.left -= take;
        if (this.left === 0) this.inFrame = false;
        this.handler.data(this.id, chunk.subarray(off, off + take), this.left === 0);
        off += take;
        continue;
      }
      if (!this.control && take === this.left) {
        // The whole payload is in this chunk: no copy.
        this.finishControl(chunk.subarray(off, off + take));
        off += take;
        continue;
      }
      this.control ??= Buffer.allocUnsafe(this.left);
      chunk.copy(this.control, this.controlHave, off, off + take);
      this.controlHave += take;
      this.left -= take;
      off += take;
      if (this.left === 0) {
        const whole = this.control;
        this.control = undefined;
        this.controlHave = 0;
        this.finishControl(whole);
      }
    }
  }

  private begin(type: number, id: number, length: number): void {
    checkLength(type, length);
    this.type = type;
    this.id = id;
    this.left = length;
    this.inFrame = true;
  }

  private finishControl(payload: Buffer): void {
    this.inFrame = false;
    this.left = 0;
    this.handler.control(this.type as FrameType, this.id, payload);
  }
}

// ---- encoding -----------------------------------------------------------------------------------

export function header(type: FrameType, id: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES);
  b.writeUInt8(type, 0);
  b.writeUInt32BE(id >>> 0, 1);
  b.writeUInt32BE(length, 5);
  return b;
}

function frame(type: FrameType, id: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  b.writeUInt8(type, 0);
  b.writeUInt32BE(id >>> 0, 1);
  b.writeUInt32BE(payload.length, 5);
  payload.copy(b, HEADER_BYTES);
  return b;
}

function addressBytes(host: string): Buffer {
  const b = ipToBytes(host);
  if (!b || b.length !== 16) throw new Error(`${host} is not an IPv6 address`);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

export const encode = {
  window: (id: number, increment: number) => frame(FrameType.WINDOW, id, u32(increment)),
  fin: (id: number) => frame(FrameType.FIN, id, Buffer.alloc(0)),
  reset: (id: number, code: string, message: string) => frame(FrameType.RESET, id, errorPayload(code, message)),
  connect: (id: number, to: Endpoint, window: number) => frame(FrameType.CONNECT, id, Buffer.concat([addressBytes(to.host), u16(to.port), u32(window)])),
  connected: (id: number, localPort: number, window: number) => frame(FrameType.CONNECTED, id, Buffer.concat([u16(localPort), u32(window)])),
  accept: (id: number, localPort: number, remote: Endpoint, window: number) =>
    frame(FrameType.ACCEPT, id, Buffer.concat([u16(localPort), addressBytes(remote.host), u16(remote.port), u32(window)])),
  listen: (id: number, port: number) => frame(FrameType.LISTEN, id, u16(port)),
  listening: (id: number, port: number) => frame(FrameType.LISTENING, id, u16(port)),
  udpBind: (id: number, port: number, connectTo?: Endpoint) =>
    frame(FrameType.UDP_BIND, id, connectTo ? Buffer.concat([u16(port), addressBytes(connectTo.host), u16(connectTo.port)]) : u16(port)),
  udpBound: (id: number, port: number) => frame(FrameType.UDP_BOUND, id, u16(port)),
  udpError: (id: number, code: string, message: string) => frame(FrameType.UDP_ERROR, id, errorPayload(code, message)),
  /** The header and the address part of a DATAGRAM; the payload follows in its own write. */
  datagramHead: (id: number, remote: Endpoint, payloadBytes: number) => {
    const b = header(FrameType.DATAGRAM, id, 18 + payloadBytes);
    return Buffer.concat([b, addressBytes(remote.host), u16(remote.port)]);
  },
};

function errorPayload(code: string, message: string): Buffer {
  const c = code.replace(/[^A-Z0-9_]/g, '').slice(0, 32);
  let text = Buffer.from(`${c}\n${message}`, 'utf8');
  if (text.length > MAX_ERROR_TEXT) text = text.subarray(0, MAX_ERROR_TEXT);
  return text;
}

// ---- decoding of payloads -----------------------------------------------------------------------

export interface RemoteError {
  code: string;
  message: string;
}

export const decode = {
  window: (p: Buffer) => p.readUInt32BE(0),
  error: (p: Buffer): RemoteError => {
    const text = p.toString('utf8');
    const nl = text.indexOf('\n');
    const code = (nl < 0 ? '' : text.slice(0, nl)).replace(/[^A-Z0-9_]/g, '').slice(0, 32) || 'EIO';
    // Shown to users and logs: keep it one printable line.
    const message = (nl < 0 ? text : text.slice(nl + 1)).replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, ' ').slice(0, 200) || code;
    return { code, message };
  },
  connect: (p: Buffer) => ({ to: { host: bytesToIp(p.subarray(0, 16)), port: p.readUInt16BE(16) }, window: p.readUInt32BE(18) }),
  connected: (p: Buffer) => ({ localPort: p.readUInt16BE(0), window: p.readUInt32BE(2) }),
  accept: (p: Buffer) => ({ localPort: p.readUInt16BE(0), remote: { host: bytesToIp(p.subarray(2, 18)), port: p.readUInt16BE(18) }, window: p.readUInt32BE(20) }),
  port: (p: Buffer) => p.readUInt16BE(0),
  udpBind: (p: Buffer) => ({ port: p.readUInt16BE(0), ...(p.length === 20 ? { connectTo: { host: bytesToIp(p.subarray(2, 18)), port: p.readUInt16BE(18) } } : {}) }),
  /** The remote end of a DATAGRAM and its bytes (a view of `p`). */
  datagram: (p: Buffer) => ({ remote: { host: bytesToIp(p.subarray(0, 16)), port: p.readUInt16BE(16) }, bytes: p.subarray(18) }),
};
