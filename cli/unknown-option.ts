/**
 * One message for an unknown option, whatever the command: the option, the nearest valid one
 * ("did you mean --exit-on-complete?") and the command's usage lines. The valid options are the
 * option table the parser used, the one the command's --help comes from too, so no command needs
 * code of its own for this.
 */
import { longOptions, type OptionTable } from './option-table.js';

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

/**
 * The whole message for an unknown option given to `sixswarm <name>` (to `sixswarm` itself without
 * a name), when the valid options were `among` (the command's table; for `config`, the table of the
 * command whose settings it shows).
 */
export function unknownOptionMessage(command: { name?: string; usage: string }, given: string, among: OptionTable): string {
  const near = nearestOption(given, longOptions(among));
  const name = command.name ? `sixswarm ${command.name}` : 'sixswarm';
  return [`${name}: unknown option ${given}${near ? `; did you mean ${near}?` : ''}`, command.usage, `Run \`${name} --help\` for every option.`].join('\n');
}
