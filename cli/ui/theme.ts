/** The terminal UI's look, shared by every ink view: one colour per verdict. */
import type { Verdict } from '../../src/tracker-check/report.js';

export const VERDICT_COLOR: Record<Verdict, string> = {
  pass: 'green',
  fail: 'red',
  'n/a': 'gray',
  skipped: 'yellow',
};
