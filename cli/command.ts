/** The shape every subcommand module exports, and its --help built around its option table; main.ts only dispatches. */
import { renderOptions, without, type OptionTable } from './option-table.js';

export interface Command {
  name: string;
  /** One line for the command list in `sixswarm --help`. */
  summary: string;
  /** The "Usage:" lines: the top of --help, repeated under a message about an unknown option. */
  usage: string;
  /** Every option it takes (and --help): its parser, the Options block of its --help and "did you mean" come from here. */
  options: OptionTable;
  /** Full help for `sixswarm <name> --help`: usage, what it does, every option, exit codes, examples. */
  help: string;
  /** Runs the command; resolves to the process exit code (0 done, 1 runtime failure, 2 bad usage/input). */
  run(argv: string[]): Promise<number>;
}

export interface CommandSpec extends Omit<Command, 'help'> {
  /** What --help says between the usage lines and the options. */
  about: string;
  /** The options most people need, listed first ("Options people use most:"), the others after them ("More options:"). */
  common?: readonly string[];
  /** What --help says after the options: exit codes, limits, examples. */
  notes: string;
}

/** `usage`, a blank line, `about`, the options (the common ones first), a blank line, `notes`. */
export function helpText(spec: Pick<CommandSpec, 'usage' | 'about' | 'options' | 'notes' | 'common'>): string {
  const { common } = spec;
  if (!common) return `${spec.usage}\n\n${spec.about}\n\nOptions:\n${renderOptions(spec.options)}\n\n${spec.notes}`;
  const first = Object.fromEntries(common.map((name) => [name, spec.options[name]!]));
  return (
    `${spec.usage}\n\n${spec.about}\n\nOptions people use most:\n${renderOptions(first, { help: false })}\n\n` +
    `More options:\n${renderOptions(without(spec.options, common))}\n\n${spec.notes}`
  );
}

export function command(spec: CommandSpec): Command {
  for (const name of spec.common ?? []) if (!Object.hasOwn(spec.options, name)) throw new Error(`${spec.name}: --${name} is listed as common but is no option`);
  return { name: spec.name, summary: spec.summary, usage: spec.usage, options: spec.options, help: helpText(spec), run: spec.run };
}
