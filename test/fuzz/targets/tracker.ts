/**
 * Fuzz targets of the trackers: HTTP announce and scrape replies (src/tracker/http-reply.ts,
 * TrackerError only), BEP 15 datagrams both ways (src/tracker/udp-protocol.ts: reply and request
 * parsers that never throw; what they read, written by the encoders, gives the same bytes), and
 * the built-in tracker's HTTP request targets (src/tracker/server/: parseQuery throws only
 * QueryError; the handler answers every target, never with its "internal error").
 */
import { decode, encode, BDict } from '../../../src/bencode/index.js';
import { encodeCompactPeers } from '../../../src/net/compact.js';
import { TrackerError } from '../../../src/tracker/errors.js';
import { parseAnnounceReply, parseScrapeReply } from '../../../src/tracker/http-reply.js';
import { httpHandler } from '../../../src/tracker/server/http-handler.js';
import { parseQuery, QueryError } from '../../../src/tracker/server/query.js';
import { TrackerCore } from '../../../src/tracker/server/tracker-core.js';
import { LIMITS, type AnnounceReply } from '../../../src/tracker/types.js';
import {
  ACTION, announceReply, announceRequest, connectRequest, parseAnnounceReply as parseUdpAnnounce, parseRequest, parseScrapeReplyBody,
  replyHeader, scrapeReply, scrapeRequest,
} from '../../../src/tracker/udp-protocol.js';
import { bucket, check, guarded, messageClass, same, total, type Target } from '../contract.js';

const token = (s: string) => Buffer.from(s, 'latin1');

/** An announce reply with what `r` holds, as a tracker would write it. */
function announceBody(r: AnnounceReply): Buffer {
  return encode({
    interval: r.interval, 'min interval': r.minInterval, complete: r.complete, incomplete: r.incomplete,
    ...(r.trackerId ? { 'tracker id': r.trackerId } : {}),
    peers: encodeCompactPeers(r.peers4, 4), peers6: encodeCompactPeers(r.peers6, 6),
  });
}

const announceFields = (r: AnnounceReply) => ({ interval: r.interval, minInterval: r.minInterval, complete: r.complete, incomplete: r.incomplete, trackerId: r.trackerId, peers4: r.peers4, peers6: r.peers6 });

export const trackerHttpTarget: Target = {
  name: 'tracker-http',
  about: 'src/tracker/http-reply.ts: parseAnnounceReply and parseScrapeReply on one HTTP body (TrackerError only)',
  maxLen: 8192,
  bencode: true,
  tokens: [
    '14:failure reason', '15:warning message', '8:interval', '12:min interval', '8:complete', '10:incomplete', '10:tracker id', '5:peers', '6:peers6',
    '5:files', '10:downloaded', '2:ip', '4:port', '7:peer id', '6:\xc6\x33\x64\x07\x1a\xe1', '11:2001:db8::1', '9:127.0.0.1', '20:aaaaaaaaaaaaaaaaaaaa',
    'i-1e', 'i65536e', 'i9007199254740992e',
  ].map(token),
  run(input) {
    const sig: string[] = [];
    const a = guarded('parseAnnounceReply', [TrackerError], () => parseAnnounceReply(input));
    if (a.ok) {
      const r = a.value;
      check(r.peers4.length <= LIMITS.maxPeersPerList && r.peers6.length <= LIMITS.maxPeersPerList && r.dropped >= 0, 'invariant', () => 'peer lists past their caps');
      check(r.peers4.every((p) => p.family === 4) && r.peers6.every((p) => p.family === 6), 'invariant', () => 'a peer in the other family\'s list');
      const again = guarded('parseAnnounceReply(rewritten)', [], () => parseAnnounceReply(announceBody(r)));
      check(again.ok && same(announceFields(again.value), announceFields(r)), 'round-trip', () => 'a parsed announce reply, written back, parses differently');
      sig.push(`announce:ok${r.peers4.length + r.peers6.length ? ':peers' : ''}`);
    } else sig.push(a.sig);
    const s = guarded('parseScrapeReply', [TrackerError], () => parseScrapeReply(input));
    if (s.ok) {
      const files = new Map([...s.value].map(([hex, e]) => [Buffer.from(hex, 'hex').toString('latin1'), e]));
      const again = guarded('parseScrapeReply(rewritten)', [], () => parseScrapeReply(encode({ files: files as Map<string, never> })));
      check(again.ok && same(again.value, s.value), 'round-trip', () => 'a parsed scrape reply, written back, parses differently');
      sig.push(`scrape:ok:${bucket(s.value.size)}`);
    } else sig.push(s.sig);
    // A failure reason is the tracker's own text (it may even hold " | "), not a class of behaviour.
    return sig.map((part) => part.replace(/tracker refused: .*/, 'tracker refused: S')).join(' | ');
  },
  // A body is an announce reply or a scrape reply, not both.
  accepted: (sig) => /announce:ok|scrape:ok/.test(sig),
  growth: [
    {
      name: 'compact peers up to the 2 MiB body cap',
      sizes: [225 << 10, 1800 << 10],
      feed: (b) => void parseAnnounceReply(b),
      build: (n) => {
        const count = Math.floor(n / 6);
        const peers = Buffer.alloc(count * 6);
        for (let i = 0; i < count; i++) peers.writeUInt32BE(0x0b000000 + i, 6 * i), peers.writeUInt16BE(1 + (i % 60000), 6 * i + 4);
        return encode({ interval: 1800, peers });
      },
    },
    {
      name: 'dictionary-model peers',
      sizes: [225 << 10, 1800 << 10],
      feed: (b) => void parseAnnounceReply(b),
      build: (n) => encode({ interval: 1800, peers: Array.from({ length: Math.floor(n / 40) }, (_, i) => ({ ip: `11.0.${(i >> 8) & 255}.${i & 255}`, port: 1 + (i % 60000) })) }),
    },
    {
      name: 'a scrape of many files',
      sizes: [225 << 10, 1800 << 10],
      feed: (b) => void parseScrapeReply(b),
      build: (n) => {
        const files = new Map<string, unknown>();
        for (let i = 0; i < n / 70; i++) files.set(Buffer.from(String(i).padStart(20, '0')).toString('latin1'), { complete: i, incomplete: 1, downloaded: 2 });
        return encode({ files } as never);
      },
    },
  ],
};

/** The info hashes a scrape was sent for (what parseScrapeReplyBody matches entries to). */
const SCRAPED = [Buffer.alloc(20, 1), Buffer.alloc(20, 2), Buffer.alloc(20, 3)];

export const trackerUdpTarget: Target = {
  name: 'tracker-udp',
  about: 'src/tracker/udp-protocol.ts: replyHeader, parseAnnounceReply over IPv4 and IPv6, parseScrapeReplyBody, and the server\'s parseRequest, on one datagram (none may throw)',
  maxLen: 2048,
  tokens: [Buffer.from([0, 0, 0, 0]), Buffer.from([0, 0, 0, 1]), Buffer.from([0, 0, 0, 2]), Buffer.from([0, 0, 0, 3]), Buffer.from('0000041727101980', 'hex'), Buffer.from([0xff, 0xff, 0xff, 0xff])],
  run(input) {
    const sig: string[] = [];
    const h = total('replyHeader', () => replyHeader(input));
    sig.push(h ? `action${Math.min(h.action, 4)}` : 'short');
    for (const family of [4, 6] as const) {
      const r = total(`parseAnnounceReply(${family})`, () => parseUdpAnnounce(input, family));
      if (!r) continue;
      const size = family === 4 ? 6 : 18;
      const whole = Math.floor((input.length - 20) / size);
      check(r.dropped + r.peers.length === whole + (r.trailingBytes > 0 ? 1 : 0), 'invariant', () => 'announce reply entries lost or counted twice');
      if (r.peers.length === whole) {
        const re = announceReply(input.readUInt32BE(4), r.interval, r.leechers, r.seeders, r.peers, family);
        check(re.subarray(4).equals(input.subarray(4, 20 + whole * size)), 'round-trip', () => `an IPv${family} announce reply does not re-encode to its own bytes`);
      }
    }
    const scrape = total('parseScrapeReplyBody', () => parseScrapeReplyBody(input, SCRAPED));
    if (scrape.size > 0 && input.length >= 8) {
      const re = scrapeReply(input.readUInt32BE(4), SCRAPED.slice(0, scrape.size).map((hash) => scrape.get(hash.toString('hex'))!));
      check(re.subarray(4).equals(input.subarray(4, 8 + 12 * scrape.size)), 'round-trip', () => 'a scrape reply does not re-encode to its own bytes');
    }
    sig.push(`scrape${bucket(scrape.size)}`);
    const req = total('parseRequest', () => parseRequest(input));
    sig.push(`request:${req ? (req.action === 'bad' ? `bad:${messageClass(req.reason)}` : req.action) : 'none'}`);
    if (req?.action === 'connect') check(connectRequest(req.tx).equals(input.subarray(0, 16)), 'round-trip', () => 'a connect request does not re-encode to its own bytes');
    if (req?.action === 'announce') {
      const clamped = [56, 64, 72].some((o) => input.readBigUInt64BE(o) > BigInt(Number.MAX_SAFE_INTEGER));
      if (!clamped) check(announceRequest(req.connId, req.tx, req.fields).equals(input.subarray(0, 98)), 'round-trip', () => 'an announce request does not re-encode to its own bytes');
    }
    if (req?.action === 'scrape') check(scrapeRequest(req.connId, req.tx, req.hashes).equals(input.subarray(0, 16 + 20 * req.hashes.length)), 'round-trip', () => 'a scrape request does not re-encode to its own bytes');
    return sig.join(' | ');
  },
  exact(input, name) {
    // valid-* entries are whole packets: the encoder gives back every byte, not just a prefix.
    const h = replyHeader(input);
    if (name.includes('request')) {
      const req = parseRequest(input);
      const re = req?.action === 'connect' ? connectRequest(req.tx) : req?.action === 'announce' ? announceRequest(req.connId, req.tx, req.fields) : req?.action === 'scrape' ? scrapeRequest(req.connId, req.tx, req.hashes) : undefined;
      check(re !== undefined && re.equals(input), 'round-trip', () => 'a valid request is not written back as it was');
      return;
    }
    check(h !== undefined, 'round-trip', () => 'a valid reply has no header');
    const family = name.includes('announce6') ? 6 : 4;
    const re = h!.action === ACTION.announce
      ? (() => { const r = parseUdpAnnounce(input, family)!; return announceReply(h!.tx, r.interval, r.leechers, r.seeders, r.peers, family); })()
      : h!.action === ACTION.scrape
        ? (() => { const s = parseScrapeReplyBody(input, SCRAPED); return scrapeReply(h!.tx, SCRAPED.slice(0, s.size).map((x) => s.get(x.toString('hex'))!)); })()
        : input;
    check(re.equals(input), 'round-trip', () => 'a valid reply is not written back as it was');
  },
  growth: [
    {
      name: 'an announce reply of many peers (a whole UDP datagram and more)',
      sizes: [128 << 10, 1 << 20],
      feed: (b) => void parseUdpAnnounce(b, 4),
      build: (n) => {
        const b = Buffer.alloc(n);
        b.writeUInt32BE(ACTION.announce, 0);
        for (let o = 20; o + 6 <= n; o += 6) b.writeUInt32BE(0x0b000000 + o, o);
        return b;
      },
    },
  ],
};

/** A tracker with three peers on one torrent, and a handler over it: made fresh for every input. */
function trackerUnderTest(): { handle: ReturnType<typeof httpHandler>; bad: string[] } {
  const core = new TrackerCore({ intervalSec: 1800, honorIpParams: true }, () => undefined);
  const infoHash = Buffer.from('aaaaaaaaaaaaaaaaaaaa');
  for (const [host, family] of [['198.51.100.1', 4], ['198.51.100.2', 4], ['2001:db8::3', 6]] as const) {
    core.announce({ transport: 'http', infoHash, peerId: Buffer.from(`-XX0001-${host}`.padEnd(20, '.').slice(0, 20)), port: 6881, source: { host, family }, claimed: {} });
  }
  const bad: string[] = [];
  return { handle: httpHandler(core, (_t, _s, reason) => bad.push(reason)), bad };
}

export const trackerRequestTarget: Target = {
  name: 'tracker-request',
  about: 'src/tracker/server/: parseQuery on the query string (QueryError only) and the HTTP handler on the whole target, from an IPv4 and an IPv6 client (never an internal error; every body bencoded)',
  maxLen: 4096,
  tokens: [
    '/announce?', '/scrape?', '&', '=', 'info_hash=', 'peer_id=', 'port=', 'left=', 'event=started', 'event=stopped', 'event=bogus', 'compact=0', 'no_peer_id=1',
    'numwant=', 'key=', 'ipv4=', 'ipv6=', 'uploaded=', 'downloaded=', '%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61%61', '%', '%zz', '+', '[2001:db8::9]:6881', '198.51.100.9:1',
  ].map(token),
  run(input) {
    const target = input.toString('latin1');
    const q = target.indexOf('?');
    const sig: string[] = [];
    const parsed = guarded('parseQuery', [QueryError], () => parseQuery(q < 0 ? '' : target.slice(q + 1)));
    sig.push(parsed.ok ? `query:${bucket(parsed.value.size)}` : parsed.sig);
    for (const source of ['203.0.113.5', '2001:db8::5']) {
      const t = trackerUnderTest();
      const reply = total('httpHandler', () => t.handle('GET', target, source));
      check(reply.status !== 500, 'invariant', () => `the tracker failed inside: ${t.bad.join('; ')}`);
      const body = total('decode(reply body)', () => decode(reply.body));
      check(body instanceof BDict, 'invariant', () => 'a reply body that is not a dictionary');
      const failure = (body as BDict).get('failure reason');
      sig.push(`${reply.status}:${Buffer.isBuffer(failure) ? `refused: ${messageClass(failure.toString())}` : 'ok'}`);
    }
    return sig.join(' | ');
  },
  growth: [
    {
      name: 'one long percent-encoded value',
      sizes: [32 << 10, 256 << 10],
      feed: (b) => void parseQuery(b.toString('latin1').slice(b.indexOf('?') + 1)),
      build: (n) => Buffer.from(`/announce?key=${'%41'.repeat(Math.floor(n / 3))}`),
    },
  ],
};
