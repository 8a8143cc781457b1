/** A bad command line: the CLI exits with code 2 (as for bad input, src/util/errors.ts InputError). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
