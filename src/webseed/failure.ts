/**
 * Why a web seed request failed, by kind, with what the seed's owner should do about it: back
 * off and retry, drop one file from this seed, or give the seed up.
 */

export type FailureKind =
  /** No connection (refused, unreachable, no such host). */
  | 'connect'
  /** The TLS handshake or the certificate failed. */
  | 'tls'
  /** No response in time, or the body stopped. */
  | 'timeout'
  /** The body came too slowly to finish within the request's time. */
  | 'slow'
  /** The connection closed before the response was complete. */
  | 'closed'
  /** A malformed response, or bytes where none belong. */
  | 'protocol'
  /** More bytes than asked for. */
  | 'too-much'
  /** An HTTP error status (5xx, or a 4xx that is no "not found"). */
  | 'status'
  /** 503 or 429: busy, come back later (Retry-After honoured). */
  | 'busy'
  /** The file is not on this seed (404, 410, 403, 401, or a range past its end). */
  | 'missing'
  /** The server's file is not the torrent's (another size). */
  | 'mismatch'
  /** The server ignores Range requests (a whole file where a part was asked for). */
  | 'no-ranges'
  /** Too many redirects, or a redirect loop. */
  | 'redirects';

export class WebSeedFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly extra: {
      /** The file it is about (BEP 19: a file missing or mismatched is dropped from this seed, not the seed). */
      file?: number;
      /** How long the server asked us to wait. */
      retryAfterMs?: number;
    } = {},
  ) {
    super(message);
    this.name = 'WebSeedFailure';
  }

  /** Retrying cannot help: the seed (or, with `file`, that file of it) is given up for this session. */
  get permanent(): boolean {
    return this.kind === 'missing' || this.kind === 'mismatch' || this.kind === 'no-ranges';
  }
}
