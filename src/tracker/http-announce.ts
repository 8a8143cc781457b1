/** HTTP(S) announce and scrape (BEP 3, BEP 23, BEP 7 parameters, BEP 48 scrape). */
import type { Family } from '../net/address.js';
import { TrackerError } from './errors.js';
import { httpGet } from './http-get.js';
import { parseAnnounceReply, parseScrapeReply } from './http-reply.js';
import { LIMITS, type AnnounceParams, type AnnounceReply, type ScrapeEntry } from './types.js';
import { scrapePath, type TrackerUrl } from './url.js';

export interface HttpCallOptions {
  address: string;
  family: Family;
  timeoutMs: number;
  signal?: AbortSignal;
  ca?: string | Buffer;
}

/** Percent-encode raw bytes, keeping only RFC 3986 unreserved characters (info_hash, peer_id). */
export function escapeBytes(b: Buffer): string {
  let s = '';
  for (const c of b) {
    const ch = String.fromCharCode(c);
    s += /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${c.toString(16).padStart(2, '0').toUpperCase()}`;
  }
  return s;
}

export function announceQuery(p: AnnounceParams): string {
  const q = [
    `info_hash=${escapeBytes(p.infoHash)}`,
    `peer_id=${escapeBytes(p.peerId)}`,
    `port=${p.port}`,
    `uploaded=${p.uploaded}`,
    `downloaded=${p.downloaded}`,
    `left=${p.left}`,
    'compact=1',
    `numwant=${p.numwant}`,
    `key=${p.key.toString(16).padStart(8, '0')}`,
  ];
  if (p.event) q.push(`event=${p.event}`);
  if (p.trackerId) q.push(`trackerid=${escapeBytes(p.trackerId)}`);
  if (p.ipv4) q.push(`ipv4=${p.ipv4}`);
  if (p.ipv6) q.push(`ipv6=${encodeURIComponent(p.ipv6)}`);
  return q.join('&');
}

const withQuery = (path: string, query: string) => `${path}${path.includes('?') ? '&' : '?'}${query}`;

function statusError(status: number, body: Buffer): TrackerError | undefined {
  if (status === 200) return undefined;
  // Some trackers send their bencoded failure reason with a 4xx status; prefer that text.
  try {
    parseAnnounceReply(body);
  } catch (e) {
    if (e instanceof TrackerError && e.message.startsWith('tracker refused')) return e;
  }
  return new TrackerError(`HTTP status ${status}`);
}

export async function httpAnnounce(t: TrackerUrl, p: AnnounceParams, o: HttpCallOptions): Promise<AnnounceReply> {
  const res = await httpGet(t, withQuery(t.path, announceQuery(p)), { ...o, maxBody: LIMITS.maxHttpBody });
  const bad = statusError(res.status, res.body);
  if (bad) throw bad;
  return parseAnnounceReply(res.body);
}

/** Hashes per scrape request: keeps the URL well under common request-line limits. */
const SCRAPE_CHUNK = 50;

export async function httpScrape(t: TrackerUrl, infoHashes: Buffer[], o: HttpCallOptions): Promise<Map<string, ScrapeEntry>> {
  const out = new Map<string, ScrapeEntry>();
  const path = scrapePath(t);
  for (let i = 0; i < infoHashes.length; i += SCRAPE_CHUNK) {
    const query = infoHashes.slice(i, i + SCRAPE_CHUNK).map((h) => `info_hash=${escapeBytes(h)}`).join('&');
    const res = await httpGet(t, withQuery(path, query), { ...o, maxBody: LIMITS.maxHttpBody });
    const bad = statusError(res.status, res.body);
    if (bad) throw bad;
    for (const [k, v] of parseScrapeReply(res.body)) out.set(k, v);
  }
  return out;
}
