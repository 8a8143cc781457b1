/**
 * Announce and scrape replies of HTTP trackers (BEP 3, BEP 23 compact `peers`, BEP 7 `peers6`).
 * `peers` and `peers6` are parsed independently: a malformed one never throws away the other.
 */
import { asDict, asInt, BDict, decode, optBytes, optInt, type BValue } from '../bencode/index.js';
import { canonicalIp, familyOf, type Family } from '../net/address.js';
import { COMPACT_SIZE, decodeCompactPeers, type PeerAddress } from '../net/compact.js';
import { printable } from '../util/sanitize.js';
import { TrackerError } from './errors.js';
import { LIMITS, type AnnounceReply, type ScrapeEntry } from './types.js';

const DECODE_LIMITS = { maxBytes: LIMITS.maxHttpBody, maxDepth: 8, maxItems: 200_000 };

function decodeReply(body: Buffer): BDict {
  if (body.length === 0) throw new TrackerError('empty reply');
  let v: BValue;
  try {
    v = decode(body, DECODE_LIMITS);
  } catch (e) {
    throw new TrackerError(`reply is not valid bencode (${(e as Error).message})`);
  }
  if (!(v instanceof BDict)) throw new TrackerError('reply is not a bencoded dictionary');
  const failure = v.get('failure reason');
  if (failure !== undefined) {
    const text = Buffer.isBuffer(failure) ? printable(failure.toString('utf8'), LIMITS.maxMessageChars) : '(not a string)';
    throw new TrackerError(`tracker refused: ${text}`);
  }
  return v;
}

export function parseAnnounceReply(body: Buffer): AnnounceReply {
  const d = decodeReply(body);
  const out: AnnounceReply = { warnings: [], peers4: [], peers6: [], dropped: 0 };
  const field = <T>(name: string, get: () => T): T | undefined => {
    try {
      return get();
    } catch (e) {
      out.warnings.push(`ignored "${name}": ${(e as Error).message}`);
      return undefined;
    }
  };
  const nonNegative = (name: string) =>
    field(name, () => {
      const n = optInt(d.get(name), name);
      if (n !== undefined && n < 0) throw new Error(`negative value ${n}`);
      return n;
    });
  const interval = nonNegative('interval');
  if (interval !== undefined) out.interval = interval;
  const minInterval = nonNegative('min interval');
  if (minInterval !== undefined) out.minInterval = minInterval;
  const complete = nonNegative('complete');
  if (complete !== undefined) out.complete = complete;
  const incomplete = nonNegative('incomplete');
  if (incomplete !== undefined) out.incomplete = incomplete;
  const trackerId = field('tracker id', () => optBytes(d.get('tracker id'), 'tracker id'));
  if (trackerId !== undefined && trackerId.length <= 256) out.trackerId = Buffer.from(trackerId);
  const warning = field('warning message', () => optBytes(d.get('warning message'), 'warning message'));
  if (warning) out.warnings.unshift(`tracker warning: ${printable(warning.toString('utf8'), LIMITS.maxMessageChars)}`);

  const peers = d.get('peers');
  if (Buffer.isBuffer(peers)) {
    field('peers', () => addCompact(out, peers, 4));
  } else if (Array.isArray(peers)) {
    field('peers', () => addDictPeers(out, peers));
  } else if (peers !== undefined) {
    out.warnings.push('ignored "peers": neither a string nor a list');
  }
  const peers6 = d.get('peers6');
  if (peers6 !== undefined) {
    field('peers6', () => {
      if (!Buffer.isBuffer(peers6)) throw new Error('not a string');
      addCompact(out, peers6, 6);
    });
  }
  return out;
}

function addCompact(out: AnnounceReply, blob: Buffer, family: Family): void {
  const list = decodeCompactPeers(blob, family, LIMITS.maxPeersPerList);
  out.dropped += blob.length / COMPACT_SIZE[family] - list.length;
  addPeers(out, list);
}

function addPeers(out: AnnounceReply, list: PeerAddress[]): void {
  for (const p of list) {
    const bucket = p.family === 4 ? out.peers4 : out.peers6;
    if (bucket.length >= LIMITS.maxPeersPerList) out.dropped++;
    else bucket.push(p);
  }
}

/** BEP 3 dictionary model: [{ip, port, peer id}], IPv4 and IPv6 mixed. Bad entries are counted, not fatal. */
function addDictPeers(out: AnnounceReply, list: BValue[]): void {
  const good: PeerAddress[] = [];
  for (const item of list) {
    if (good.length >= 2 * LIMITS.maxPeersPerList) {
      out.dropped++;
      continue;
    }
    try {
      const e = asDict(item, 'peer');
      const ipRaw = e.get('ip');
      const host = Buffer.isBuffer(ipRaw) ? canonicalIp(ipRaw.toString('latin1')) : undefined;
      const port = asInt(e.get('port'), 'port');
      if (!host || port < 0 || port > 65535) throw new Error('bad ip or port');
      good.push({ host, port, family: familyOf(host)! });
    } catch {
      out.dropped++;
    }
  }
  addPeers(out, good);
}

export function parseScrapeReply(body: Buffer): Map<string, ScrapeEntry> {
  const d = decodeReply(body);
  const files = d.get('files');
  if (!(files instanceof BDict)) throw new TrackerError('scrape reply has no "files" dictionary');
  const out = new Map<string, ScrapeEntry>();
  for (const [k, v] of files) {
    const hash = Buffer.from(k, 'latin1');
    if (hash.length !== 20) continue;
    try {
      const e = asDict(v, 'file');
      out.set(hash.toString('hex'), {
        complete: optInt(e.get('complete'), 'complete') ?? 0,
        incomplete: optInt(e.get('incomplete'), 'incomplete') ?? 0,
        downloaded: optInt(e.get('downloaded'), 'downloaded') ?? 0,
      });
    } catch {
      // One bad entry does not spoil the others; a missing hash simply has no entry.
    }
  }
  return out;
}
