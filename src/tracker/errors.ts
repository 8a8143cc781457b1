/** Tracker failures, classified so the scheduler can tell "unreachable over this family" apart. */

export class TrackerError extends Error {
  /**
   * The tracker could not be reached over the family tried (no address of that family, connection
   * refused, no route, no UDP reply at all): BEP 7 `ipv4=`/`ipv6=` may then be sent over the other family.
   */
  readonly unreachable: boolean;
  /** No (complete) reply came within the time allowed: the tracker may be there but silent. */
  readonly timedOut: boolean;
  /** The socket or DNS error code behind it (ECONNREFUSED, ENETUNREACH, ENOTFOUND ...), when there was one. */
  readonly code: string | undefined;
  constructor(message: string, opts: { unreachable?: boolean; timedOut?: boolean; code?: string } = {}) {
    super(message);
    this.name = 'TrackerError';
    this.unreachable = opts.unreachable ?? false;
    this.timedOut = opts.timedOut ?? false;
    this.code = opts.code;
  }
}

const UNREACHABLE_CODES = new Set([
  'ENOTFOUND', 'EAI_AGAIN', 'EAI_NODATA', 'EAI_NONAME', 'EAI_ADDRFAMILY',
  'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'ENETDOWN', 'EHOSTDOWN',
]);

/** Turn a socket or DNS error into a TrackerError with a readable message. */
export function toTrackerError(e: unknown, what: string): TrackerError {
  if (e instanceof TrackerError) return e;
  const code = (e as { code?: unknown }).code;
  const msg = e instanceof Error ? e.message : String(e);
  if (typeof code !== 'string') return new TrackerError(`${what}: ${msg}`);
  return new TrackerError(`${what}: ${msg}`, { unreachable: UNREACHABLE_CODES.has(code), code });
}
