/**
 * One message for an unknown option, whatever the command: the option, the nearest valid one
 * ("did you mean --exit-on-complete?") and the command's usage line. The valid options are read
 * from the command's --help text, which lists every one of them (a rule of this CLI), so no
 * command needs code of its own for this.
 */

/** What Node's parseArgs says about an unknown option (wrapped in our UsageError or not). */
const UNKNOWN = /^Unknown option '(-{1,2}[^']*)'/;

/** The unknown option named by a parser error, if that is what it is. */
export function unknownOption(e: unknown): string | undefined {
  const message = e instanceof Error ? e.message : '';
  return UNKNOWN.exec(message)?.[1];
}

/** The long options a help text lists, one per option line ("  -o, --output DIR  ..."). */
export function helpOptions(help: string): string[] {
  const out = new Set<string>();
  for (const line of help.split('\n')) {
    const m = /^\s{2,}(?:-\w,\s+)?(--[a-z0-9][a-z0-9-]*)/.exec(line);
    if (m) out.add(m[1]!);
  }
  return [...out];
}

/** The usage lines at the top of a help text (up to the first blank line). */
export function usageLines(help: string): string {
  const lines = help.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Usage:'));
  if (start < 0) return '';
  const end = lines.findIndex((l, i) => i > start && l.trim() === '');
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The valid option closest to `given`: the only one it begins, else the nearest by edit distance, if near enough. */
export function nearestOption(given: string, valid: string[]): string | undefined {
  const name = given.replace(/=.*$/, '');
  const prefixed = valid.filter((v) => v.startsWith(name) && name.length >= 4);
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestD = Infinity;
  for (const v of valid) {
    const d = distance(name, v);
    if (d < bestD) [best, bestD] = [v, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 4)) ? best : undefined;
}

/** The whole message for `sixswarm <command>` given an unknown option. */
export function unknownOptionMessage(command: string, help: string, given: string): string {
  const near = nearestOption(given, helpOptions(help));
  const usage = usageLines(help);
  return [
    `sixswarm ${command}: unknown option ${given}${near ? `; did you mean ${near}?` : ''}`,
    ...(usage ? [usage] : []),
    `Run \`sixswarm ${command} --help\` for every option.`,
  ].join('\n');
}
