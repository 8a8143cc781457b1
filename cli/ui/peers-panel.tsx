/**
 * Connected peers, split by how the connection runs: native IPv6, IPv6 through our tunnel, and
 * IPv4. Flags: D downloading from it (u/d lower case: interested but choked), U uploading to it,
 * E encrypted, "in" it connected to us; then where its address was learned.
 */
import { Box, Text } from 'ink';
import type { PeerStatus } from '../../src/status/feed.js';
import { cell, shortRate } from './format.js';
import { peerFlags, peerLines, VIA_LABEL } from './peer-lines.js';
import { useTheme, type Theme } from './theme.js';

export function viaColor(via: PeerStatus['via'], t: Theme): string | undefined {
  return via === 'ipv4' ? t.v4 : via === 'tunnel' ? t.tunnel : t.v6;
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
  const wide = width >= 110;
  const client = wide ? 22 : 14;
  const fixed = 2 + client + 1 + 8 + 1 + 8 + 1 + 5 + 1 + 7 + (wide ? 9 : 4);
  const addr = Math.max(14, width - fixed);
  const lines = peerLines(peers);
  const body = height - 1;
  const start = Math.min(scroll, Math.max(0, lines.length - body));
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate">
        {`  ${cell('Address', addr)}${cell('Client', client)} ${cell('Down', 8, true)} ${cell('Up', 8, true)} ${cell('Have', 5, true)} ${cell('Flags', 7)} ${wide ? cell('Learned', 8) : cell('Src', 3)}`}
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
