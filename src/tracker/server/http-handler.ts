/** HTTP /announce and /scrape of the built-in tracker: compact peers + peers6, dictionary model for compact=0. */
import { encode, type Encodable } from '../../bencode/index.js';
import { familyOf } from '../../net/address.js';
import { encodeCompactPeers } from '../../net/compact.js';
import { printable } from '../../util/sanitize.js';
import type { AnnounceEventName } from '../types.js';
import { normaliseKey, type TrackerCore } from './tracker-core.js';
import { parseQuery, Query, QueryError } from './query.js';

const EVENTS = new Set(['started', 'completed', 'stopped', 'empty', 'paused']);
const MAX_SCRAPE = 100;

export type BadRequestReporter = (transport: 'http' | 'udp', source: string, reason: string) => void;

/** A reply: its status and bencoded body. */
export interface HttpReply {
  status: number;
  body: Buffer;
}

/** The reply to one request (`source` is the client's address, IPv4-mapped ones already unmapped). */
export type HttpHandler = (method: string, target: string, source: string) => HttpReply;

export function httpHandler(core: TrackerCore, onBad: BadRequestReporter): HttpHandler {
  return (method, url, source) => {
    const family = familyOf(source);
    const reply = (status: number, body: Encodable): HttpReply => ({ status, body: encode(body) });
    const fail = (reason: string) => {
      onBad('http', source, reason);
      return reply(200, { 'failure reason': reason });
    };
    if (method !== 'GET') return fail('only GET is supported');
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    try {
      if (!family) throw new QueryError('unknown source address');
      const query = new Query(parseQuery(q < 0 ? '' : url.slice(q + 1)));
      if (path === '/announce') return reply(200, announce(core, query, { host: source, family }));
      if (path === '/scrape') return reply(200, scrape(core, query));
      onBad('http', source, `no such path ${printable(path, 100)}`);
      return reply(404, { 'failure reason': 'not found (use /announce or /scrape)' });
    } catch (e) {
      if (e instanceof QueryError) return fail(e.message);
      // A bug must cost this one request, not the whole tracker.
      onBad('http', source, `internal error: ${(e as Error).message}`);
      return reply(500, { 'failure reason': 'internal error' });
    }
  };
}

function announce(core: TrackerCore, q: Query, source: { host: string; family: 4 | 6 }): Encodable {
  const infoHash = q.fixed('info_hash', 20);
  const peerId = q.fixed('peer_id', 20);
  const port = q.int('port', 1, 65535);
  if (port === undefined) throw new QueryError('missing port');
  const eventText = q.text('event');
  if (eventText !== undefined && eventText !== '' && !EVENTS.has(eventText)) throw new QueryError(`unknown event "${printable(eventText, 20)}"`);
  const event = eventText === 'started' || eventText === 'completed' || eventText === 'stopped' ? (eventText as AnnounceEventName) : undefined;
  const key = q.text('key');
  if (key !== undefined && key.length > 64) throw new QueryError('key longer than 64 bytes');
  const left = q.int('left', 0, Number.MAX_SAFE_INTEGER);
  const numwant = q.int('numwant', 0, Number.MAX_SAFE_INTEGER);
  q.int('uploaded', 0, Number.MAX_SAFE_INTEGER);
  q.int('downloaded', 0, Number.MAX_SAFE_INTEGER);
  const ipv4 = q.text('ipv4');
  const ipv6 = q.text('ipv6');
  const r = core.announce({
    transport: 'http',
    infoHash,
    peerId,
    port,
    ...(key ? { key: normaliseKey(key) } : {}),
    ...(left !== undefined ? { left } : {}),
    ...(event ? { event } : {}),
    ...(numwant !== undefined ? { numwant } : {}),
    source,
    claimed: { ...(ipv4 ? { 4: ipv4 } : {}), ...(ipv6 ? { 6: ipv6 } : {}) },
  });
  const head = { interval: r.interval, 'min interval': r.minInterval, complete: r.complete, incomplete: r.incomplete, ...(r.warning ? { 'warning message': r.warning } : {}) };
  if (q.text('compact') === '0') {
    const withId = q.text('no_peer_id') !== '1';
    return {
      ...head,
      peers: [...r.peers4, ...r.peers6].map((p) => ({ ip: p.host, port: p.port, ...(withId ? { 'peer id': p.peerId } : {}) })),
    };
  }
  return { ...head, peers: encodeCompactPeers(r.peers4, 4), peers6: encodeCompactPeers(r.peers6, 6) };
}

function scrape(core: TrackerCore, q: Query): Encodable {
  const hashes = q.all('info_hash');
  if (hashes.length === 0) throw new QueryError('scrape needs at least one info_hash (full scrapes are not served)');
  if (hashes.length > MAX_SCRAPE) throw new QueryError(`at most ${MAX_SCRAPE} info_hash values per scrape`);
  for (const h of hashes) if (h.length !== 20) throw new QueryError(`info_hash must be 20 bytes, got ${h.length}`);
  const entries = core.scrape(hashes);
  const files = new Map<string, Encodable>();
  hashes.forEach((h, i) => files.set(h.toString('latin1'), { ...entries[i]! }));
  return { files };
}
