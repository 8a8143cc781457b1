/** One-shot scrape of an HTTP(S) (BEP 48) or UDP (BEP 15) tracker, over IPv6 first, then IPv4. */
import type { Family } from '../net/address.js';
import { TrackerError, toTrackerError } from './errors.js';
import { httpScrape } from './http-announce.js';
import { resolveFor } from './resolve.js';
import type { ScrapeEntry } from './types.js';
import { UdpTrackerClient } from './udp-client.js';
import { parseTrackerUrl } from './url.js';

export interface ScrapeOptions {
  /** Only this family; default: IPv6, then IPv4 if that fails. */
  family?: Family;
  /** Bound for the whole scrape over one family (HTTP and UDP), default 20 000. */
  timeoutMs?: number;
  /** Default 15 000 (BEP 15). */
  udpRetransmitBaseMs?: number;
  ca?: string | Buffer;
}

/** Counts per info hash (hex). A hash the tracker does not know has no entry. */
export async function scrape(url: string, infoHashes: Buffer[], opts: ScrapeOptions = {}): Promise<Map<string, ScrapeEntry>> {
  for (const h of infoHashes) if (h.length !== 20) throw new TrackerError('info hashes must be 20 bytes');
  let t;
  try {
    t = parseTrackerUrl(url);
  } catch (e) {
    throw new TrackerError((e as Error).message);
  }
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const families: Family[] = opts.family ? [opts.family] : t.literalFamily ? [t.literalFamily] : [6, 4];
  const errors: string[] = [];
  for (const family of families) {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const address = await resolveFor(t, family, timeoutMs, signal);
      if (t.protocol !== 'udp') {
        return await httpScrape(t, infoHashes, { address, family, timeoutMs, signal, ...(opts.ca ? { ca: opts.ca } : {}) });
      }
      const udp = new UdpTrackerClient({ family, retransmitBaseMs: opts.udpRetransmitBaseMs ?? 15_000 });
      try {
        return await udp.scrape(address, t.port, infoHashes, signal);
      } finally {
        udp.close();
      }
    } catch (e) {
      const err = toTrackerError(e, 'scrape failed');
      errors.push(`IPv${family}: ${signal.aborted ? `no reply within ${timeoutMs} ms` : err.message}`);
    }
  }
  throw new TrackerError(`scrape of ${url} failed (${errors.join('; ')})`);
}
