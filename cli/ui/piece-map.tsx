/**
 * The pieces as a compact map: each cell is a run of pieces, shaded by the share of them we have
 * verified; below it the same cells as a heat map of their availability in the swarm (how many
 * connected peers have them, on average): from red (nobody, or one peer: rare) to green (many).
 * The shade of each cell says the same without colour (NO_COLOR): · none, ░ one, ▒ two or
 * three, ▓ four to nine, █ ten or more.
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

/** Availability bands: the least mean availability of each (in whole peers), its shade, and what the legend says; index + 1 is its heat colour. */
const BANDS = [
  { from: 1, char: '░', says: '1' },
  { from: 2, char: '▒', says: '2-3' },
  { from: 4, char: '▓', says: '4-9' },
  { from: 10, char: '█', says: '10+' },
] as const;

/** The heat level of a mean availability: 0 nobody connected has it, then 1-4 by band (0.6 counts as one peer). */
export function heatLevel(mean: number): number {
  if (mean <= 0) return 0;
  const n = Math.max(1, Math.round(mean));
  let level = 0;
  BANDS.forEach((b, i) => {
    if (n >= b.from) level = i + 1;
  });
  return level;
}

/** A cell's shade: · nobody connected has it, then ░ ▒ ▓ █ for more peers. */
export function availabilityChar(mean: number): string {
  const level = heatLevel(mean);
  return level === 0 ? '·' : BANDS[level - 1]!.char;
}

/** A row of cells as runs of one heat level each (few Text elements, not one per cell). */
function runs(cells: readonly number[]): { text: string; level: number }[] {
  const out: { text: string; level: number }[] = [];
  for (const mean of cells) {
    const level = heatLevel(mean);
    const last = out.at(-1);
    if (last && last.level === level) last.text += availabilityChar(mean);
    else out.push({ text: availabilityChar(mean), level });
  }
  return out;
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
  const each = Math.max(1, Math.floor((height - 2) / 2));
  const availRows: number[][] = [];
  for (let i = 0; i < map.availability.length; i += w) availRows.push(map.availability.slice(i, i + w));
  const legend = [{ char: '·', says: 'none' }, ...BANDS];
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate">{`Pieces: ${have} of ${pieces} verified${perCell > 1 ? `, ${perCell} per cell` : ''} (█ have, ░▒▓ part, · missing)`}</Text>
      {haveRows.slice(0, each).map((r, i) => (
        <Text key={`h${i}`} color={t.ok} wrap="truncate">{`  ${r}`}</Text>
      ))}
      <Text wrap="truncate">
        <Text bold>Availability, peers that have them:</Text>
        {legend.map((l, level) => (
          <Text key={l.char}>
            {' '}
            <Text color={t.heat?.[level]}>{l.char}</Text>
            {` ${l.says}`}
          </Text>
        ))}
      </Text>
      {availRows.slice(0, each).map((r, i) => (
        <Text key={`a${i}`} wrap="truncate">
          {'  '}
          {runs(r).map((run, j) => (
            <Text key={j} color={t.heat?.[run.level]}>{run.text}</Text>
          ))}
        </Text>
      ))}
    </Box>
  );
}
