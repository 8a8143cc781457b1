/**
 * The one error kind the engine reports that is the user's to fix rather than a failure: bad
 * input. What that means for a process (its exit code) is the CLI's business (cli/main.ts).
 */

/** Bad input data: a malformed torrent, magnet or config file, an unsafe path, a selection that does not fit. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
