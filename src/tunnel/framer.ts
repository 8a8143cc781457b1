/**
 * The tunnel stream has no framing of its own: after the handshake both sides write raw IPv6
 * packets back to back. Packets are therefore delimited by their own header (version nibble 6,
 * total length = 40 + payload length), never by how TCP happened to cut the stream.
 */

import { Slab } from '../transport/kernel/slab-read.js';

export const IPV6_HEADER_BYTES = 40;
/** The largest frame: an offload header and an IPv6 packet without jumbograms. */
const MAX_FRAME_BYTES = 16 + IPV6_HEADER_BYTES + 65535;
/** Bytes of the IPv6 header needed to know its length: version (byte 0) .. payload length (bytes 4-5). */
const LENGTH_KNOWN_AT = 6;

export class FramingError extends Error {
  constructor(message: string) {
    super(`corrupt tunnel stream: ${message}`);
    this.name = 'FramingError';
  }
}

/**
 * Reassembles IPv6 packets from stream chunks. `push` returns the complete packets (views into
 * the chunks: use or copy them before the next push) and throws FramingError when the stream
 * stops making sense; the framer is then unusable and the connection must be dropped.
 * With `headerBytes`, each packet follows a fixed-size header of its own (the offload header),
 * and what is returned is header and packet together.
 *
 * Only a packet cut by a chunk boundary is copied, once, into a slab (its head, to learn its
 * length, at most twice): a peer that trickles a 64 KiB packet byte by byte costs linear, not
 * quadratic, work, and a busy link costs no allocation per packet.
 */
export class PacketFramer {
  private parts: Buffer[] = [];
  private held = 0;
  /** Total length of the held partial packet once its header says so; 0 while unknown. */
  private need = 0;
  private broken: FramingError | undefined;
  /** Bytes needed to know a frame's length. */
  private readonly lengthAt: number;
  private readonly slab = new Slab(MAX_FRAME_BYTES);

  constructor(private readonly headerBytes = 0) {
    this.lengthAt = headerBytes + LENGTH_KNOWN_AT;
  }

  /** Bytes waiting for the rest of their packet. */
  get pending(): number {
    return this.held;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.broken) throw this.broken;
    if (chunk.length === 0) return [];
    if (this.held === 0) return this.parse(chunk);
    let rest = chunk;
    if (this.need === 0) {
      // Only as much as it takes to learn the length.
      const add = Math.min(rest.length, this.lengthAt - this.held);
      this.parts.push(rest.subarray(0, add));
      this.held += add;
      rest = rest.subarray(add);
      if (this.versionBad()) this.fail(`IP version ${this.versionAt()} at a packet boundary (expected 6)`);
      if (this.held < this.lengthAt) return [];
      const head = Buffer.concat(this.parts, this.held);
      const payload = head.readUInt16BE(this.headerBytes + 4);
      if (payload === 0) return this.fail('payload length 0 (jumbograms are not carried by this tunnel)');
      this.parts = [head];
      this.need = this.headerBytes + IPV6_HEADER_BYTES + payload;
    }
    const add = Math.min(rest.length, this.need - this.held);
    this.parts.push(rest.subarray(0, add));
    this.held += add;
    if (this.held < this.need) return [];
    const room = this.slab.room();
    let at = 0;
    for (const part of this.parts) at += part.copy(room, at);
    const frame = this.slab.take(at);
    this.parts = [];
    this.held = 0;
    this.need = 0;
    return add < rest.length ? [frame, ...this.parse(rest.subarray(add))] : [frame];
  }

  /** The version nibble of the held partial frame (once its byte is in). */
  private versionAt(): number {
    let i = this.headerBytes;
    for (const part of this.parts) {
      if (i < part.length) return part[i]! >> 4;
      i -= part.length;
    }
    return 6;
  }

  /** A bad version nibble is reported as soon as its byte is in, not 6 bytes later. */
  private versionBad(): boolean {
    return this.versionAt() !== 6;
  }

  private parse(buf: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let off = 0;
    const hb = this.headerBytes;
    while (off < buf.length) {
      const left = buf.length - off;
      if (left <= hb) break;
      const version = buf[off + hb]! >> 4;
      if (version !== 6) return this.fail(`IP version ${version} at a packet boundary (expected 6)`);
      if (left < this.lengthAt) break;
      const payload = buf.readUInt16BE(off + hb + 4);
      if (payload === 0) return this.fail('payload length 0 (jumbograms are not carried by this tunnel)');
      const total = hb + IPV6_HEADER_BYTES + payload;
      if (left < total) {
        this.need = total;
        break;
      }
      out.push(buf.subarray(off, off + total));
      off += total;
    }
    if (off < buf.length) {
      this.parts = [buf.subarray(off)];
      this.held = buf.length - off;
    }
    return out;
  }

  private fail(message: string): never {
    this.broken = new FramingError(message);
    this.parts = [];
    this.held = 0;
    throw this.broken;
  }
}

/** Source address bytes of an IPv6 packet (a view). */
export function sourceOf(packet: Buffer): Buffer {
  return packet.subarray(8, 24);
}

/** Destination address bytes of an IPv6 packet (a view). */
export function destinationOf(packet: Buffer): Buffer {
  return packet.subarray(24, 40);
}

/** Whether `packet` looks like a whole IPv6 packet (as read from a TUN device). */
export function isIpv6Packet(packet: Buffer): boolean {
  return (
    packet.length >= IPV6_HEADER_BYTES &&
    packet[0]! >> 4 === 6 &&
    packet.readUInt16BE(4) !== 0 &&
    packet.length === IPV6_HEADER_BYTES + packet.readUInt16BE(4)
  );
}
