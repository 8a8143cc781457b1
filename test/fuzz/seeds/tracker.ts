/** Seeds of the tracker corpora: replies and requests our encoders and server write, and each rule broken once. */
import { encode } from '../../../src/bencode/index.js';
import { encodeCompactPeers } from '../../../src/net/compact.js';
import {
  announceReply, announceRequest, connectReply, connectRequest, errorReply, scrapeReply, scrapeRequest, type UdpAnnounceFields,
} from '../../../src/tracker/udp-protocol.js';
import { seed, truncations, type Seed } from './seed.js';

const peers4 = [{ host: '11.0.0.1', port: 6881 }, { host: '198.51.100.2', port: 51413 }];
const peers6 = [{ host: '2a00::1', port: 6881 }, { host: '2001:db8::2', port: 1 }];

export function trackerHttpSeeds(): Seed[] {
  const compact = encode({ complete: 3, incomplete: 7, interval: 1800, 'min interval': 900, peers: encodeCompactPeers(peers4, 4), peers6: encodeCompactPeers(peers6, 6) });
  return [
    seed('valid-compact', compact),
    seed('valid-dictionary-model', encode({ interval: 1800, peers: [{ ip: '11.0.0.1', 'peer id': 'x'.repeat(20), port: 6881 }, { ip: '2a00::1', port: 1 }] })),
    seed('valid-scrape', encode({ files: new Map([['a'.repeat(20), { complete: 1, downloaded: 2, incomplete: 3 }], ['b'.repeat(20), { complete: 0, downloaded: 0, incomplete: 0 }]]) as never })),
    seed('valid-tracker-id-and-warning', encode({ interval: 60, peers: Buffer.alloc(0), 'tracker id': 'abc', 'warning message': 'be nice' })),
    seed('failure-reason', encode({ 'failure reason': 'unregistered torrent' })),
    seed('failure-reason-not-a-string', encode({ 'failure reason': 1 })),
    seed('failure-reason-escape-sequence', encode({ 'failure reason': '\x1b]0;owned\x07' })),
    seed('negative-interval', encode({ interval: -1, 'min interval': -5, peers: Buffer.alloc(0) })),
    seed('interval-a-string', encode({ interval: '1800', peers: Buffer.alloc(0) })),
    seed('peers-an-integer', encode({ peers: 5 })),
    seed('peers-7-bytes', encode({ peers: Buffer.alloc(7, 11) })),
    seed('peers6-19-bytes', encode({ peers: encodeCompactPeers(peers4, 4), peers6: Buffer.alloc(19, 0x2a) })),
    seed('peers6-a-list', encode({ peers6: [] })),
    seed('dictionary-peers-bad-entries', encode({ peers: [1, { ip: 'host.example', port: 1 }, { ip: '11.0.0.1', port: 70000 }, { ip: '11.0.0.1' }, { port: 1 }] })),
    seed('tracker-id-257-bytes', encode({ peers: Buffer.alloc(0), 'tracker id': Buffer.alloc(257) })),
    seed('scrape-without-files', encode({ x: 1 })),
    // parseScrapeReply threw FieldError, not TrackerError, for this (found by the seeded mutations).
    seed('regress-scrape-files-a-string', encode({ files: 'x' })),
    seed('scrape-bad-entries', encode({ files: new Map<string, unknown>([['a'.repeat(19), { complete: 1 }], ['b'.repeat(20), 5], ['c'.repeat(20), { complete: 'x' }]]) as never })),
    seed('empty', ''),
    seed('html', '<html><body>502 Bad Gateway</body></html>'),
    seed('not-a-dict', 'li1ee'),
    ...truncations('compact', compact, [1, 12, 30, 60, compact.length - 1]),
  ];
}

const CONN = Buffer.from('0123456789abcdef', 'hex');
const FIELDS: UdpAnnounceFields = { infoHash: Buffer.alloc(20, 1), peerId: Buffer.from('-SX0001-012345678901'), downloaded: 1, left: 2, uploaded: 3, event: 'started', ip: 0, key: 0xdeadbeef, numwant: -1, port: 6881 };

export function trackerUdpSeeds(): Seed[] {
  const a4 = announceReply(7, 1800, 3, 4, peers4.map((p) => ({ ...p, family: 4 as const })), 4);
  const request = announceRequest(CONN, 9, FIELDS);
  return [
    seed('valid-reply-connect', connectReply(7, CONN)),
    seed('valid-reply-announce4', a4),
    seed('valid-reply-announce6', announceReply(7, 1800, 3, 4, peers6.map((p) => ({ ...p, family: 6 as const })), 6)),
    seed('valid-reply-scrape', scrapeReply(7, [{ complete: 1, downloaded: 2, incomplete: 3 }, { complete: 4, downloaded: 5, incomplete: 6 }, { complete: 0xffffffff, downloaded: 0, incomplete: 0 }])),
    seed('valid-reply-error', errorReply(7, 'unknown or expired connection id')),
    seed('valid-request-connect', connectRequest(5)),
    seed('valid-request-announce', request),
    seed('valid-request-scrape', scrapeRequest(CONN, 9, [Buffer.alloc(20, 1), Buffer.alloc(20, 2)])),
    seed('reply-7-bytes', a4.subarray(0, 7)),
    seed('announce-reply-19-bytes', a4.subarray(0, 19)),
    seed('announce4-trailing-5', Buffer.concat([a4, Buffer.alloc(5, 11)])),
    seed('scrape-reply-partial-entry', scrapeReply(7, [{ complete: 1, downloaded: 2, incomplete: 3 }]).subarray(0, 15)),
    seed('request-announce-97-bytes', request.subarray(0, 97)),
    seed('request-event-4', Buffer.concat([request.subarray(0, 80), Buffer.from([0, 0, 0, 4]), request.subarray(84)])),
    seed('request-left-past-2-to-the-53', Buffer.concat([request.subarray(0, 64), Buffer.alloc(8, 0xff), request.subarray(72)])),
    seed('request-scrape-no-hashes', scrapeRequest(CONN, 9, [])),
    seed('request-scrape-75-hashes', scrapeRequest(CONN, 9, Array.from({ length: 75 }, (_, i) => Buffer.alloc(20, i)))),
    seed('request-connect-wrong-protocol', Buffer.concat([Buffer.alloc(8), connectRequest(5).subarray(8)])),
    seed('request-unknown-action', Buffer.concat([CONN, Buffer.from([0, 0, 0, 9, 0, 0, 0, 1])])),
    ...truncations('request-announce', request, [8, 12, 16, 36, 56, 80, 84, 92, 96]),
  ];
}

const pct = (b: Buffer) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
const HASH = pct(Buffer.alloc(20, 0x61));
const PEER = pct(Buffer.from('-SX0001-012345678901'));

export function trackerRequestSeeds(): Seed[] {
  const announce = `/announce?info_hash=${HASH}&peer_id=${PEER}&port=6881&uploaded=0&downloaded=0&left=100&event=started&key=1a2b3c4d&numwant=50&compact=1`;
  return [
    seed('valid-announce', announce),
    seed('valid-announce-dictionary-model', `/announce?info_hash=${HASH}&peer_id=${PEER}&port=6881&compact=0`),
    seed('valid-announce-ip-params', `/announce?info_hash=${HASH}&peer_id=${PEER}&port=6881&ipv4=198.51.100.9:51413&ipv6=%5B2001:db8::9%5D:6881`),
    seed('valid-scrape', `/scrape?info_hash=${HASH}&info_hash=${pct(Buffer.alloc(20, 0x62))}`),
    seed('no-query', '/announce'),
    seed('unknown-path', '/stats?x=1'),
    seed('percent-at-the-end', `/announce?info_hash=${HASH}%`),
    seed('percent-not-hex', `/announce?info_hash=%zz${HASH}`),
    seed('257-parameters', `/announce?${Array.from({ length: 257 }, () => 'a=1').join('&')}`),
    seed('info-hash-19-bytes', `/announce?info_hash=${pct(Buffer.alloc(19, 1))}&peer_id=${PEER}&port=1`),
    seed('port-0', `/announce?info_hash=${HASH}&peer_id=${PEER}&port=0`),
    seed('port-65536', `/announce?info_hash=${HASH}&peer_id=${PEER}&port=65536`),
    seed('numwant-huge', `/announce?info_hash=${HASH}&peer_id=${PEER}&port=1&numwant=99999999999999999`),
    seed('key-65-bytes', `/announce?info_hash=${HASH}&peer_id=${PEER}&port=1&key=${'k'.repeat(65)}`),
    seed('event-unknown', `/announce?info_hash=${HASH}&peer_id=${PEER}&port=1&event=bogus`),
    seed('raw-utf8', Buffer.from(`/announce?info_hash=${HASH}&peer_id=${PEER}&port=1&key=ä€`, 'utf8')),
    seed('scrape-101-hashes', `/scrape?${Array.from({ length: 101 }, () => `info_hash=${HASH}`).join('&')}`),
    seed('full-scrape', '/scrape'),
    seed('empty', ''),
    ...truncations('announce', Buffer.from(announce), [10, 20, 80, 88, 200, 220, announce.length - 3]),
  ];
}
