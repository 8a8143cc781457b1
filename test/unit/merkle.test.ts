/**
 * BEP 52 merkle trees (src/merkle): the arithmetic against a naive full tree, and one file's tree
 * against libtorrent's known answers: the roots it put in a torrent of a deterministic payload,
 * and what it answered, as a seed, to hash requests for that payload (fixtures/v2, made by
 * make-fixtures.sh). Peers' hashes must prove the root; hostile requests are refused.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileTree, LAYER_CHUNK, uncleCount, type HashRange } from '../../src/merkle/file-tree.js';
import { dataRoot, foldProof, HASH_BYTES, layerRoot, leafHashes, LEAF_BYTES, nextPow2, padHash } from '../../src/merkle/merkle.js';
import { parseTorrent } from '../../src/metainfo/torrent.js';
import { ROOT } from '../support/sixswarm.js';

const FIXTURES = join(ROOT, 'fixtures', 'v2');
const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

/** The payload make-fixtures.sh hashed with libtorrent. */
function payload(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = ((i * 131 + seed * 7) ^ (i >> 9)) & 0xff;
  return b;
}

/** Every level of a tree the slow way: leaves padded with zero hashes to a power of two, pairs hashed up. */
function naiveTree(data: Buffer): Buffer[][] {
  const blocks = Math.max(1, Math.ceil(data.length / LEAF_BYTES));
  const width = nextPow2(blocks);
  let level: Buffer[] = [];
  for (let b = 0; b < width; b++) level.push(b < blocks ? sha256(data.subarray(b * LEAF_BYTES, (b + 1) * LEAF_BYTES)) : Buffer.alloc(32));
  const levels = [level];
  while (level.length > 1) {
    const up: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(sha256(Buffer.concat([level[i]!, level[i + 1]!])));
    levels.push((level = up));
  }
  return levels;
}

const fixture = JSON.parse(readFileSync(join(FIXTURES, 'libtorrent-hash-answers.json'), 'utf8')) as {
  roots: Record<string, string>;
  answers: ({ file: string; answer: string | null } & HashRange)[];
};
const DATA: Record<string, Buffer> = { 'big.bin': payload(1_000_000, 1), 'small.bin': payload(40_000, 2), 'tiny.txt': payload(100, 3) };
const PIECE = 65536;

function treeOf(name: string, withLayer = true): FileTree {
  const data = DATA[name]!;
  const t = new FileTree(data.length, PIECE, Buffer.from(fixture.roots[name]!, 'hex'));
  if (withLayer && t.layered) {
    const layer = Buffer.concat(Array.from({ length: t.pieces }, (_, p) => dataRoot(data.subarray(p * PIECE, (p + 1) * PIECE), PIECE / LEAF_BYTES)));
    expect(t.setLayer(layer)).toBe(true);
  }
  return t;
}

describe('merkle arithmetic', () => {
  it('pad hashes are the roots of zero subtrees', () => {
    expect(padHash(0)).toEqual(Buffer.alloc(32));
    expect(padHash(1)).toEqual(sha256(Buffer.alloc(64)));
    expect(padHash(2)).toEqual(sha256(Buffer.concat([padHash(1), padHash(1)])));
  });

  it.each([1, 100, LEAF_BYTES, LEAF_BYTES + 1, 3 * LEAF_BYTES, 5 * LEAF_BYTES - 7, 17 * LEAF_BYTES])('the root of %i bytes is the naive tree\'s', (n) => {
    const data = payload(n, n);
    const naive = naiveTree(data);
    const width = nextPow2(Math.ceil(n / LEAF_BYTES));
    expect(dataRoot(data, width)).toEqual(naive.at(-1)![0]);
    // Any layer padded to its width folds to the same root.
    for (let level = 0; level < naive.length; level++) {
      const real = Math.ceil(Math.ceil(n / LEAF_BYTES) / 2 ** level);
      expect(layerRoot(Buffer.concat(naive[level]!.slice(0, real)), level, naive[level]!.length)).toEqual(naive.at(-1)![0]);
    }
  });

  it('folds a proof by the node\'s position: even on the left, odd on the right', () => {
    const data = payload(8 * LEAF_BYTES, 9);
    const naive = naiveTree(data);
    const leaf = 5; // path: 5 (odd), 2 (even), 1 (odd)
    const uncles = [naive[0]![4]!, naive[1]![3]!, naive[2]![0]!];
    expect(foldProof(naive[0]![5]!, leaf, uncles)).toEqual(naive[3]![0]);
    expect(foldProof(naive[0]![5]!, 4, uncles)).not.toEqual(naive[3]![0]);
  });
});

describe("libtorrent's known answers", () => {
  it('the roots libtorrent put in its torrent are the roots of the payload', () => {
    const meta = parseTorrent(readFileSync(join(FIXTURES, 'libtorrent-v2-kav.torrent')));
    for (const f of meta.files.filter((x) => !x.pad)) {
      const name = f.path.at(-1)!;
      const data = DATA[name]!;
      expect(f.piecesRoot, name).toEqual(naiveTree(data).at(-1)![0]);
      if (fixture.roots[name]) expect(f.piecesRoot!.toString('hex')).toBe(fixture.roots[name]);
    }
    // The one file of more than a piece has its layer in the torrent, and it proves the root.
    expect([...meta.pieceLayers.keys()].map((i) => meta.files[i]!.path.at(-1))).toEqual(['big.bin']);
    expect(treeOf('big.bin').pieceLayer).toEqual(meta.pieceLayers.get(0));
  });

  it.each(fixture.answers.map((a) => [`${a.file} base ${a.base} index ${a.index} count ${a.count} proofs ${a.proofLayers}`, a] as const))('answers %s as libtorrent does (or refuses a layer it need not serve)', (_name, a) => {
    const tree = treeOf(a.file);
    const local = tree.leafPiece(a);
    const pieceData = local === undefined ? undefined : DATA[a.file]!.subarray(local * PIECE, Math.min((local + 1) * PIECE, tree.length));
    const ours = tree.answer(a, pieceData);
    // BEP 52 asks peers to serve the leaf and piece layers; libtorrent serves any layer of a full tree.
    const served = (a.base === 0 && a.count <= tree.pieceWidth) || (a.base === tree.pieceLevel && tree.layered);
    if (!served) return expect(ours).toBeUndefined();
    expect(ours?.toString('hex')).toBe(a.answer);
    expect(ours!.length).toBe((a.count + uncleCount(a)) * HASH_BYTES);
  });

  it('rebuilds a piece layer from libtorrent\'s chunks, each proven against the root', () => {
    const full = treeOf('big.bin');
    const tree = treeOf('big.bin', false);
    expect(tree.complete).toBe(false);
    // 16 pieces: one chunk of the whole layer, proofs up to the root (4 layers above it).
    expect(tree.missingChunks()).toEqual([{ base: 2, index: 0, count: 16, proofLayers: 3 }]);
    const answer = fixture.answers.find((a) => a.file === 'big.bin' && a.base === 2 && a.count === 16 && a.proofLayers === 3)!;
    const hashes = Buffer.from(answer.answer!, 'hex');
    // A flipped bit anywhere, a wrong count or proof depth, or an unasked range: refused, nothing kept.
    const bad = Buffer.from(hashes);
    bad[40]! ^= 1;
    expect(tree.addChunk({ base: 2, index: 0, count: 16, proofLayers: 3 }, bad)).toBe(false);
    expect(tree.addChunk({ base: 2, index: 0, count: 8, proofLayers: 3 }, hashes.subarray(0, 9 * 32))).toBe(false);
    expect(tree.addChunk({ base: 2, index: 0, count: 16, proofLayers: 2 }, hashes)).toBe(false);
    expect(tree.addChunk({ base: 1, index: 0, count: 16, proofLayers: 3 }, hashes)).toBe(false);
    expect(tree.addChunk({ base: 2, index: 0, count: 16, proofLayers: 3 }, hashes.subarray(32))).toBe(false);
    expect(tree.complete).toBe(false);
    expect(tree.pieceHash(3)).toBeUndefined();
    expect(tree.addChunk({ base: 2, index: 0, count: 16, proofLayers: 3 }, hashes)).toBe(true);
    expect(tree.complete).toBe(true);
    expect(tree.pieceLayer).toEqual(full.pieceLayer);
  });

  it('checks a piece\'s leaf hashes against its known hash', () => {
    const tree = treeOf('big.bin');
    const answer = fixture.answers.find((a) => a.file === 'big.bin' && a.base === 0 && a.index === 4 && a.count === 4)!;
    const hashes = Buffer.from(answer.answer!, 'hex');
    const r = { base: 0, index: 4, count: 4, proofLayers: 5 };
    expect(tree.checkLeaves(r, hashes)).toEqual(leafHashes(DATA['big.bin']!.subarray(PIECE, 2 * PIECE)));
    const bad = Buffer.from(hashes);
    bad[0]! ^= 1;
    expect(tree.checkLeaves(r, bad)).toBeUndefined();
    // Without the piece's hash (its layer not known yet) nothing can be proven.
    expect(treeOf('big.bin', false).checkLeaves(r, hashes)).toBeUndefined();
  });
});

describe('hostile hash requests', () => {
  const tree = treeOf('big.bin'); // 62 blocks: 64 leaves, height 6, piece level 2
  it.each<[string, HashRange]>([
    ['count 0', { base: 0, index: 0, count: 0, proofLayers: 0 }],
    ['count not a power of two', { base: 2, index: 0, count: 3, proofLayers: 0 }],
    ['index not a multiple of count', { base: 2, index: 2, count: 4, proofLayers: 0 }],
    ['past the layer', { base: 2, index: 16, count: 16, proofLayers: 0 }],
    ['base at the root', { base: 6, index: 0, count: 1, proofLayers: 0 }],
    ['base far above', { base: 2 ** 32 - 1, index: 0, count: 2, proofLayers: 0 }],
    ['proofs above the root', { base: 2, index: 0, count: 2, proofLayers: 4 }],
    ['huge count', { base: 0, index: 0, count: 2 ** 31, proofLayers: 0 }],
    ['huge index', { base: 0, index: 2 ** 32 - 4, count: 4, proofLayers: 0 }],
    ['leaves across pieces', { base: 0, index: 0, count: 8, proofLayers: 0 }],
    ['a layer we do not serve', { base: 1, index: 0, count: 2, proofLayers: 0 }],
  ])('refuses %s', (_name, r) => {
    expect(tree.answer(r, DATA['big.bin']!.subarray(0, PIECE))).toBeUndefined();
  });

  it('answers nothing for leaves without the piece\'s data, nor a layer it does not know', () => {
    expect(tree.answer({ base: 0, index: 0, count: 4, proofLayers: 0 })).toBeUndefined();
    expect(treeOf('big.bin', false).answer({ base: 2, index: 0, count: 16, proofLayers: 0 })).toBeUndefined();
  });

  it('asks for a large layer in chunks of 512 with proofs up to the root', () => {
    const big = new FileTree(3000 * PIECE + 5, PIECE, Buffer.alloc(32, 1)); // 3001 pieces: a layer of 4096
    const chunks = big.missingChunks();
    expect(chunks).toHaveLength(Math.ceil(3001 / LAYER_CHUNK));
    expect(chunks[0]).toEqual({ base: 2, index: 0, count: 512, proofLayers: 11 });
    // The last chunk asks only for what is left, rounded up to a power of two.
    expect(chunks.at(-1)).toEqual({ base: 2, index: 5 * 512, count: 512, proofLayers: 11 });
    expect(new FileTree(600 * PIECE, PIECE, Buffer.alloc(32, 1)).missingChunks()[1]).toEqual({ base: 2, index: 512, count: 128, proofLayers: 9 });
    for (const c of chunks) expect(big.fits(c)).toBe(true);
  });
});
