/**
 * How long a busy server asks us to wait: RFC 9110's Retry-After (seconds, or an HTTP date), or a
 * BEP 17 script's 503 body (seconds as digits). Bounded: a server cannot make us wait less than
 * a second or more than an hour, nor hand us a number that is no duration.
 */

export const MIN_RETRY_MS = 1000;
export const MAX_RETRY_MS = 3600_000;

const clamp = (ms: number) => Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, ms));

/** Milliseconds to wait, or undefined when `value` says nothing usable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return clamp(Number(text) * 1000);
  // An HTTP date has a weekday and a zone; anything Date.parse reads loosely otherwise is refused.
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : clamp(at - now);
}

/** A BEP 17 busy reply's body: the seconds to wait, as digits (whitespace around allowed). */
export function parseBusyBody(body: Buffer): number | undefined {
  return parseRetryAfter(body.toString('latin1'));
}
