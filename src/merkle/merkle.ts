/**
 * BEP 52 merkle trees, the arithmetic: SHA-256 over 16 KiB leaf blocks, a branching factor of
 * two, and zero hashes padding a layer to a power of two. Levels count up from the leaves
 * (level 0); a layer is one Buffer of 32-byte hashes. Pure functions, no I/O.
 */
import { hash } from 'node:crypto';

/** Bytes of data under one leaf hash. */
export const LEAF_BYTES = 16 * 1024;
export const HASH_BYTES = 32;

export function sha256(data: Uint8Array): Buffer {
  return hash('sha256', data, 'buffer');
}

const pair = Buffer.allocUnsafe(2 * HASH_BYTES);

/** SHA-256 of two hashes side by side: their parent. */
export function hashPair(left: Uint8Array, right: Uint8Array): Buffer {
  pair.set(left, 0);
  pair.set(right, HASH_BYTES);
  return hash('sha256', pair, 'buffer');
}

const pads: Buffer[] = [Buffer.alloc(HASH_BYTES)];

/** The root of a subtree `level` high over zero leaves: what pads a layer at that level. */
export function padHash(level: number): Buffer {
  while (pads.length <= level) {
    const below = pads[pads.length - 1]!;
    pads.push(hashPair(below, below));
  }
  return pads[level]!;
}

/** The smallest power of two at or above `n` (1 for 0). */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** log2 of a power of two. */
export function log2(p: number): number {
  let l = 0;
  while (2 ** l < p) l++;
  return l;
}

export function isPow2(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** log2(n) === n;
}

/** Leaf hashes of `data`: one per 16 KiB block, the last over what is left of it. */
export function leafHashes(data: Uint8Array): Buffer {
  const n = Math.ceil(data.length / LEAF_BYTES);
  const out = Buffer.allocUnsafe(n * HASH_BYTES);
  for (let b = 0; b < n; b++) out.set(hash('sha256', data.subarray(b * LEAF_BYTES, (b + 1) * LEAF_BYTES), 'buffer'), b * HASH_BYTES);
  return out;
}

/** The layer above `layer` (its hashes at `level`): an odd last hash is paired with the pad hash. */
export function parentLayer(layer: Uint8Array, level: number): Buffer {
  const count = layer.length / HASH_BYTES;
  const parents = Math.ceil(count / 2);
  const out = Buffer.allocUnsafe(parents * HASH_BYTES);
  for (let i = 0; i < parents; i++) {
    const at = 2 * i * HASH_BYTES;
    const right = 2 * i + 1 < count ? layer.subarray(at + HASH_BYTES, at + 2 * HASH_BYTES) : padHash(level);
    out.set(hashPair(layer.subarray(at, at + HASH_BYTES), right), i * HASH_BYTES);
  }
  return out;
}

/** The root over `layer` (hashes at `level`) padded to `width` entries, a power of two at or above its count. */
export function layerRoot(layer: Uint8Array, level: number, width: number): Buffer {
  if (layer.length === 0) return padHash(level + log2(width));
  let cur: Uint8Array = layer;
  for (let w = width, lv = level; w > 1; w /= 2, lv++) cur = parentLayer(cur, lv);
  return Buffer.from(cur.subarray(0, HASH_BYTES));
}

/**
 * Every layer from `layer` (at `level`, padded to `width`) up to the root, the root last; each
 * holds only the hashes over real data (the rest are pad hashes, see padHash).
 */
export function layersAbove(layer: Buffer, level: number, width: number): Buffer[] {
  const out = [layer];
  for (let w = width, lv = level; w > 1; w /= 2, lv++) out.push(parentLayer(out[out.length - 1]!, lv));
  return out;
}

/** The hash of data that fills `width` leaves (a power of two): its leaves, zero-padded, folded to one. */
export function dataRoot(data: Uint8Array, width: number): Buffer {
  return layerRoot(leafHashes(data), 0, width);
}

/**
 * Walk up from a node at position `index` of its layer with the uncle hashes of its path (the
 * lowest first): the root they prove, to be compared with a known one.
 */
export function foldProof(node: Buffer, index: number, uncles: readonly Uint8Array[]): Buffer {
  let cur = node;
  let pos = index;
  for (const uncle of uncles) {
    cur = pos % 2 === 0 ? hashPair(cur, uncle) : hashPair(uncle, cur);
    pos = Math.floor(pos / 2);
  }
  return cur;
}
