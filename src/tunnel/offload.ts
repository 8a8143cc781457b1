/**
 * Segmentation offload between two sixswarm tunnel ends (an extension the original protocol
 * does not have, negotiated in the handshake, so original peers never see it).
 *
 * Without it every 1280-byte packet costs a TUN read or write syscall and a trip through the
 * kernel's IP stack on both ends: measured, that per-packet work was two thirds of the tunnel's
 * CPU. With it, both TUN devices are opened with IFF_VNET_HDR and TUNSETOFFLOAD(CSUM | TSO6):
 * the kernel hands us TCP segments of up to 64 KiB with a partial checksum and takes them back
 * the same way, segmenting (or not, for local delivery) on its own.
 *
 * On the wire, an offload link sends each packet behind its 10-byte struct virtio_net_hdr
 * (little endian, as Linux uses it on every little-endian machine):
 *
 *   flags u8 | gso_type u8 | hdr_len u16 | gso_size u16 | csum_start u16 | csum_offset u16 | IPv6 packet
 *
 * A header of all zeroes is a plain packet with its checksums complete. Only what the kernel
 * produces for TCP over IPv6 is accepted: flags NEEDS_CSUM, gso_type NONE or TCPV6.
 */

/** The value both ends put in the handshake's "Offload" field. */
export const OFFLOAD_FEATURE = 'vnet-tcp6';
export const VNET_HDR_BYTES = 10;

/** TUNSETOFFLOAD flags (linux/if_tun.h). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO6 = 0x04;

/** virtio_net_hdr values (linux/virtio_net.h). */
const F_NEEDS_CSUM = 1;
const GSO_NONE = 0;
const GSO_TCPV6 = 4;
const IPPROTO_TCP = 6;
const IPV6_HEADER_BYTES = 40;
const TCP_MIN_HEADER_BYTES = 20;

/** The header of a plain packet (all zero): what a plain packet carries on an offload link. */
export const PLAIN_HEADER: Buffer = Buffer.alloc(VNET_HDR_BYTES);

/**
 * A packet's offload metadata: its virtio_net_hdr (a partial checksum, a TCP segment to be cut
 * at gso_size, or both), or null for a plain packet, which can go anywhere as it is.
 */
export type OffloadHeader = Buffer | null;

/**
 * Why `header` cannot describe `packet` (an IPv6 packet), or null when it can. Fields are checked
 * against the packet so the kernel is never asked to checksum or segment outside of it.
 */
export function offloadProblem(header: Buffer, packet: Buffer): string | null {
  const flags = header[0]!;
  const gsoType = header[1]!;
  if ((flags & ~F_NEEDS_CSUM) !== 0) return `unknown offload flags 0x${flags.toString(16)}`;
  if (gsoType !== GSO_NONE && gsoType !== GSO_TCPV6) return `segmentation type ${gsoType} (only TCP over IPv6 is offloaded)`;
  if (gsoType === GSO_TCPV6) {
    // Only the plain layout the kernel produces for TCP: no extension headers in between.
    if (packet[6] !== IPPROTO_TCP || packet.length < IPV6_HEADER_BYTES + TCP_MIN_HEADER_BYTES) return 'a segmented packet that is not TCP';
    if (header.readUInt16LE(4) === 0) return 'segment size 0';
    if ((flags & F_NEEDS_CSUM) === 0) return 'a segmented packet without a partial checksum';
  }
  if (flags & F_NEEDS_CSUM) {
    const start = header.readUInt16LE(6);
    const offset = header.readUInt16LE(8);
    if (start < IPV6_HEADER_BYTES || start + offset + 2 > packet.length) return 'checksum position outside the packet';
  }
  return null;
}

/** A header read off the wire: null for plain packets; throws a message when it is not acceptable. */
export function wireHeader(header: Buffer, packet: Buffer): OffloadHeader {
  if (header[0] === 0 && header[1] === 0) return null;
  const problem = offloadProblem(header, packet);
  if (problem) throw new Error(problem);
  return header;
}

/**
 * A header as read from our own TUN device: the kernel also sets DATA_VALID ("checksum already
 * verified"), which is its business only, so it is cleared: the far kernel checks for itself.
 * Null for plain packets, undefined for something we do not carry.
 */
export function kernelHeader(header: Buffer, packet: Buffer): OffloadHeader | undefined {
  header[0] = header[0]! & F_NEEDS_CSUM;
  if (header[0] === 0 && header[1] === 0) return null;
  return offloadProblem(header, packet) ? undefined : header;
}

/** How many wire packets this one stands for (a segmented TCP packet is cut at gso_size). */
export function segmentCount(header: OffloadHeader, packet: Buffer): number {
  if (!header || header[1] !== GSO_TCPV6) return 1;
  const tcpHeader = (packet[IPV6_HEADER_BYTES + 12]! >> 4) * 4;
  const payload = packet.length - IPV6_HEADER_BYTES - tcpHeader;
  return Math.max(1, Math.ceil(payload / header.readUInt16LE(4)));
}

/** Whether `header` directly precedes `packet` in memory, so both can go in one write. */
export function adjacent(header: Buffer, packet: Buffer): boolean {
  return header.buffer === packet.buffer && header.byteOffset + header.length === packet.byteOffset;
}
