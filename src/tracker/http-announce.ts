/** HTTP(S) announce and scrape (BEP 3, BEP 23, BEP 7 parameters, BEP 48 scrape). */
import type { Family } from '../net/address.js';
import type { TrackerNetwork } from '../transport/network.js';
import { printable } from '../util/sanitize.js';
import { TrackerError } from './errors.js';
import { httpGet, type HttpGetResult } from './http-get.js';
import { parseAnnounceReply, parseScrapeReply } from './http-reply.js';
import { resolveFor } from './resolve.js';
import { LIMITS, type AnnounceParams, type AnnounceReply, type ScrapeEntry } from './types.js';
import { parseTrackerUrl, scrapePath, type TrackerUrl } from './url.js';

export interface HttpCallOptions {
  address: string;
  family: Family;
  timeoutMs: number;
  signal?: AbortSignal;
  ca?: string | Buffer;
  /** Where the connection is opened (default: the kernel's sockets). */
  network?: TrackerNetwork;
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

/** `path` with `query` appended (after `?`, or after `&` when `path` already has a query). */
export const withQuery = (path: string, query: string): string => `${path}${path.includes('?') ? '&' : '?'}${query}`;

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

/** Redirects followed per request: trackers move (to HTTPS, to another host), loops must end. */
const MAX_REDIRECTS = 5;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

/** Where a redirect from `path` on `t` leads; refuses other protocols and HTTPS -> HTTP. */
function redirectTarget(t: TrackerUrl, path: string, location: string): TrackerUrl {
  const origin = `${t.protocol}://${t.literalFamily === 6 ? `[${t.host}]` : t.host}:${t.port}`;
  let next: TrackerUrl;
  try {
    next = parseTrackerUrl(new URL(location, origin + path).href);
  } catch (e) {
    throw new TrackerError(`redirected to "${printable(location, 200)}": ${(e as Error).message}`);
  }
  if (next.protocol === 'udp') throw new TrackerError(`redirected to a UDP URL (${printable(location, 200)}); only HTTP(S) redirects are followed`);
  // The query carries our peer id and the torrent's hash: never let a redirect strip TLS.
  if (t.protocol === 'https' && next.protocol === 'http') throw new TrackerError(`refusing a redirect from HTTPS to plain HTTP (${printable(location, 200)})`);
  return next;
}

/** One GET, following redirects over the same address family (BEP 7: this is that family's announce). */
async function get(t: TrackerUrl, path: string, o: HttpCallOptions): Promise<HttpGetResult> {
  let target = t;
  let at = path;
  let address = o.address;
  for (let hops = 0; ; hops++) {
    const res = await httpGet(target, at, { ...o, address, maxBody: LIMITS.maxHttpBody });
    if (!REDIRECT_STATUS.has(res.status) || res.location === undefined) return res;
    if (hops === MAX_REDIRECTS) throw new TrackerError(`more than ${MAX_REDIRECTS} redirects`);
    const next = redirectTarget(target, at, res.location);
    if (next.host !== target.host) address = await resolveFor(next, o.family, o.timeoutMs, o.signal);
    target = next;
    at = next.path;
  }
}

export async function httpAnnounce(t: TrackerUrl, p: AnnounceParams, o: HttpCallOptions): Promise<AnnounceReply> {
  return parseAnnounceReply(await httpAnnounceBody(t, p, o));
}

/** The announce reply's body as it came (status 200), for callers that look at its raw form. */
export async function httpAnnounceBody(t: TrackerUrl, p: AnnounceParams, o: HttpCallOptions): Promise<Buffer> {
  const res = await get(t, withQuery(t.path, announceQuery(p)), o);
  const bad = statusError(res.status, res.body);
  if (bad) throw bad;
  return res.body;
}

/** Hashes per scrape request: keeps the URL well under common request-line limits. */
const SCRAPE_CHUNK = 50;

export async function httpScrape(t: TrackerUrl, infoHashes: Buffer[], o: HttpCallOptions): Promise<Map<string, ScrapeEntry>> {
  const out = new Map<string, ScrapeEntry>();
  for (let i = 0; i < infoHashes.length; i += SCRAPE_CHUNK) {
    for (const [k, v] of parseScrapeReply(await httpScrapeBody(t, infoHashes.slice(i, i + SCRAPE_CHUNK), o))) out.set(k, v);
  }
  return out;
}

/** One scrape request's reply body as it came (status 200), for callers that look at its raw form. */
export async function httpScrapeBody(t: TrackerUrl, infoHashes: Buffer[], o: HttpCallOptions): Promise<Buffer> {
  const query = infoHashes.map((h) => `info_hash=${escapeBytes(h)}`).join('&');
  const res = await get(t, withQuery(scrapePath(t), query), o);
  const bad = statusError(res.status, res.body);
  if (bad) throw bad;
  return res.body;
}
