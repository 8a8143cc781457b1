/**
 * The pieces as a compact map: each cell is a run of pieces, shaded by the share of them we have
 * verified; below it the same cells by their availability in the swarm (how many connected
 * peers have them, on average).
 */
import { Box, Text } from 'ink';
import type { PieceMap } from '../../src/status/feed.js';
import { useTheme } from './theme.js';

const HAVE = [' ', '░', '▒', '▓', '█'];

export function haveChar(share: number): string {
  if (share >= 1) return HAVE[4]!;
  if (share <= 0) return '·';
  return HAVE[Math.min(3, 1 + Math.floor(share * 3))]!;
}

/** 0-9 peers as a digit, more as +; none as a dot (nobody connected has it). */
export function availabilityChar(mean: number): string {
  if (mean <= 0) return '·';
  const n = Math.round(mean);
  return n >= 10 ? '+' : String(Math.max(1, n));
}

/** How many cells a map of `width` x `height` lines shows (half for what we have, half for availability). */
export function pieceCells(width: number, height: number): number {
  return Math.max(1, (width - 2) * Math.max(1, Math.floor((height - 2) / 2)));
}

function rows(chars: string[], width: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += width) out.push(chars.slice(i, i + width).join(''));
  return out;
}

export function PieceMapPanel({ map, pieces, have, width, height }: { map: PieceMap; pieces: number; have: number; width: number; height: number }) {
  const t = useTheme();
  const w = Math.max(1, width - 2);
  const perCell = map.cells > 0 ? Math.ceil(pieces / map.cells) : 0;
  const haveRows = rows(map.have.map(haveChar), w);
  const availRows = rows(map.availability.map(availabilityChar), w);
  const each = Math.max(1, Math.floor((height - 2) / 2));
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate">{`Pieces: ${have} of ${pieces} verified${perCell > 1 ? `, ${perCell} per cell` : ''} (█ have, ░▒▓ part, · missing)`}</Text>
      {haveRows.slice(0, each).map((r, i) => (
        <Text key={`h${i}`} color={t.ok} wrap="truncate">{`  ${r}`}</Text>
      ))}
      <Text bold wrap="truncate">Availability: peers that have them (· none, 1-9, + ten or more)</Text>
      {availRows.slice(0, each).map((r, i) => (
        <Text key={`a${i}`} color={t.accent} wrap="truncate">{`  ${r}`}</Text>
      ))}
    </Box>
  );
}
