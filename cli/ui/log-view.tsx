/**
 * The log (l): every message of this run, newest at the bottom, with its time and level, wrapped
 * to the width (the message line cuts them). The marks say the level without colour too.
 */
import { Box, Text } from 'ink';
import type { Level, Message } from './state.js';
import type { Theme } from './theme.js';
import { useTheme } from './theme.js';
import { printable } from '../../src/util/sanitize.js';

export const LEVEL_MARK: Record<Level, string> = { error: '✗', warning: '!', info: '·' };

export function levelColor(level: Level, t: Theme): string | undefined {
  return level === 'error' ? t.error : level === 'warning' ? t.warn : undefined;
}

/** "12:03:07" in local time. */
function clock(at: number): string {
  const d = new Date(at);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** `text` in lines of at most `width` characters, broken at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let rest = printable(text);
  while ([...rest].length > width) {
    const chars = [...rest];
    let cut = chars.lastIndexOf(' ', width);
    if (cut <= 0) cut = width;
    out.push(chars.slice(0, cut).join('').trimEnd());
    rest = chars.slice(cut).join('').trimStart();
  }
  out.push(rest);
  return out;
}

const PREFIX = 8 + 1 + 2 + 8; // "12:03:07 ! warning "

/** `scroll`: lines up from the newest. */
export function LogView({ log, scroll, width, height }: { log: readonly Message[]; scroll: number; width: number; height: number }) {
  const t = useTheme();
  const body = height - 1;
  const lines: { key: string; level: Level; text: string }[] = [];
  log.forEach((m, i) => {
    const head = `${clock(m.at)} ${LEVEL_MARK[m.kind]} ${m.kind.padEnd(7)} `;
    wrap(m.text, Math.max(10, width - PREFIX)).forEach((part, j) => lines.push({ key: `${i}.${j}`, level: m.kind, text: `${j === 0 ? head : ' '.repeat(PREFIX)}${part}` }));
  });
  const end = Math.max(0, lines.length - Math.min(scroll, Math.max(0, lines.length - body)));
  const shown = lines.slice(Math.max(0, end - body), end);
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate">{`Log: ${log.length} message${log.length === 1 ? '' : 's'} of this run${end < lines.length ? ` (${lines.length - end} lines below; ↓ scrolls)` : ''}`}</Text>
      {log.length === 0 ? <Text wrap="truncate">Nothing yet: warnings, errors and notices show here as they come.</Text> : null}
      {shown.map((l) => (
        <Text key={l.key} color={levelColor(l.level, t)} wrap="truncate">{l.text}</Text>
      ))}
    </Box>
  );
}
