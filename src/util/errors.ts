/**
 * Errors that carry the process exit code the CLI should use. Anything else that escapes a
 * command is a runtime failure (exit 1).
 */

/** Bad command line or bad input (a malformed torrent, an unsafe path): exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Bad input data (torrent, magnet, config file): exit code 2, like usage errors. */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
