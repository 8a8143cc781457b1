import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, type Encodable } from '../../src/bencode/index.js';
import { parseInfoDict, parseTorrent, readTorrentFile } from '../../src/metainfo/torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { InputError } from '../../src/util/errors.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'torrents');
const LT_INSPECT = join(FIXTURES, 'lt_inspect.py');

interface LtView {
  info_hash_v1: string | null;
  info_hash_v2: string | null;
  name: string;
  piece_length: number;
  num_pieces: number;
  total_size: number;
  private: boolean;
  trackers: string[][];
  files: { path: string[]; length: number; offset: number; pad: boolean; pieces_root?: string }[];
  piece_hashes: string;
  pieces_ok?: boolean;
}

const libtorrentView = (torrent: string, data?: string): LtView =>
  JSON.parse(execFileSync('/usr/bin/python3', [LT_INSPECT, torrent, ...(data ? [data] : [])], { encoding: 'utf8' })) as LtView;

function expectSameAsLibtorrent(m: Metainfo, lt: LtView): void {
  // A v2-only torrent is known by its v2 hash cut to 20 bytes.
  expect(m.infoHashHex).toBe(lt.info_hash_v1 ?? lt.info_hash_v2!.slice(0, 40));
  expect(m.infoHashV2?.toString('hex') ?? null).toBe(lt.info_hash_v2);
  expect(m.name).toBe(lt.name);
  expect(m.pieceLength).toBe(lt.piece_length);
  expect(m.pieceCount).toBe(lt.num_pieces);
  expect(m.totalLength).toBe(lt.total_size);
  expect(m.private).toBe(lt.private);
  // libtorrent shuffles the trackers inside each tier (BEP 12); sixswarm keeps the file's order.
  const sorted = (tiers: string[][]): string[][] => tiers.map((t) => [...t].sort());
  expect(sorted(m.announce)).toEqual(sorted(lt.trackers));
  expect(m.files.map(({ piecesRoot, ...f }) => ({ ...f, ...(piecesRoot ? { pieces_root: piecesRoot.toString('hex') } : {}) }))).toEqual(lt.files);
  expect(m.pieceHashes.toString('hex')).toBe(lt.piece_hashes);
}

// ---- builders for hand-made torrents ----
type Fields = Record<string, Encodable | undefined>;

function single(info: Fields = {}, root: Fields = {}): Buffer {
  return encode({
    announce: 'http://[::1]:6969/announce',
    ...root,
    info: { name: 'x', 'piece length': 16384, length: 20000, pieces: Buffer.alloc(40), ...info },
  });
}

interface FileSpec {
  path: Encodable[];
  length: number;
  attr?: string;
  'path.utf-8'?: Encodable[];
}

function multi(files: FileSpec[], info: Fields = {}): Buffer {
  const total = files.reduce((s, f) => s + f.length, 0);
  const pieces = 'pieces' in info ? info.pieces : Buffer.alloc(20 * Math.ceil(total / 16384));
  return single({ length: undefined, files: files.map((f) => ({ ...f })), ...info, pieces });
}

/** A dictionary in the given key order (the encoder always sorts). */
function rawDict(pairs: [string, Buffer][]): Buffer {
  return Buffer.concat([Buffer.from('d'), ...pairs.flatMap(([k, v]) => [encode(k), v]), Buffer.from('e')]);
}

function parseError(buf: Buffer): string {
  try {
    parseTorrent(buf);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error('parseTorrent accepted a torrent it should refuse');
}

describe('parseTorrent on hand-made torrents', () => {
  it('parses a single-file torrent and hashes the raw info bytes', () => {
    const buf = single({}, { comment: 'hello', 'created by': 'test', 'creation date': 1700000000 });
    const m = parseTorrent(buf);
    const infoStart = buf.indexOf('4:infod') + 6;
    const infoBytes = buf.subarray(infoStart, buf.length - 1);
    expect(m.infoHash).toEqual(createHash('sha1').update(infoBytes).digest());
    expect(m.infoHashHex).toBe(m.infoHash.toString('hex'));
    expect(m.infoBuffer).toEqual(infoBytes);
    expect(m).toMatchObject({
      name: 'x',
      pieceLength: 16384,
      pieceCount: 2,
      totalLength: 20000,
      multiFile: false,
      private: false,
      announce: [['http://[::1]:6969/announce']],
      urlList: [],
      comment: 'hello',
      createdBy: 'test',
      creationDate: 1700000000,
    });
    expect(m.files).toEqual([{ path: ['x'], length: 20000, offset: 0, pad: false }]);
    expect(m.pieceHashes.length).toBe(40);
  });

  it('lays out multi-file torrents with offsets, the name first and BEP 47 pad files flagged', () => {
    const m = parseTorrent(
      multi([
        { path: ['a.bin'], length: 10000 },
        { path: ['.pad', '6384'], length: 6384, attr: 'p' },
        { path: ['sub', 'b'], length: 0 },
        { path: ['sub', 'c'], length: 5000, attr: 'x' },
        { path: ['.pad', '6384'], length: 6384, attr: 'p' },
      ]),
    );
    expect(m.multiFile).toBe(true);
    expect(m.totalLength).toBe(27768);
    expect(m.files).toEqual([
      { path: ['x', 'a.bin'], length: 10000, offset: 0, pad: false },
      { path: ['x', '.pad', '6384'], length: 6384, offset: 10000, pad: true },
      { path: ['x', 'sub', 'b'], length: 0, offset: 16384, pad: false },
      { path: ['x', 'sub', 'c'], length: 5000, offset: 16384, pad: false },
      { path: ['x', '.pad', '6384'], length: 6384, offset: 21384, pad: true },
    ]);
  });

  it('prefers valid name.utf-8 and path.utf-8, and falls back when they are not UTF-8', () => {
    const good = parseTorrent(
      multi([{ path: [Buffer.from([0xe9, 0x74, 0xe9])], 'path.utf-8': ['été'], length: 100 }], {
        name: Buffer.from([0x63, 0x61, 0x66, 0xe9]),
        'name.utf-8': 'café',
      }),
    );
    expect(good.name).toBe('café');
    expect(good.files[0]!.path).toEqual(['café', 'été']);
    const bad = parseTorrent(single({ name: 'plain', 'name.utf-8': Buffer.from([0xff, 0xfe]) }));
    expect(bad.name).toBe('plain');
  });

  it('keeps http(s)/udp trackers in tiers, de-duplicated, and falls back to announce', () => {
    const m = parseTorrent(
      single({}, {
        announce: 'http://ignored.example/announce',
        'announce-list': [
          ['udp://[::1]:6969', 'wss://webrtc.example', 'not a url', 'udp://[::1]:6969'],
          ['https://t.example/a', 'udp://[::1]:6969'],
          ['dht://x'],
          'not-a-tier',
        ],
        'url-list': ['http://[::1]:8080/x', 'ftp://x.example/', 'http://[::1]:8080/x'],
      }),
    );
    expect(m.announce).toEqual([['udp://[::1]:6969'], ['https://t.example/a']]);
    expect(m.urlList).toEqual(['http://[::1]:8080/x']);

    const fallback = parseTorrent(single({}, { 'announce-list': [['gopher://x']], 'url-list': 'https://ws.example/f' }));
    expect(fallback.announce).toEqual([['http://[::1]:6969/announce']]);
    expect(fallback.urlList).toEqual(['https://ws.example/f']);
    expect(parseTorrent(single({}, { announce: 'magnet:?' })).announce).toEqual([]);
  });

  it('reads private only as the integer 1', () => {
    expect(parseTorrent(single({ private: 1 })).private).toBe(true);
    expect(parseTorrent(single({ private: 0 })).private).toBe(false);
    expect(parseTorrent(single({ private: '1' })).private).toBe(false);
  });

  it('parseInfoDict builds the same Metainfo from the raw info bytes (as from ut_metadata)', () => {
    const file = parseTorrent(single({ private: 1 }));
    const m = parseInfoDict(Buffer.from(file.infoBuffer), { announce: [['udp://[::1]:1']] });
    expect(m.infoHashHex).toBe(file.infoHashHex);
    expect(m.files).toEqual(file.files);
    expect(m.private).toBe(true);
    expect(m.announce).toEqual([['udp://[::1]:1']]);
    expect(() => parseInfoDict(Buffer.from('le'))).toThrow(/not a dictionary/);
    expect(() => parseInfoDict(Buffer.from('d4:name1:xe'))).toThrow(InputError);
  });
});

describe('parseTorrent refuses hostile and malformed torrents', () => {
  it('l-3:e gives a bencode error', () => {
    expect(parseError(Buffer.from('l-3:e'))).toMatch(/not a valid torrent file: bad bencode at byte 1/);
  });

  it('a 50,000-deep list fails fast with a depth error', () => {
    const deep = Buffer.from(`${'l'.repeat(50_000)}${'e'.repeat(50_000)}`);
    const started = Date.now();
    expect(parseError(deep)).toMatch(/nested deeper than 64 levels/);
    const inInfo = Buffer.concat([Buffer.from('d4:info'), deep, Buffer.from('e')]);
    expect(parseError(inInfo)).toMatch(/nested deeper than 64 levels/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it.each([
    ['not a dictionary', Buffer.from('le'), /top level is not a dictionary/],
    ['no info', encode({ announce: 'http://x/a' }), /no "info" dictionary/],
    ['info not a dictionary', encode({ info: 'x' }), /"info" is not a dictionary/],
    ['trailing bytes', Buffer.concat([single(), Buffer.from('xx')]), /trailing bytes/],
    ['duplicate keys', Buffer.from('d4:infod4:name1:x4:name1:yee'), /duplicate dictionary key "name"/],
    ['no pieces', single({ pieces: undefined }), /no "pieces"/],
    ['no name', single({ name: undefined }), /no "name"/],
    ['name not a string', single({ name: 5 }), /"info.name" should be a string but is an integer/],
    ['pieces not a multiple of 20', single({ pieces: Buffer.alloc(41) }), /"pieces" is 41 bytes, not a multiple of 20/],
    ['wrong piece count', single({ pieces: Buffer.alloc(60) }), /"pieces" is 60 bytes \(3 hashes\) but 20000 bytes in pieces of 16384 need 40 bytes \(2 hashes\)/],
    ['negative length', single({ length: -5 }), /"info.length" is negative \(-5\)/],
    ['negative file length', multi([{ path: ['a'], length: 10 }, { path: ['b'], length: -1 }]), /"info.files\[1\].length" is negative/],
    ['huge length', single({ length: 2 ** 51, pieces: Buffer.alloc(0) }), /total size is huge/],
    ['length beyond 2^53', single({ length: 2n ** 60n }), /"info.length" is out of range/],
    ['huge sum of files', multi([{ path: ['a'], length: 2 ** 49 }, { path: ['b'], length: 2 ** 49 }, { path: ['c'], length: 2 ** 49 }], { pieces: Buffer.alloc(0) }), /huge/],
    ['zero piece length', single({ 'piece length': 0 }), /piece length 0 is not between 1 and 268435456/],
    ['negative piece length', single({ 'piece length': -16384 }), /piece length -16384/],
    ['piece length over 256 MiB', single({ 'piece length': 2 ** 29 }), /piece length 536870912/],
    ['piece length a string', single({ 'piece length': '16384' }), /"info.piece length" should be an integer/],
    ['both length and files', single({ files: [{ path: ['a'], length: 1 }] }), /exactly one of "length".*it has both/],
    ['neither length nor files', single({ length: undefined }), /it has neither/],
    ['no data', multi([{ path: ['a'], length: 0 }], { pieces: Buffer.alloc(0) }), /total size is 0/],
    ['empty files list', single({ length: undefined, files: [], pieces: Buffer.alloc(0) }), /total size is 0/],
    ['file entry not a dict', single({ length: undefined, files: ['a'] }), /"info.files\[0\]" should be a dictionary/],
    ['path not a list', single({ length: undefined, files: [{ path: 'a', length: 1 }], pieces: Buffer.alloc(20) }), /"info.files\[0\].path" should be a list/],
    ['empty path list', multi([{ path: [], length: 1 }]), /"info.files\[0\].path" is an empty list/],
  ])('%s', (_name, buf, message) => {
    expect(parseError(buf)).toMatch(message);
  });

  it('reads a v2-only torrent: the file named by the tree, aligned to pieces, known by its SHA-256', () => {
    const root = Buffer.alloc(32, 7);
    const v2 = single({ 'meta version': 2, pieces: undefined, length: undefined, 'file tree': { a: { '': { length: 5, 'pieces root': root } } } });
    const m = parseTorrent(v2);
    expect([m.v1, m.v2, m.multiFile]).toEqual([false, true, false]);
    expect(m.files).toEqual([
      { path: ['a'], length: 5, offset: 0, pad: false, piecesRoot: root },
      { path: ['x', '.pad', '16379'], length: 16379, offset: 5, pad: true },
    ]);
    expect(m.infoHash).toEqual(m.infoHashV2!.subarray(0, 20));
    expect(m.pieceHashes.length).toBe(0);
  });

  it('refuses unsorted keys in the info dictionary, at any depth', () => {
    const info = rawDict([
      ['name', encode('x')],
      ['length', encode(20000)],
      ['piece length', encode(16384)],
      ['pieces', encode(Buffer.alloc(40))],
    ]);
    expect(parseError(rawDict([['info', info]]))).toMatch(/keys of "info" are not sorted \("length" comes after "name"\)/);
    const file = rawDict([
      ['path', encode(['a'])],
      ['length', encode(1)],
    ]);
    const nested = rawDict([
      ['files', Buffer.concat([Buffer.from('l'), file, Buffer.from('e')])],
      ['name', encode('x')],
      ['piece length', encode(16384)],
      ['pieces', encode(Buffer.alloc(20))],
    ]);
    expect(parseError(rawDict([['info', nested]]))).toMatch(/keys of "info.files\[0\]" are not sorted/);
  });

  it.each([
    ['..', ['..', '..', 'etc', 'passwd'], 'unsafe path in torrent: "x/../../etc/passwd" (component "..")'],
    ['.', ['a', '.', 'b'], 'unsafe path in torrent: "x/a/./b" (component ".")'],
    ['empty component', ['a', ''], 'unsafe path in torrent: "x/a/" (empty component)'],
    ['slash', ['a/../../b'], /separator in component "a\/..\/..\/b"/],
    ['backslash', ['..\\..\\win.ini'], /separator in component/],
    ['absolute', ['/etc/passwd'], /absolute path in component "\/etc\/passwd"/],
    ['absolute backslash', ['\\Windows'], /absolute path/],
    ['NUL', ['a\u0000b'], /control character in component "a\\x00b"/],
    ['escape sequence', ['\u001b[2Jgotcha'], /control character in component "\\x1b\[2Jgotcha"/],
    ['C1 control', ['a\u009bb'], /control character in component "a\\x9bb"/],
    ['drive letter', ['C:'], /drive letter in component "C:"/],
    ['drive-relative', ['c:evil.exe'], /drive letter/],
    ['long component', ['x'.repeat(256)], /component longer than 255 bytes/],
    ['long multibyte component', ['é'.repeat(128)], /component longer than 255 bytes/],
    ['long path', Array.from({ length: 20 }, () => 'y'.repeat(250)), /path of 50\d\d bytes is longer than 4096/],
  ])('path escape: %s', (_name, path, message) => {
    const err = parseError(multi([{ path, length: 100 }]));
    if (typeof message === 'string') expect(err).toBe(message);
    else expect(err).toMatch(message);
  });

  it('checks the preferred path.utf-8, so it cannot smuggle an escape past a clean path', () => {
    expect(parseError(multi([{ path: ['ok'], 'path.utf-8': ['..', 'x'], length: 1 }]))).toMatch(/component "\.\."/);
  });

  it.each([
    ['..', /unsafe name in torrent: "\.\." \(component "\.\."\)/],
    ['.', /unsafe name/],
    ['', /unsafe name in torrent: "" \(empty component\)/],
    ['a/b', /unsafe name in torrent: "a\/b" \(separator/],
    ['/etc', /absolute path/],
    ['C:x', /drive letter/],
    ['x\ny', /control character/],
  ])('unsafe name %j', (name, message) => {
    expect(parseError(single({ name }))).toMatch(message);
    expect(parseError(multi([{ path: ['f'], length: 1 }], { name }))).toMatch(message);
  });

  it('refuses duplicate paths and a file that is also a folder', () => {
    expect(parseError(multi([{ path: ['a', 'b'], length: 1 }, { path: ['a', 'b'], length: 2 }]))).toBe('duplicate file path in torrent: "x/a/b"');
    expect(parseError(multi([{ path: ['a', 'b'], length: 1 }, { path: ['a', 'b', 'c'], length: 2 }]))).toBe(
      'file path in torrent is also a folder of another file: "x/a/b" (and "x/a/b/c")',
    );
    expect(parseError(multi([{ path: ['a', 'b', 'c'], length: 1 }, { path: ['a', 'b'], length: 2 }]))).toMatch(/also a folder/);
    // Pad files are never written, so repeats among them are fine.
    expect(() => parseTorrent(multi([{ path: ['a'], length: 1 }, { path: ['.pad', '5'], length: 5, attr: 'p' }, { path: ['b'], length: 1 }, { path: ['.pad', '5'], length: 5, attr: 'p' }]))).not.toThrow();
  });
});

describe('torrents made by other programs', () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, LtView>;

  it.each(Object.keys(expected))('committed fixture %s matches what libtorrent saw', async (name) => {
    const m = await readTorrentFile(join(FIXTURES, name));
    expectSameAsLibtorrent(m, expected[name]!);
  });

  it('the committed libtorrent hybrid keeps its pad files and v1 view; mktorrent fixtures keep extras', async () => {
    const hybrid = await readTorrentFile(join(FIXTURES, 'libtorrent-hybrid.torrent'));
    expect(hybrid.files.filter((f) => f.pad).length).toBeGreaterThan(0);
    expect(hybrid.createdBy).toBe('libtorrent fixture');
    const multiPrivate = await readTorrentFile(join(FIXTURES, 'mktorrent-multi-private.torrent'));
    expect(multiPrivate.private).toBe(true);
    expect(multiPrivate.urlList).toEqual(['http://[::1]:8080/multi/']);
    expect(multiPrivate.files.map((f) => f.path.join('/'))).toContain('multi/sub/ünï 文件.txt');
    expect((await readTorrentFile(join(FIXTURES, 'mktorrent-single.torrent'))).comment).toBe('single-file fixture');
  });

  describe('made here and now', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'sixswarm-parse-'));
      mkdirSync(join(dir, 'data', 'tree', 'deep', 'er'), { recursive: true });
      let seed = 1;
      const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 13 + seed++) & 0xff));
      writeFileSync(join(dir, 'data', 'one.bin'), bytes(123_457));
      writeFileSync(join(dir, 'data', 'tree', 'a.txt'), bytes(40_000));
      writeFileSync(join(dir, 'data', 'tree', 'deep', 'b.bin'), bytes(17));
      writeFileSync(join(dir, 'data', 'tree', 'deep', 'er', 'c'), bytes(70_001));
      writeFileSync(join(dir, 'data', 'tree', 'zero'), Buffer.alloc(0));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const mktorrent = (args: string[]): string => {
      const out = join(dir, `mk-${Math.random().toString(36).slice(2)}.torrent`);
      execFileSync('mktorrent', ['-o', out, ...args], { stdio: 'ignore' });
      return out;
    };

    it('mktorrent single file with several -a tiers', async () => {
      const file = mktorrent(['-l', '15', '-a', 'udp://[::1]:1', '-a', 'http://127.0.0.1:2/a,http://[::1]:2/a', join(dir, 'data', 'one.bin')]);
      const m = await readTorrentFile(file);
      expectSameAsLibtorrent(m, libtorrentView(file, join(dir, 'data')));
      expect(m.announce).toEqual([['udp://[::1]:1'], ['http://127.0.0.1:2/a', 'http://[::1]:2/a']]);
      expect(m.createdBy).toMatch(/^mktorrent/);
    });

    it('mktorrent multi-file, private', async () => {
      const file = mktorrent(['-p', '-l', '15', '-a', 'udp://[::1]:1', join(dir, 'data', 'tree')]);
      const m = await readTorrentFile(file);
      const lt = libtorrentView(file, join(dir, 'data'));
      expectSameAsLibtorrent(m, lt);
      expect(lt.pieces_ok).toBe(true);
      expect(m.private).toBe(true);
      expect(m.multiFile).toBe(true);
    });

    it('python3-libtorrent hybrid v1+v2 torrents with pad files (multi and single file)', async () => {
      const script = `
import sys, libtorrent as lt
fs = lt.file_storage()
lt.add_files(fs, sys.argv[1])
ct = lt.create_torrent(fs, 16384)
ct.add_tracker('udp://[::1]:6969', 0)
lt.set_piece_hashes(ct, sys.argv[2])
open(sys.argv[3], 'wb').write(lt.bencode(ct.generate()))
`;
      for (const [src, name] of [[join(dir, 'data', 'tree'), 'lt-multi.torrent'], [join(dir, 'data', 'one.bin'), 'lt-single.torrent']] as const) {
        const out = join(dir, name);
        execFileSync('/usr/bin/python3', ['-c', script, src, join(dir, 'data'), out]);
        const m = await readTorrentFile(out);
        const lt = libtorrentView(out, join(dir, 'data'));
        expectSameAsLibtorrent(m, lt);
        expect(lt.pieces_ok).toBe(true);
        if (name === 'lt-multi.torrent') expect(m.files.some((f) => f.pad)).toBe(true);
      }
    });

    it('python3-libtorrent v2-only torrents (multi and single file) are read as libtorrent reads them', async () => {
      const out = join(dir, 'v2.torrent');
      execFileSync('/usr/bin/python3', [
        '-c',
        `
import sys, libtorrent as lt
fs = lt.file_storage()
lt.add_files(fs, sys.argv[1])
ct = lt.create_torrent(fs, 16384, lt.create_torrent.v2_only)
lt.set_piece_hashes(ct, sys.argv[2])
open(sys.argv[3], 'wb').write(lt.bencode(ct.generate()))
`,
        join(dir, 'data', 'tree'),
        join(dir, 'data'),
        out,
      ]);
      expectSameAsLibtorrent(await readTorrentFile(out), libtorrentView(out));
      const single = join(dir, 'v2-single.torrent');
      execFileSync('/usr/bin/python3', ['-c', `
import sys, libtorrent as lt
fs = lt.file_storage()
lt.add_files(fs, sys.argv[1])
ct = lt.create_torrent(fs, 32768, lt.create_torrent.v2_only)
lt.set_piece_hashes(ct, sys.argv[2])
open(sys.argv[3], 'wb').write(lt.bencode(ct.generate()))
`, join(dir, 'data', 'one.bin'), join(dir, 'data'), single]);
      const m = await readTorrentFile(single);
      expectSameAsLibtorrent(m, libtorrentView(single));
      expect(m.pieceLayers.size).toBe(1);
    });
  });

  it('readTorrentFile names the file and refuses missing files and folders', async () => {
    await expect(readTorrentFile('/nonexistent/x.torrent')).rejects.toThrow('no such torrent file: "/nonexistent/x.torrent"');
    await expect(readTorrentFile(FIXTURES)).rejects.toThrow(/is not a file/);
  });
});
