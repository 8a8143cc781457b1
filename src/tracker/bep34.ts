/**
 * BEP 34: a host name's DNS TXT records saying whether, and on which ports and protocols, it runs
 * a tracker ("BITTORRENT UDP:1234 TCP:80", in order of preference, or "BITTORRENT DENY").
 */
import { Resolver } from 'node:dns/promises';
import { printable } from '../util/sanitize.js';
import { TrackerError } from './errors.js';

export interface Bep34Entry {
  protocol: 'udp' | 'tcp';
  port: number;
}

/** What one BITTORRENT record says. */
export type Bep34Policy = { deny: true } | { deny: false; entries: Bep34Entry[] };

/** A TXT string as a BEP 34 record: undefined when it is no BITTORRENT record, an Error when it is a malformed one. */
export function parseBep34(txt: string): Bep34Policy | Error | undefined {
  const words = txt.trim().split(/\s+/);
  if (words[0]?.toUpperCase() !== 'BITTORRENT') return undefined;
  const rest = words.slice(1);
  if (rest.length === 1 && rest[0]!.toUpperCase() === 'DENY') return { deny: true };
  const entries: Bep34Entry[] = [];
  for (const w of rest) {
    const m = /^(UDP|TCP):(\d{1,5})$/i.exec(w);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) return new Error(`"${printable(w, 40)}" is neither UDP:port, TCP:port nor DENY`);
    entries.push({ protocol: m[1]!.toLowerCase() as 'udp' | 'tcp', port });
  }
  // "BITTORRENT" alone names no port: no tracker, as DENY says explicitly (BEP 34).
  return entries.length === 0 ? { deny: true } : { deny: false, entries };
}

export interface Bep34Lookup {
  /** The BITTORRENT records as published (printable), in DNS order. */
  records: string[];
  /** What the first well-formed record says; undefined when the name has none. */
  policy?: Bep34Policy;
  /** Why each malformed BITTORRENT record was not understood. */
  malformed: string[];
}

/** Resolver answers that mean "the name has no TXT record" rather than "no answer". */
const NO_TXT = new Set(['ENODATA', 'ENOTFOUND']);

/** The BEP 34 records of `host`, bounded by `timeoutMs`; a TrackerError when the lookup itself failed. */
export async function lookupBep34(host: string, timeoutMs: number, signal?: AbortSignal): Promise<Bep34Lookup> {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  const onAbort = () => resolver.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    const txt = await Promise.race([
      resolver.resolveTxt(host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          resolver.cancel();
          reject(new TrackerError(`no TXT answer for ${host} within ${timeoutMs / 1000} s`, { timedOut: true }));
        }, timeoutMs);
      }),
    ]);
    const out: Bep34Lookup = { records: [], malformed: [] };
    for (const chunks of txt) {
      const text = chunks.join('');
      const parsed = parseBep34(text);
      if (parsed === undefined) continue;
      out.records.push(printable(text, 200));
      if (parsed instanceof Error) out.malformed.push(parsed.message);
      else out.policy ??= parsed;
    }
    return out;
  } catch (e) {
    if (e instanceof TrackerError) throw e;
    const code = (e as { code?: string }).code;
    if (code && NO_TXT.has(code)) return { records: [], malformed: [] };
    if (signal?.aborted) throw new TrackerError('cancelled');
    throw new TrackerError(`TXT lookup of ${host} failed (${code ?? (e as Error).message})`, code ? { code } : {});
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
