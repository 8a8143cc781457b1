/** The shape every subcommand module exports, and its --help built around its option table; main.ts only dispatches. */
import { renderOptions, type OptionTable } from './option-table.js';

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
  /** What --help says after the options: exit codes, limits, examples. */
  notes: string;
}

/** `usage`, a blank line, `about`, the options, a blank line, `notes`. */
export function helpText(spec: Pick<CommandSpec, 'usage' | 'about' | 'options' | 'notes'>): string {
  return `${spec.usage}\n\n${spec.about}\n\nOptions:\n${renderOptions(spec.options)}\n\n${spec.notes}`;
}

export function command(spec: CommandSpec): Command {
  return { name: spec.name, summary: spec.summary, usage: spec.usage, options: spec.options, help: helpText(spec), run: spec.run };
}
