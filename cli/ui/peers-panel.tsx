/**
 * Connected peers, split by how the connection runs: native IPv6, IPv6 through our tunnel, and
 * IPv4. Flags: D downloading from it (u/d lower case: interested but choked), U uploading to it,
 * E encrypted, "in" it connected to us; then where its address was learned.
 */
import { Box, Text } from 'ink';
import type { PeerStatus } from '../../src/status/feed.js';
import { cell, shortRate } from './format.js';
import { useTheme, type Theme } from './theme.js';

export const VIA_LABEL: Record<PeerStatus['via'], string> = { ipv6: 'IPv6', tunnel: 'IPv6 via tunnel', ipv4: 'IPv4' };
const VIA_ORDER: PeerStatus['via'][] = ['ipv6', 'tunnel', 'ipv4'];

export function viaColor(via: PeerStatus['via'], t: Theme): string | undefined {
  return via === 'ipv4' ? t.v4 : via === 'tunnel' ? t.tunnel : t.v6;
}

/** The flag letters of a peer (see the file comment and the help overlay). */
export function peerFlags(p: PeerStatus): string {
  const down = p.amInterested ? (p.peerChoking ? 'd' : 'D') : '-';
  const up = p.peerInterested ? (p.amChoking ? 'u' : 'U') : '-';
  return `${down}${up}${p.encrypted ? 'E' : '-'} ${p.direction === 'in' ? 'in ' : 'out'}`;
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

export function PeersPanel({ peers, width, height, scroll }: { peers: readonly PeerStatus[]; width: number; height: number; scroll: number }) {
  const t = useTheme();
  if (peers.length === 0) {
    return (
      <Box flexDirection="column" height={height}>
        <Text wrap="truncate">No peers connected.</Text>
      </Box>
    );
  }
  // Columns from the panel's own width (beside the trackers on a wide terminal it has half):
  // where it was learned in full from 76 columns, the address as wide as the longest one needs
  // (a full IPv6 address with its port is 47), the client whatever is left.
  const wide = width >= 76;
  const learned = wide ? 9 : 4;
  const longest = Math.max(...peers.map((p) => [...p.address].length)) + 1;
  const rest = width - (2 + 1 + 8 + 1 + 8 + 1 + 5 + 1 + 7 + learned);
  const addr = Math.max(14, Math.min(longest, rest - 12));
  const client = Math.max(8, Math.min(24, rest - addr));
  const lines = peerLines(peers);
  const body = height - 1;
  const start = Math.min(scroll, Math.max(0, lines.length - body));
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate">
        {`  ${cell('Address', addr)}${cell('Client', client)} ${cell('Down', 8, true)} ${cell('Up', 8, true)} ${cell('Have', 5, true)} ${cell('Flags', 7)} ${wide ? cell('Learned', 8) : cell('From', 3)}`}
      </Text>
      {lines.slice(start, start + body).map((l, i) =>
        l.kind === 'group' ? (
          <Text key={`g${l.via}`} bold color={viaColor(l.via, t)} wrap="truncate">
            {`${VIA_LABEL[l.via]} — ${l.count} peer${l.count === 1 ? '' : 's'}`}
          </Text>
        ) : (
          <Text key={`${l.peer!.address}${i}`} wrap="truncate">
            <Text color={viaColor(l.via, t)}>{`  ${cell(l.peer!.address, addr - 1, false, true)} `}</Text>
            {cell(l.peer!.client, client)} <Text color={t.down}>{cell(shortRate(l.peer!.downRate), 8, true)}</Text>{' '}
            <Text color={t.up}>{cell(shortRate(l.peer!.upRate), 8, true)}</Text> {cell(`${Math.floor(l.peer!.progress * 100)}%`, 5, true)}{' '}
            {cell(peerFlags(l.peer!), 7)} {wide ? cell(l.peer!.source, 8) : cell(l.peer!.source.slice(0, 3), 3)}
          </Text>
        ),
      )}
    </Box>
  );
}
