/** Resolve a tracker host for ONE address family (BEP 7: one announce per family). */
import { lookup } from 'node:dns/promises';
import { classify, type Family } from '../net/address.js';
import { TrackerError } from './errors.js';
import type { TrackerUrl } from './url.js';

/** Every failure here means "not reachable over this family" (BEP 7 `ipv4=`/`ipv6=` may then help). */
export async function resolveFor(t: TrackerUrl, family: Family, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  return (await resolveAllFor(t, family, timeoutMs, signal))[0]!;
}

/** Every usable address of `family` the host has, in resolver order (at least one, or a TrackerError). */
export async function resolveAllFor(t: TrackerUrl, family: Family, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
  if (t.literalFamily) {
    if (t.literalFamily === family) return [t.host];
    throw new TrackerError(`${t.host} is an IPv${t.literalFamily} address: no IPv${family} announce possible`, { unreachable: true });
  }
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  // getaddrinfo cannot be cancelled; the race bounds how long an announce waits for it.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TrackerError(`resolving ${t.host} for IPv${family} timed out`, { unreachable: true, timedOut: true })), timeoutMs);
    onAbort = () => reject(new TrackerError('cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const found = await Promise.race([lookup(t.host, { family, all: true }), deadline]);
    const usable: string[] = [];
    for (const r of found) {
      const c = classify(r.address);
      if (c && c.family === family && c.kind !== 'v4-mapped' && c.kind !== 'unspecified' && !usable.includes(c.text)) usable.push(c.text);
    }
    if (usable.length === 0) {
      throw new TrackerError(`${t.host} has no usable IPv${family} address (got ${found.map((r) => r.address).join(', ')})`, { unreachable: true });
    }
    return usable;
  } catch (e) {
    if (e instanceof TrackerError) throw e;
    const code = (e as { code?: string }).code;
    throw new TrackerError(`${t.host} has no IPv${family} address (${code ?? (e instanceof Error ? e.message : String(e))})`, { unreachable: true, ...(code ? { code } : {}) });
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
