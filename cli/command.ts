/** The shape every subcommand module exports; main.ts only dispatches. */
export interface Command {
  name: string;
  /** One line for the command list in `sixswarm --help`. */
  summary: string;
  /** Full help for `sixswarm <name> --help`: usage line, every option, examples. */
  help: string;
  /** Runs the command; resolves to the process exit code (0 done, 1 runtime failure, 2 bad usage/input). */
  run(argv: string[]): Promise<number>;
}
