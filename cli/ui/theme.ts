/**
 * The terminal UI's look, shared by every ink view: one colour per verdict, per direction and per
 * address family. With NO_COLOR set (https://no-color.org) there are no colours at all; what a
 * colour says is then also said by a character or a word (bars, ✓/✗, v4/v6 labels).
 */
import { createContext, useContext } from 'react';
import type { Verdict } from '../../src/tracker-check/report.js';

export const VERDICT_COLOR: Record<Verdict, string> = {
  pass: 'green',
  fail: 'red',
  'n/a': 'gray',
  skipped: 'yellow',
  policy: 'cyan',
};

export interface Theme {
  down?: string;
  up?: string;
  v4?: string;
  v6?: string;
  tunnel?: string;
  ok?: string;
  warn?: string;
  error?: string;
  accent?: string;
  muted?: string;
}

const COLOURS: Theme = {
  down: 'green',
  up: 'cyan',
  v4: 'yellow',
  v6: 'magenta',
  tunnel: 'blueBright',
  ok: 'green',
  warn: 'yellow',
  error: 'red',
  accent: 'blue',
  muted: 'gray',
};

/** No colour when NO_COLOR is set to anything but the empty string. */
export function themeFor(env: NodeJS.ProcessEnv = process.env): Theme {
  return env.NO_COLOR ? {} : COLOURS;
}

export const ThemeContext = createContext<Theme>(COLOURS);

export function useTheme(): Theme {
  return useContext(ThemeContext);
}
