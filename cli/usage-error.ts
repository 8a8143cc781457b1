/** A bad command line: the CLI exits with code 2 (as for bad input, src/util/errors.ts InputError). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A bad value of one option (`--port must be a whole number ...`). The value may have come from
 * the config file rather than the command line: the CLI then names the file and key instead
 * (cli/config-options.ts).
 */
export class OptionValueError extends UsageError {
  constructor(
    /** The option, with its dashes: --port. */
    readonly option: string,
    /** What is wrong, to follow the option's name: `must be a whole number from 0 to 65535, got "x"`. */
    readonly problem: string,
    message = `${option} ${problem}`,
  ) {
    super(message);
    this.name = 'OptionValueError';
  }
}
