/**
 * Seeds of the metainfo and magnet corpora: torrents from libtorrent and mktorrent (fixtures/),
 * torrents of every shape our encoder writes, and every rule a torrent or a link can break.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode, type Encodable } from '../../../src/bencode/index.js';
import { seed, truncations, type Seed } from './seed.js';

type Info = Record<string, Encodable | undefined>;

const torrent = (info: Info, extra: Record<string, Encodable> = {}) => encode({ ...extra, info });
const hashes = (n: number) => Buffer.alloc(20 * n, 0x5a);
const single = (over: Info = {}): Info => ({ length: 40000, name: 'file.bin', 'piece length': 16384, pieces: hashes(3), ...over });
const multi = (files: Encodable[], over: Info = {}): Info => ({ files, name: 'folder', 'piece length': 16384, pieces: hashes(1), ...over });
const file = (path: Encodable[], length = 10, more: Record<string, Encodable> = {}) => ({ length, path, ...more });

/** `root`: the repository (real torrents come from its fixtures/). */
export function metainfoSeeds(root: string): Seed[] {
  const real = readdirSync(join(root, 'fixtures', 'torrents'))
    .filter((f) => f.endsWith('.torrent'))
    .map((f) => seed(`real-${f.replace(/\.torrent$/, '')}`, readFileSync(join(root, 'fixtures', 'torrents', f))));
  const valid = torrent(single(), { announce: 'udp://tracker.example:6969/announce', 'created by': 'sixswarm fuzz', 'creation date': 1700000000 });
  return [
    ...real,
    seed('valid-single-file', valid),
    seed('valid-multi-file', torrent(multi([file(['a.txt']), file(['sub', 'b.txt'], 20)]))),
    seed('valid-private-tiers-web-seeds', torrent(single({ private: 1 }), {
      announce: 'http://a.example/announce',
      'announce-list': [['udp://b.example:1/announce', 'http://[2001:db8::1]/announce'], ['wss://not-ours.example'], ['http://c.example/announce']],
      'url-list': ['http://seed.example/files/', 'ftp://not-ours.example/'],
      comment: 'a comment',
    })),
    seed('valid-pad-files', torrent(multi([file(['a.bin'], 100), file(['.pad', '16284'], 16284, { attr: 'p' }), file(['b.bin'], 100), file(['.pad', '16284'], 16284, { attr: 'p' })], { pieces: hashes(2) }))),
    seed('valid-utf8-alternatives', torrent(multi([file(['x'], 10, { 'path.utf-8': ['ä.txt'] })], { 'name.utf-8': 'Ordner ä' }))),
    seed('valid-url-list-string', torrent(single(), { 'url-list': 'http://seed.example/file.bin' })),
    seed('info-dict-alone', encode(single())),
    seed('no-info', encode({ announce: 'x' })),
    seed('info-not-a-dict', encode({ info: 'x' })),
    seed('top-level-list', 'le'),
    seed('unsorted-info-keys', `d4:infod4:name1:x6:lengthi1e12:piece lengthi16384e6:pieces20:${'a'.repeat(20)}ee`),
    seed('unsorted-file-keys', torrent(multi([new Map<string, Encodable>([['path', ['a']], ['length', 1]]) as never]))),
    seed('v2-only', torrent({ 'file tree': { a: { '': { length: 1, 'pieces root': Buffer.alloc(32) } } }, 'meta version': 2, name: 'x', 'piece length': 16384 })),
    seed('no-pieces', torrent(single({ pieces: undefined }))),
    seed('no-name', torrent(single({ name: undefined }))),
    seed('piece-length-zero', torrent(single({ 'piece length': 0 }))),
    seed('piece-length-negative', torrent(single({ 'piece length': -16384 }))),
    seed('piece-length-past-256-mib', torrent(single({ 'piece length': 268435457 }))),
    seed('piece-length-bigint', torrent(single({ 'piece length': 2n ** 64n }))),
    seed('length-and-files', torrent(single({ files: [file(['a'])] }))),
    seed('neither-length-nor-files', torrent(single({ length: undefined }))),
    seed('length-negative', torrent(single({ length: -1 }))),
    seed('length-2-to-the-53', torrent(single({ length: 2n ** 53n }))),
    seed('total-past-2-to-the-50', torrent(multi([file(['a'], 2 ** 49), file(['b'], 2 ** 49), file(['c'], 2)]))),
    seed('total-zero', torrent(single({ length: 0, pieces: Buffer.alloc(0) }))),
    seed('pieces-not-multiple-of-20', torrent(single({ pieces: Buffer.alloc(59) }))),
    seed('pieces-too-few', torrent(single({ pieces: hashes(2) }))),
    seed('name-dot-dot', torrent(single({ name: '..' }))),
    seed('name-absolute', torrent(single({ name: '/etc' }))),
    seed('name-drive-letter', torrent(single({ name: 'C:x' }))),
    seed('name-separator', torrent(single({ name: 'a/b' }))),
    seed('name-escape-sequence', torrent(single({ name: '\u001b[2Jx' }))),
    seed('name-256-bytes', torrent(single({ name: 'n'.repeat(256) }))),
    seed('name-integer', torrent(single({ name: 5 }))),
    seed('path-empty', torrent(multi([file([])]))),
    seed('path-component-integer', torrent(multi([file(['a', 1])]))),
    seed('path-not-a-list', torrent(multi([file('a' as never)]))),
    seed('path-257-components', torrent(multi([file(Array.from({ length: 256 }, () => 'd'))]))),
    seed('path-4097-bytes', torrent(multi([file(Array.from({ length: 17 }, () => 'p'.repeat(240)))]))),
    seed('path-duplicate', torrent(multi([file(['a']), file(['a'])]))),
    seed('path-file-is-a-folder', torrent(multi([file(['a']), file(['a', 'b'])]))),
    seed('files-entry-not-a-dict', torrent(multi(['x']))),
    seed('files-not-a-list', torrent(multi('x' as never))),
    seed('file-length-missing', torrent(multi([{ path: ['a'] }]))),
    seed('announce-list-garbage', torrent(single(), { 'announce-list': [1, ['x', 2, 'http://ok.example/a'], 'y'] })),
    ...truncations('single-file', valid, [1, 10, 47, 55, 65, 75, 90, 110, 130, valid.length - 2]),
  ];
}

const HASH = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';

export function magnetSeeds(): Seed[] {
  const full = `magnet:?xt=urn:btih:${HASH}&dn=${encodeURIComponent('A name & more')}&tr=${encodeURIComponent('udp://tracker.example:6969/announce')}&tr=${encodeURIComponent('http://[2001:db8::1]:80/announce')}&x.pe=${encodeURIComponent('192.0.2.1:6881')}&x.pe=${encodeURIComponent('[2001:db8::2]:6881')}&x.pe=${encodeURIComponent('peer.example:51413')}`;
  return [
    seed('valid-hex', `magnet:?xt=urn:btih:${HASH}`),
    seed('valid-every-field', full),
    seed('base32', 'magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK'),
    seed('numbered-forms', `magnet:?xt.1=urn:btih:${HASH}&tr.1=udp://a.example:1/x&tr.2=udp://a.example:1/x`),
    seed('upper-case-scheme', `MAGNET:?XT=urn:btih:${HASH}`),
    seed('two-infohashes', `magnet:?xt=urn:btih:${HASH}&xt=urn:btih:${'0'.repeat(40)}`),
    seed('same-infohash-twice', `magnet:?xt=urn:btih:${HASH}&xt=urn:btih:${HASH.toUpperCase()}`),
    seed('v2-only', 'magnet:?xt=urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e'),
    seed('hybrid', `magnet:?xt=urn:btih:${HASH}&xt=urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e`),
    seed('no-infohash', 'magnet:?dn=x'),
    seed('hash-39-hex', `magnet:?xt=urn:btih:${HASH.slice(1)}`),
    seed('hash-32-not-base32', `magnet:?xt=urn:btih:${'1'.repeat(32)}`),
    seed('not-a-magnet', 'http://example.com/'),
    seed('bare-scheme', 'magnet:?'),
    seed('bad-percent', `magnet:?xt=urn:btih:${HASH}&dn=%zz%&tr=%`),
    seed('peer-no-port', `magnet:?xt=urn:btih:${HASH}&x.pe=192.0.2.1`),
    seed('peer-port-0', `magnet:?xt=urn:btih:${HASH}&x.pe=192.0.2.1:0`),
    seed('peer-v6-unbracketed', `magnet:?xt=urn:btih:${HASH}&x.pe=2001:db8::1:80`),
    seed('peer-zone', `magnet:?xt=urn:btih:${HASH}&x.pe=%5Bfe80::1%25eth0%5D:80`),
    seed('tracker-other-schemes', `magnet:?xt=urn:btih:${HASH}&tr=wss://t.example&tr=javascript:alert(1)&tr=udp://%0a.example:1`),
    seed('empty-name', `magnet:?xt=urn:btih:${HASH}&dn=`),
    seed('invalid-utf8', Buffer.concat([Buffer.from(`magnet:?xt=urn:btih:${HASH}&dn=`), Buffer.from([0xff, 0xfe, 0xc3])])),
    ...truncations('every-field', Buffer.from(full), [8, 11, 20, 60, 64, 100, 150, 200, full.length - 3]),
  ];
}
