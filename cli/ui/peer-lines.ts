/**
 * Connected peers as lines, grouped by how the connection runs (native IPv6, IPv6 through our
 * tunnel, IPv4), and their flags: what the terminal UI and the web page both list.
 */
import type { PeerStatus } from '../../src/status/feed.js';

export const VIA_LABEL: Record<PeerStatus['via'], string> = { ipv6: 'IPv6', tunnel: 'IPv6 via tunnel', ipv4: 'IPv4' };
export const VIA_ORDER: PeerStatus['via'][] = ['ipv6', 'tunnel', 'ipv4'];

/**
 * The flag letters of a peer: D downloading from it (d: interested but choked), U uploading to it
 * (u: it is choked), E encrypted, T over uTP (Transmission's letter; H: over uTP, opened by a BEP
 * 55 holepunch), then in/out.
 */
export function peerFlags(p: PeerStatus): string {
  const down = p.amInterested ? (p.peerChoking ? 'd' : 'D') : '-';
  const up = p.peerInterested ? (p.amChoking ? 'u' : 'U') : '-';
  return `${down}${up}${p.encrypted ? 'E' : '-'}${p.holepunched ? 'H' : p.transport === 'utp' ? 'T' : '-'} ${p.direction === 'in' ? 'in ' : 'out'}`;
}

export interface PeerLine {
  kind: 'group' | 'peer';
  via: PeerStatus['via'];
  count?: number;
  peer?: PeerStatus;
}

/** Peers as lines: a heading per group that has peers (IPv6 first), then its peers by download rate. */
export function peerLines(peers: readonly PeerStatus[]): PeerLine[] {
  const out: PeerLine[] = [];
  for (const via of VIA_ORDER) {
    const group = peers.filter((p) => p.via === via).sort((a, b) => b.downRate - a.downRate || b.upRate - a.upRate || a.address.localeCompare(b.address));
    if (group.length === 0) continue;
    out.push({ kind: 'group', via, count: group.length });
    for (const peer of group) out.push({ kind: 'peer', via, peer });
  }
  return out;
}
