/**
 * Connected peers, split by how the connection runs: native IPv6, IPv6 through our tunnel, and
 * IPv4. Flags: D downloading from it (u/d lower case: interested but choked), U uploading to it,
 * E encrypted, T over uTP, "in" it connected to us; then where its address was learned. The torrent's web
 * seeds follow as a group of their own: state, rate, failures and the last one.
 */
import { Box, Text } from 'ink';
import type { PeerStatus, WebSeedStatus } from '../../src/status/feed.js';
import { cell, shortRate, shortSize } from './format.js';
import { peerFlags, peerLines, VIA_LABEL, type PeerLine } from './peer-lines.js';
import { useTheme, type Theme } from './theme.js';

export function viaColor(via: PeerStatus['via'], t: Theme): string | undefined {
  return via === 'ipv4' ? t.v4 : via === 'tunnel' ? t.tunnel : t.v6;
}

/** The panel's lines: the peers' (peer-lines.ts), then the web seeds'. */
type PanelLine = PeerLine | { kind: 'web-group'; count: number } | { kind: 'web-seed'; seed: WebSeedStatus };

/** A web seed's state in a few words: waiting says for how long, a connection says its family. */
export function webSeedState(w: WebSeedStatus): string {
  if (w.state === 'waiting') return `waiting ${w.retryIn ?? 0}s`;
  if (w.state === 'downloading' || w.state === 'connecting') return `${w.state}${w.family ? ` v${w.family}` : ''}`;
  return w.state;
}

/** The peers' lines, then the web seeds, if any, as the torrent lists them. */
function panelLines(peers: readonly PeerStatus[], webSeeds: readonly WebSeedStatus[]): PanelLine[] {
  const out: PanelLine[] = peerLines(peers);
  if (webSeeds.length > 0) out.push({ kind: 'web-group', count: webSeeds.length });
  for (const seed of webSeeds) out.push({ kind: 'web-seed', seed });
  return out;
}

export function PeersPanel({ peers, webSeeds = [], width, height, scroll }: { peers: readonly PeerStatus[]; webSeeds?: readonly WebSeedStatus[]; width: number; height: number; scroll: number }) {
  const t = useTheme();
  if (peers.length === 0 && webSeeds.length === 0) {
    return (
      <Box flexDirection="column" height={height}>
        <Text wrap="truncate">No peers connected.</Text>
      </Box>
    );
  }
  // Columns from the panel's own width (beside the trackers on a wide terminal it has half):
  // where it was learned in full from 76 columns, the address as wide as the longest one needs
  // (a full IPv6 address with its port is 47; a web seed's URL), the client whatever is left.
  const wide = width >= 76;
  const learned = wide ? 9 : 4;
  const longest = Math.max(...peers.map((p) => [...p.address].length), ...webSeeds.map((w) => [...w.url].length)) + 1;
  const rest = width - (2 + 1 + 8 + 1 + 8 + 1 + 5 + 1 + 8 + learned);
  // A web seed's state ("downloading v6") sits in the client column.
  const minClient = webSeeds.length > 0 ? 15 : 12;
  const addr = Math.max(14, Math.min(longest, rest - minClient));
  const client = Math.max(8, Math.min(24, rest - addr));
  const lines = panelLines(peers, webSeeds);
  const body = height - 1;
  const start = Math.min(scroll, Math.max(0, lines.length - body));
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate">
        {`  ${cell('Address', addr)}${cell('Client', client)} ${cell('Down', 8, true)} ${cell('Up', 8, true)} ${cell('Have', 5, true)} ${cell('Flags', 8)} ${wide ? cell('Learned', 8) : cell('From', 3)}`}
      </Text>
      {lines.slice(start, start + body).map((l, i) => {
        if (l.kind === 'group') {
          return (
            <Text key={`g${l.via}`} bold color={viaColor(l.via, t)} wrap="truncate">
              {`${VIA_LABEL[l.via]} — ${l.count} peer${l.count === 1 ? '' : 's'}`}
            </Text>
          );
        }
        if (l.kind === 'web-group') {
          return (
            <Text key="gweb" bold wrap="truncate">
              {`Web seeds — ${l.count}`}
            </Text>
          );
        }
        if (l.kind === 'web-seed') {
          const w = l.seed;
          const bad = w.state === 'failed' || w.state === 'banned';
          const failures = w.failures > 0 ? `${w.failures} failed${w.lastError ? `: ${w.lastError}` : ''}` : `${shortSize(w.downloaded)} in all`;
          return (
            <Text key={`w${w.url}${i}`} wrap="truncate">
              {`  ${cell(w.url, addr - 1, false, true)} `}
              <Text color={bad ? t.error : w.state === 'waiting' ? t.warn : undefined}>{cell(webSeedState(w), client)}</Text>{' '}
              <Text color={t.down}>{cell(shortRate(w.downRate), 8, true)}</Text>{' '}
              <Text color={w.failures > 0 ? t.warn : undefined}>{failures}</Text>
            </Text>
          );
        }
        const p = l.peer!;
        return (
          <Text key={`${p.address}${i}`} wrap="truncate">
            <Text color={viaColor(l.via, t)}>{`  ${cell(p.address, addr - 1, false, true)} `}</Text>
            {cell(p.client, client)} <Text color={t.down}>{cell(shortRate(p.downRate), 8, true)}</Text>{' '}
            <Text color={t.up}>{cell(shortRate(p.upRate), 8, true)}</Text> {cell(`${Math.floor(p.progress * 100)}%`, 5, true)}{' '}
            {cell(peerFlags(p), 8)} {wide ? cell(p.source, 8) : cell(p.source.slice(0, 3), 3)}
          </Text>
        );
      })}
    </Box>
  );
}
