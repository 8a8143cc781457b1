/**
 * BEP 52 metainfo: libtorrent's own test torrents (fixtures/v2/libtorrent-test-torrents, from its
 * test suite) read as libtorrent reads them or refused with a clear reason, hostile file trees
 * and piece layers refused, hybrids whose halves disagree refused, and `create --v2` /
 * `--hybrid` torrents whose roots and layers are the payload's.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encode, type Encodable } from '../../src/bencode/index.js';
import { createTorrent } from '../../src/metainfo/create.js';
import { dataRoot, layerRoot, LEAF_BYTES, nextPow2 } from '../../src/merkle/merkle.js';
import { toMagnet, parseMagnet } from '../../src/metainfo/magnet.js';
import { MAX_PIECES, parseInfoDict, parseTorrent } from '../../src/metainfo/torrent.js';
import { InputError } from '../../src/util/errors.js';
import { ROOT } from '../support/sixswarm.js';

const LT = join(ROOT, 'fixtures', 'v2', 'libtorrent-test-torrents');
const read = (name: string) => parseTorrent(readFileSync(join(LT, name)));
const error = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe("libtorrent's v2 test torrents", () => {
  it.each([
    ['v2.torrent', '597b180c1a170a585dfc5e85d834d69013ceda174b8f357d5bb1a0ca509faf0a', true],
    ['v2_multipiece_file.torrent', '108ac2c3718ce722e6896edc56c4afa98f1d711ecaace7aad74fca418ebd03de', true],
    ['v2_only.torrent', '95e04d0c4bad94ab206efa884666fd89777dbe4f7bd9945af1829037a85c6192', false],
  ])('%s: the v2 info hash libtorrent\'s tests expect', (name, v2, hybrid) => {
    const m = read(name);
    expect(m.infoHashV2!.toString('hex')).toBe(v2);
    expect([m.v1, m.v2]).toEqual([hybrid, true]);
    if (!hybrid) expect(m.infoHashHex).toBe(v2.slice(0, 40));
  });

  it('reads torrents libtorrent reads: no piece layers (fetched later), empty files, symlinks as empty files', () => {
    expect(read('v2_no_piece_layers.torrent').pieceLayers.size).toBe(0);
    const empty = read('v2_empty_file.torrent');
    expect(empty.files.filter((f) => !f.pad).map((f) => [f.path.join('/'), f.length, f.offset])).toEqual([
      ['test/file1', 8192000, 0],
      ['test/file2', 0, 8192000],
      ['test/file3', 8192000, 8192000],
    ]);
    expect(read('v2_symlinks.torrent').files.length).toBeGreaterThan(0);
  });

  it.each([
    ['v2_invalid_pad_file.torrent', /is a padding file inside "info.file tree"/],
    ['v2_invalid_piece_layer_size.torrent', /piece layer of "test1MB" does not match its "pieces root"/],
    ['v2_non_multiple_piece_layer.torrent', /piece layer of "test1MB" does not match/],
    ['v2_invalid_piece_layer.torrent', /piece layer of "test1MB" is not a string/],
    ['v2_piece_layer_invalid_file_hash.torrent', /"piece layers" has an entry \(.*\) for no file of more than one piece/],
    ['v2_unordered_files.torrent', /keys of "info.file tree" are not sorted/],
    ['v2_zero_root.torrent', /no valid "pieces root"/],
    ['v2_zero_root_small.torrent', /no valid "pieces root"/],
    ['v2_missing_file_root_invalid_symlink.torrent', /no valid "pieces root"/],
    ['v2_invalid_file.torrent', /is not a dictionary/],
    ['v2_no_power2_piece.torrent', /piece length 32767 of a v2 torrent is not a power of two/],
    ['v2_piece_size.torrent', /piece length 2147483647 is not between 1 and/],
    ['v2_mismatching_metadata.torrent', /unsafe path in torrent/],
    ['v2_large_offset.torrent', /pieces are more than sixswarm handles/],
    ['v2_large_file.torrent', /does not match its "pieces root"/],
    ['v2_deep_recursion.torrent', /nested deeper than 64 levels/],
  ])('refuses %s', (name, message) => {
    expect(error(() => read(name))).toMatch(message);
  });
});

type Fields = Record<string, Encodable | undefined>;
const ROOT_A = Buffer.alloc(32, 0xaa);
const v2 = (tree: Encodable, info: Fields = {}, root: Fields = {}): Buffer =>
  encode({ ...root, info: { name: 'x', 'piece length': 16384, 'meta version': 2, 'file tree': tree, ...info } });
const file = (length: number, root?: Buffer, extra: Fields = {}) => ({ '': { length, ...(root ? { 'pieces root': root } : {}), ...extra } });

describe('hostile v2 metainfo', () => {
  it.each<[string, Buffer, RegExp]>([
    ['a newer meta version', v2({ a: file(1, ROOT_A) }, { 'meta version': 3 }), /meta version 3, newer than sixswarm understands/],
    ['meta version as a string', v2({ a: file(1, ROOT_A) }, { 'meta version': '2' }), /meta version \?, newer/],
    ['a file tree without meta version', v2({ a: file(1, ROOT_A) }, { 'meta version': undefined, pieces: Buffer.alloc(20), length: 1 }), /"file tree" but no "meta version" 2/],
    ['meta version 2 without a file tree', v2(undefined as unknown as Encodable, { 'file tree': undefined }), /meta version 2 but has no "file tree"/],
    ['a file tree that is a list', v2(['a']), /"info.file tree" should be a dictionary/],
    ['an empty file tree', v2({}), /holds no files/],
    ['the root a file', v2({ '': { length: 1 } }), /root of "info.file tree" is a file entry/],
    ['a file with siblings', v2({ a: { '': { length: 1, 'pieces root': ROOT_A }, b: file(1, ROOT_A) } }), /file "x\/a" in "info.file tree" has entries beside its own/],
    ['a negative length', v2({ a: file(-1, ROOT_A) }), /no valid "length"/],
    ['a length of the wrong type', v2({ a: { '': { length: 'ten' } } }), /no valid "length"/],
    ['a short root', v2({ a: file(5, Buffer.alloc(31, 1)) }), /no valid "pieces root"/],
    ['dot-dot', v2({ '..': file(1, ROOT_A) }), /component "\.\."/],
    ['a separator in a key', v2({ 'a/b': file(1, ROOT_A) }), /separator in component/],
    ['a control character', v2({ 'a\u001b[2J': file(1, ROOT_A) }), /control character/],
    ['an unsafe name', v2({ a: file(1, ROOT_A), b: { '': { length: 0 } } }, { name: '..' }), /unsafe name/],
    ['no data', v2({ a: file(0) }), /describes no data/],
    ['too many pieces', v2({ a: file(2 ** 46, ROOT_A) }), new RegExp(`pieces are more than sixswarm handles \\(${MAX_PIECES}\\)`)],
    ['a piece layer for a small file', v2({ a: file(100, ROOT_A) }, {}, { 'piece layers': new Map([[ROOT_A.toString('latin1'), Buffer.alloc(32)]]) }), /for no file of more than one piece/],
    ['piece layers that are a list', v2({ a: file(100000, ROOT_A) }, {}, { 'piece layers': [Buffer.alloc(32)] }), /"piece layers" should be a dictionary/],
  ])('refuses %s', (_name, buf, message) => {
    expect(error(() => parseTorrent(buf))).toMatch(message);
  });

  it('refuses a piece layer that does not prove its root, and keeps one that does', () => {
    const data = Buffer.alloc(40000, 3);
    const pieces = [data.subarray(0, 16384), data.subarray(16384, 32768), data.subarray(32768)].map((p) => dataRoot(p, 1));
    const layer = Buffer.concat(pieces);
    const root = layerRoot(layer, 0, 4);
    const good = parseTorrent(v2({ a: file(40000, root) }, {}, { 'piece layers': new Map([[root.toString('latin1'), layer]]) }));
    expect(good.pieceLayers.get(0)).toEqual(layer);
    const bad = Buffer.from(layer);
    bad[5]! ^= 1;
    expect(error(() => parseTorrent(v2({ a: file(40000, root) }, {}, { 'piece layers': new Map([[root.toString('latin1'), bad]]) })))).toMatch(/does not match its "pieces root"/);
  });

  it('reads a torrent of very many identical files (one root, one piece layer) in time linear in their number', () => {
    const data = Buffer.alloc(40000, 3);
    const layer = Buffer.concat([data.subarray(0, 16384), data.subarray(16384, 32768), data.subarray(32768)].map((p) => dataRoot(p, 1)));
    const root = layerRoot(layer, 0, 4);
    const torrentOf = (n: number): Buffer => {
      const tree: Record<string, Encodable> = {};
      for (let i = 0; i < n; i++) tree[`f${String(i).padStart(6, '0')}`] = file(40000, root);
      return v2(tree, {}, { 'piece layers': new Map([[root.toString('latin1'), layer]]) });
    };
    /** Parse time per file, the best of two runs. */
    const perFile = (n: number): number => {
      const buf = torrentOf(n);
      let best = Infinity;
      for (let run = 0; run < 2; run++) {
        const t = performance.now();
        const meta = parseTorrent(buf);
        best = Math.min(best, performance.now() - t);
        expect(meta.pieceLayers.size).toBe(n);
      }
      return best / n;
    };
    const small = perFile(10_000), large = perFile(80_000);
    // Linear: about the same per file (a quadratic parse costs 8 times as much per file at 80k).
    expect(large / small).toBeLessThan(3);
  });

  it.each<[string, Fields, RegExp]>([
    ['a renamed file', { files: [{ length: 20000, path: ['b'] }], pieces: Buffer.alloc(40) }, /file 1 is "x\/b" in one and "x\/a" in the other/],
    ['a file of another size', { files: [{ length: 19999, path: ['a'] }], pieces: Buffer.alloc(40) }, /"x\/a" differs in size or position/],
    ['a missing pad (misaligned second file)', { files: [{ length: 20000, path: ['a'] }, { length: 5, path: ['b'] }], pieces: Buffer.alloc(40) }, /"x\/b" differs in size or position/],
    ['an extra file', { files: [{ length: 20000, path: ['a'] }, { length: 12768, path: ['.pad', '12768'], attr: 'p' }, { length: 9, path: ['c'] }], pieces: Buffer.alloc(60) }, /3 files with data against 2|2 files with data against 1|differ/],
  ])('refuses a hybrid whose halves disagree: %s', (_name, v1, message) => {
    const tree = { a: file(20000, ROOT_A), ...(_name === 'a missing pad (misaligned second file)' ? { b: file(5, ROOT_A) } : {}) };
    expect(error(() => parseTorrent(v2(tree, v1)))).toMatch(message);
  });

  it('reads a hybrid made without tail padding (libtorrent 2.0.0-2.0.7) and one with it', () => {
    const tree = { a: file(20000, ROOT_A), b: file(5, ROOT_A) };
    const pad = { length: 12768, path: ['.pad', '12768'], attr: 'p' };
    const without = parseTorrent(v2(tree, { files: [{ length: 20000, path: ['a'] }, pad, { length: 5, path: ['b'] }], pieces: Buffer.alloc(60) }));
    const withTail = parseTorrent(v2(tree, { files: [{ length: 20000, path: ['a'] }, pad, { length: 5, path: ['b'] }, { length: 16379, path: ['.pad', '16379'], attr: 'p' }], pieces: Buffer.alloc(60) }));
    expect(without.totalLength).toBe(32773);
    expect(withTail.totalLength).toBe(49152);
    for (const m of [without, withTail]) expect(m.files.filter((f) => f.piecesRoot).map((f) => f.path.join('/'))).toEqual(['x/a', 'x/b']);
  });

  it('gives a v2 info dictionary fetched by magnet its SHA-256 hashes, and btmh magnets for it', () => {
    const info = encode({ name: 'x', 'piece length': 16384, 'meta version': 2, 'file tree': { a: file(10, ROOT_A) } });
    const m = parseInfoDict(info);
    expect(m.pieceLayers.size).toBe(0);
    const magnet = parseMagnet(toMagnet(m));
    expect(magnet.infoHashV2).toEqual(m.infoHashV2);
    expect(magnet.infoHash).toEqual(m.infoHash);
    expect(toMagnet(m)).not.toMatch(/btih/);
  });
});

describe('create --v2 and --hybrid', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sixswarm-v2-create-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));
  const files: Record<string, Buffer> = { 'a.bin': bytes(100_000, 1), 'sub/b.txt': bytes(5000, 2), 'sub/empty': Buffer.alloc(0), 'z.bin': bytes(32768, 3) };
  mkdirSync(join(dir, 'p', 'sub'), { recursive: true });
  for (const [rel, data] of Object.entries(files)) writeFileSync(join(dir, 'p', rel), data);

  it("makes the info dictionaries BEP 52's reference creator makes (bep_0052_torrent_creator.py, bittorrent.org 7b7b41f)", async () => {
    // The reference's info hashes for this deterministic payload, 32 KiB pieces (it writes no
    // creation date or creator: only the info dictionaries compare).
    const det = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => ((i * 131 + seed * 7) ^ (i >> 9)) & 0xff));
    const ref = join(dir, 'ref');
    mkdirSync(join(ref, 'd', 'sub'), { recursive: true });
    writeFileSync(join(ref, 'd', 'a.bin'), det(70000, 1));
    writeFileSync(join(ref, 'd', 'empty'), Buffer.alloc(0));
    writeFileSync(join(ref, 'd', 'sub', 'b.txt'), det(5000, 2));
    writeFileSync(join(ref, 'single.bin'), det(40000, 3));
    const expected = [
      ['d', 'hybrid', 'e79a182492b4beb914823fd9d7313c8d9b8d5017', '498bf4a2d64bc294cb20cebcb1b049bf17c22fd52e36538039efba58a340ee0a'],
      ['d', 'v2', undefined, '18e6e18b8d2c7b6ce7aaa4e4b42bafceb5b46251aa18f3ba24c1364bf271764e'],
      ['single.bin', 'hybrid', '8b0c7cfc4157c2f0d0d5fe6f0c06b9003b65fe32', '596e960f861db5e73bd9b7863b3b059611632df2db4f4d822ca256bcf5dea4f5'],
      ['single.bin', 'v2', undefined, '3978e1242c631e1859f97145e6723aecf1fa1dac788ad128a4849cb96793a172'],
    ] as const;
    for (const [path, format, v1, v2] of expected) {
      const m = parseTorrent(await createTorrent({ path: join(ref, path), format, pieceLength: 32768 }));
      expect(m.infoHashV2!.toString('hex'), `${path} ${format}`).toBe(v2);
      if (v1) expect(m.infoHashHex, `${path} ${format}`).toBe(v1);
    }
  });

  it('refuses a v2-only torrent of a folder holding one file (BEP 52 would read it as that file alone)', async () => {
    mkdirSync(join(dir, 'one'));
    writeFileSync(join(dir, 'one', 'only.bin'), bytes(100, 4));
    await expect(createTorrent({ path: join(dir, 'one'), format: 'v2' })).rejects.toThrow(/holds a single file: a v2-only torrent of it would be read as that file alone/);
    const hybrid = parseTorrent(await createTorrent({ path: join(dir, 'one'), format: 'hybrid' }));
    expect(hybrid.files[0]!.path).toEqual(['one', 'only.bin']);
  });

  it.each(['v2', 'hybrid'] as const)('%s: every root and layer is the payload\'s, files aligned to pieces', async (format) => {
    const m = parseTorrent(await createTorrent({ path: join(dir, 'p'), format, pieceLength: 32768 }));
    expect([m.v1, m.v2]).toEqual([format === 'hybrid', true]);
    for (const f of m.files.filter((x) => !x.pad)) {
      const data = files[f.path.slice(1).join('/')]!;
      expect(f.offset % 32768, f.path.join('/')).toBe(0);
      if (f.length === 0) {
        expect(f.piecesRoot).toBeUndefined();
        continue;
      }
      const blocks = Math.ceil(data.length / LEAF_BYTES);
      const pieces = Math.ceil(data.length / 32768);
      const layer = Buffer.concat(Array.from({ length: pieces }, (_, p) => dataRoot(data.subarray(p * 32768, (p + 1) * 32768), pieces > 1 ? 2 : nextPow2(blocks))));
      expect(f.piecesRoot).toEqual(pieces > 1 ? layerRoot(layer, 1, nextPow2(pieces)) : layer);
    }
    expect([...m.pieceLayers.keys()].map((i) => m.files[i]!.path.join('/'))).toEqual(['p/a.bin']);
    if (format === 'hybrid') {
      // The v1 half: the same files with BEP 47 padding up to each piece, the last one too.
      expect(m.files.map((f) => [f.path.join('/'), f.length, f.pad])).toEqual([
        ['p/a.bin', 100_000, false],
        ['p/.pad/31072', 31072, true],
        ['p/sub/b.txt', 5000, false],
        ['p/.pad/27768', 27768, true],
        ['p/sub/empty', 0, false],
        ['p/z.bin', 32768, false],
      ]);
    }
  });
});
