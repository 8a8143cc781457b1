/**
 * The one error type every port-mapping protocol throws: which protocol, what kind of failure,
 * the gateway's code and a sentence a user can act on. `retryAfterMs` carries a gateway's own
 * hint (a PCP error's lifetime) or our backoff for it.
 */
import type { FailureKind, PortMapProtocol } from './types.js';

export class PortMapError extends Error {
  readonly protocol: PortMapProtocol;
  readonly kind: FailureKind;
  readonly code: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(protocol: PortMapProtocol, kind: FailureKind, message: string, opts: { code?: number; retryAfterMs?: number } = {}) {
    super(message);
    this.name = 'PortMapError';
    this.protocol = protocol;
    this.kind = kind;
    this.code = opts.code;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Any thrown value as a PortMapError of `protocol` (socket errors become `unreachable`). */
export function toPortMapError(e: unknown, protocol: PortMapProtocol): PortMapError {
  if (e instanceof PortMapError) return e;
  return new PortMapError(protocol, 'unreachable', e instanceof Error ? e.message : String(e));
}
