/**
 * Fuzz targets: .torrent files and bare info dictionaries (src/metainfo/torrent.ts), and magnet
 * links (src/metainfo/magnet.ts). Both throw only InputError. A parsed torrent is consistent
 * (its infohash is the SHA-1 of the info bytes it kept, which parse again to the same torrent;
 * sizes, pieces and files agree); a parsed magnet, written back as a link, parses the same.
 */
import { createHash } from 'node:crypto';
import { encode, decode } from '../../../src/bencode/index.js';
import { parseMagnet } from '../../../src/metainfo/magnet.js';
import { parseInfoDict, parseTorrent } from '../../../src/metainfo/torrent.js';
import type { MagnetLink, Metainfo } from '../../../src/metainfo/types.js';
import { formatHostPort } from '../../../src/net/hostport.js';
import { InputError } from '../../../src/util/errors.js';
import { check, guarded, same, type Target } from '../contract.js';

const token = (s: string) => Buffer.from(s, 'latin1');

function consistent(m: Metainfo, what: string): void {
  const sha = createHash('sha1').update(m.infoBuffer).digest();
  check(sha.equals(m.infoHash) && m.infoHashHex === sha.toString('hex'), 'invariant', () => `${what}: the infohash is not the SHA-1 of the info bytes`);
  const total = m.files.reduce((s, f) => s + f.length, 0);
  check(total === m.totalLength && total > 0, 'invariant', () => `${what}: file lengths add up to ${total}, not ${m.totalLength}`);
  check(m.pieceCount === Math.ceil(m.totalLength / m.pieceLength) && m.pieceHashes.length === 20 * m.pieceCount, 'invariant', () => `${what}: pieces disagree with the size`);
  let offset = 0;
  for (const f of m.files) {
    check(f.offset === offset && f.length >= 0 && f.path.length > 0, 'invariant', () => `${what}: file offsets are not contiguous`);
    offset += f.length;
  }
}

const summary = (m: Metainfo) => ({ infoHash: m.infoHashHex, name: m.name, files: m.files, pieceLength: m.pieceLength, private: m.private });

export const metainfoTarget: Target = {
  name: 'metainfo',
  about: 'src/metainfo/torrent.ts: parseTorrent and parseInfoDict on the same bytes (InputError only)',
  maxLen: 16 * 1024,
  bencode: true,
  tokens: [
    '4:info', '5:files', '4:path', '6:length', '4:name', '12:piece length', '6:pieces', '7:private', '8:announce',
    '13:announce-list', '8:url-list', '10:name.utf-8', '10:path.utf-8', '4:attr', '1:p', '12:meta version', '9:file tree',
    '7:comment', '10:created by', '13:creation date', '2:..', '1:.', '1:/', '2:C:', '3:a/b', '0:', '4:\u0000\u001b[2J',
    '30:udp://tracker.example:6969/ann', '25:http://seed.example/file/', 'i16384e', 'i0e', 'i-1e', 'i268435457e', 'i1125899906842625e',
  ].map(token),
  run(input) {
    const sig: string[] = [];
    const t = guarded('parseTorrent', [InputError], () => parseTorrent(input));
    if (t.ok) {
      const m = t.value;
      consistent(m, 'parseTorrent');
      const again = guarded('parseInfoDict(infoBuffer)', [], () => parseInfoDict(m.infoBuffer));
      check(again.ok && same(summary(again.value), summary(m)), 'round-trip', () => 'the info bytes of a parsed torrent do not parse to the same torrent');
      sig.push(`torrent:ok:${m.multiFile ? 'multi' : 'single'}${m.private ? ':private' : ''}:${m.announce.length ? 'trackers' : 'trackerless'}`);
    } else sig.push(t.sig);
    const i = guarded('parseInfoDict', [InputError], () => parseInfoDict(input));
    if (i.ok) {
      consistent(i.value, 'parseInfoDict');
      sig.push('info:ok');
    } else sig.push(i.sig);
    return sig.join(' | ');
  },
  accepted: (sig) => /torrent:ok|info:ok/.test(sig),
  exact(input) {
    // A torrent file is bencode: what was accepted is written back by the encoder byte for byte.
    parseTorrent(input);
    check(encode(decode(input)).equals(input), 'round-trip', () => 'a valid torrent does not re-encode to its own bytes');
  },
  growth: [
    {
      name: 'a torrent of many files',
      sizes: [128 << 10, 1 << 20],
      build: (n) => torrentOf(Array.from({ length: Math.floor(n / 40) }, (_, i) => [`dir-${i % 97}`, `file-${i}.bin`])),
      feed: (b) => void parseTorrent(b),
    },
    {
      name: 'a torrent of many tracker tiers',
      sizes: [128 << 10, 1 << 20],
      feed: (b) => void parseTorrent(b),
      build: (n) => torrentOf([['a.bin']], { 'announce-list': Array.from({ length: Math.floor(n / 45) }, (_, i) => [`udp://tracker-${i}.example:6969/announce`]) }),
    },
    {
      name: 'a torrent of many web seeds',
      sizes: [128 << 10, 1 << 20],
      feed: (b) => void parseTorrent(b),
      build: (n) => torrentOf([['a.bin']], { 'url-list': Array.from({ length: Math.floor(n / 40) }, (_, i) => `http://seed-${i}.example/files/`) }),
    },
  ],
};

/** A multi-file torrent named "x" of 1-byte files at `paths`, with the right number of piece hashes. */
export function torrentOf(paths: string[][], extra: Record<string, unknown> = {}): Buffer {
  const pieceLength = 16384;
  const pieces = Buffer.alloc(Math.ceil(paths.length / pieceLength) * 20);
  return encode({ ...(extra as Record<string, never>), info: { files: paths.map((path) => ({ length: 1, path })), name: 'x', 'piece length': pieceLength, pieces } });
}

/** A magnet link with every field of `m`, as a client would write it. */
function linkOf(m: MagnetLink): string {
  // A v2-only link's infohash is its v2 hash cut to 20 bytes: it has no btih.
  const v2Only = m.infoHashV2 !== undefined && m.infoHash.equals(m.infoHashV2.subarray(0, 20));
  const parts = [...(v2Only ? [] : [`xt=urn:btih:${m.infoHashHex}`]), ...(m.infoHashV2 ? [`xt=urn:btmh:1220${m.infoHashV2.toString('hex')}`] : [])];
  if (m.name !== undefined) parts.push(`dn=${encodeURIComponent(m.name)}`);
  for (const t of m.trackers) parts.push(`tr=${encodeURIComponent(t)}`);
  for (const w of m.webSeeds ?? []) parts.push(`ws=${encodeURIComponent(w)}`);
  for (const p of m.peers) parts.push(`x.pe=${encodeURIComponent(formatHostPort(p.host, p.port))}`);
  return `magnet:?${parts.join('&')}`;
}

export const magnetTarget: Target = {
  name: 'magnet',
  about: 'src/metainfo/magnet.ts: parseMagnet on the input as UTF-8 text (InputError only)',
  maxLen: 4096,
  tokens: [
    'magnet:?', 'xt=urn:btih:', 'xt.1=urn:btih:', 'xt=urn:btmh:1220', '&', '=', 'dn=', 'tr=', 'tr.1=', 'x.pe=', '%', '%2', '%zz', '+',
    'udp://tracker.example:6969/announce', 'http://[2001:db8::1]:80/announce', 'wss://t.example', '[2001:db8::1]:6881', '[fe80::1%25eth0]:1',
    '192.0.2.1:6881', 'host.example:0', 'host.example:65536', 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a', 'YX7ODQF3NG7CQV3JVKFNJQMHA2ZC3VUK',
  ].map(token),
  run(input) {
    const text = input.toString('utf8');
    const r = guarded('parseMagnet', [InputError], () => parseMagnet(text));
    if (!r.ok) return r.sig;
    const m = r.value;
    check(m.infoHash.length === 20 && m.infoHashHex === m.infoHash.toString('hex'), 'invariant', () => 'the infohash is not 20 bytes');
    check(new Set(m.trackers).size === m.trackers.length, 'invariant', () => 'a tracker is listed twice');
    const again = guarded('parseMagnet(written back)', [], () => parseMagnet(linkOf(m)));
    check(again.ok && same(again.value, m), 'round-trip', () => `the link written back parses differently: ${linkOf(m).slice(0, 300)}`);
    return `ok:${m.name !== undefined ? 'dn' : ''}:${m.trackers.length ? 'tr' : ''}:${m.peers.length ? 'pe' : ''}`;
  },
  exact(input) {
    const m = parseMagnet(input.toString('utf8'));
    check(linkOf(m) === input.toString('utf8'), 'round-trip', () => 'a valid link is not written back as it was');
  },
  growth: [
    {
      name: 'a link of many distinct trackers',
      sizes: [64 << 10, 512 << 10],
      feed: (b) => void parseMagnet(b.toString()),
      build: (n) => Buffer.from(`magnet:?xt=urn:btih:${'ab'.repeat(20)}${Array.from({ length: Math.floor(n / 40) }, (_, i) => `&tr=udp://t${i}.example:1/announce`).join('')}`),
    },
    {
      name: 'a link of many distinct peers',
      sizes: [64 << 10, 512 << 10],
      feed: (b) => void parseMagnet(b.toString()),
      build: (n) => Buffer.from(`magnet:?xt=urn:btih:${'ab'.repeat(20)}${Array.from({ length: Math.floor(n / 24) }, (_, i) => `&x.pe=198.51.${(i >> 8) & 255}.${i & 255}:${1 + (i >> 16)}`).join('')}`),
    },
  ],
};
