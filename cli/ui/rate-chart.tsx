/** Down and up rate history as braille area charts: 2 samples per column, 4 levels per row. */
import { Box, Text } from 'ink';
import type { RateHistory } from './state.js';
import { cell, shortRate } from './format.js';
import { useTheme } from './theme.js';

/** Dot bits of a braille cell, [column][row from the top]. */
const DOTS = [
  [0x01, 0x02, 0x04, 0x40],
  [0x08, 0x10, 0x20, 0x80],
];

/**
 * `values` (newest last) as `height` lines of `width` braille characters, scaled to `max`: the
 * newest sample at the right edge, missing older ones blank. Any value above 0 shows a dot.
 */
export function brailleChart(values: readonly number[], width: number, height: number, max: number): string[] {
  const cols = width * 2;
  const recent = values.slice(-cols);
  const samples = [...new Array<number>(cols - recent.length).fill(0), ...recent];
  const dots = height * 4;
  const level = samples.map((v) => (v <= 0 || max <= 0 ? 0 : Math.max(1, Math.round(Math.min(1, v / max) * dots))));
  const lines: string[] = [];
  for (let r = 0; r < height; r++) {
    let line = '';
    for (let c = 0; c < width; c++) {
      let bits = 0;
      for (let side = 0; side < 2; side++) {
        const l = level[c * 2 + side]!;
        for (let d = 0; d < 4; d++) if (l >= (height - 1 - r) * 4 + (3 - d) + 1) bits |= DOTS[side]![d]!;
      }
      line += String.fromCharCode(0x2800 + bits);
    }
    lines.push(line);
  }
  return lines;
}

const LABEL = 13;

function Series({ name, arrow, values, limit, width, height, color }: { name: string; arrow: string; values: readonly number[]; limit: number | null; width: number; height: number; color: string | undefined }) {
  const max = Math.max(0, ...values);
  const now = values[values.length - 1] ?? 0;
  const lines = brailleChart(values, Math.max(1, width - LABEL), height, max);
  // The chart's scale is its highest sample ("peak"), not a limit; the limit, if any, is said as such.
  const labels = [`${arrow} ${shortRate(now)}`, `peak ${shortRate(max)}`, limit ? `limit ${shortRate(limit)}` : name];
  return (
    <>
      {lines.map((l, i) => (
        <Text key={i} wrap="truncate">
          <Text color={color} bold={i === 0}>{cell(labels[i] ?? '', LABEL - 1)} </Text>
          <Text color={color}>{l}</Text>
        </Text>
      ))}
    </>
  );
}

/** Both series stacked in `height` rows (down gets the extra row); `limits` are the rate limits in force, shown beside them. */
export function RateChart({ history, limits, width, height }: { history: RateHistory | undefined; limits?: { down: number | null; up: number | null }; width: number; height: number }) {
  const t = useTheme();
  const down = Math.ceil(height / 2), up = Math.floor(height / 2);
  return (
    <Box flexDirection="column" height={height}>
      {down > 0 ? <Series name="download" arrow="↓" values={history?.down ?? []} limit={limits?.down ?? null} width={width} height={down} color={t.down} /> : null}
      {up > 0 ? <Series name="upload" arrow="↑" values={history?.up ?? []} limit={limits?.up ?? null} width={width} height={up} color={t.up} /> : null}
    </Box>
  );
}
