/**
 * The upload piece cache: one read per piece for its blocks, reused piece buffers, and never a
 * buffer refilled while a block of it is still leased to a socket (its bytes would change under
 * the send).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PieceCache } from '../../src/storage/piece-cache.js';

const PIECE = 16 * 1024;
const PIECES = 32;
const BLOCK = 4 * 1024;

function cache() {
  const data = randomBytes(PIECE * PIECES);
  const loads: number[] = [];
  const c = new PieceCache(
    async (i, into) => {
      loads.push(i);
      data.copy(into, 0, i * PIECE, (i + 1) * PIECE);
    },
    async (i, begin, length) => Buffer.from(data.subarray(i * PIECE + begin, i * PIECE + begin + length)),
    () => PIECE,
    PIECE,
    8 * PIECE, // holds 8 pieces
  );
  const expected = (i: number, begin: number) => data.subarray(i * PIECE + begin, i * PIECE + begin + BLOCK);
  return { c, loads, expected };
}

describe('piece cache', () => {
  it('reads a piece once for all its blocks', async () => {
    const { c, loads, expected } = cache();
    for (let b = 0; b < PIECE; b += BLOCK) {
      const lease = await c.block(3, b, BLOCK);
      expect(lease.block.equals(expected(3, b))).toBe(true);
      lease.release();
    }
    expect(loads).toEqual([3]);
  });

  it('keeps a leased block intact after its piece is evicted, and reuses the buffer once released', async () => {
    const { c, expected } = cache();
    const held = await c.block(0, BLOCK, BLOCK);
    // Sixteen more pieces: piece 0 is evicted long before the end, and buffers are recycled.
    for (let i = 1; i <= 16; i++) (await c.block(i, 0, BLOCK)).release();
    expect(held.block.equals(expected(0, BLOCK))).toBe(true);
    held.release();
    const next = await c.block(20, 0, BLOCK);
    expect(next.block.buffer).toBe(held.block.buffer); // given back once nobody held it
    expect(next.block.equals(expected(20, 0))).toBe(true);
    next.release();
  });

  it('counts a lease released twice once: another block of the piece stays intact', async () => {
    const { c, expected } = cache();
    const a = await c.block(0, 0, BLOCK);
    const b = await c.block(0, BLOCK, BLOCK);
    for (let i = 1; i <= 16; i++) (await c.block(i, 0, BLOCK)).release();
    a.release();
    a.release(); // must not count as `b`'s release
    for (let i = 17; i <= 24; i++) (await c.block(i, 0, BLOCK)).release();
    expect(b.block.equals(expected(0, BLOCK))).toBe(true);
    b.release();
  });
});
