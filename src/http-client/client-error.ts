/** What went wrong with an HTTP exchange, by kind, so callers can decide what to do (retry, back off, give up). */

export type HttpClientErrorKind =
  /** No connection: refused, unreachable, name not found, or no address of an enabled family. */
  | 'connect'
  /** TLS handshake or certificate failure. */
  | 'tls'
  /** No answer, or no progress, within the time allowed. */
  | 'timeout'
  /** The server broke the protocol: a malformed head, bad framing, bytes outside a response. */
  | 'protocol'
  /** A body larger than the caller takes. */
  | 'too-large'
  /** The connection ended before the response did. */
  | 'closed';

export class HttpClientError extends Error {
  constructor(
    message: string,
    readonly kind: HttpClientErrorKind,
  ) {
    super(message);
    this.name = 'HttpClientError';
  }
}
