/**
 * The hashing workers' re-check over real files: small pieces are read many at a time (one 4 MiB
 * read for 256 pieces of 16 KiB), so a missing or short file must mark exactly the pieces it
 * touches absent, and every other piece must hash as SHA-1 of its bytes, across file boundaries
 * and padding files.
 */
import { createHash, randomBytes } from 'node:crypto';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HashPool, type RangeFile } from '../../src/storage/hash-pool.js';
import { cleanUpAfterEach, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);
const pool = new HashPool(2);
afterAll(() => pool.close());

const PIECE = 16 * 1024;

describe('hash pool re-check', () => {
  it('hashes runs of small pieces read together; missing and short files lose only their pieces', async () => {
    dir = await tempDir();
    // a: 3 MiB + 100 bytes, pad: 16284 bytes of zeros, b: 2 MiB (missing), c: 3 MiB (cut short to 1 MiB + 5000).
    const sizes = { a: 3 * 2 ** 20 + 100, pad: PIECE - 100, b: 2 * 2 ** 20, c: 3 * 2 ** 20 };
    const bytes = { a: randomBytes(sizes.a), b: randomBytes(sizes.b), c: randomBytes(sizes.c) };
    await writeFile(join(dir, 'a'), bytes.a);
    await writeFile(join(dir, 'c'), bytes.c);
    await truncate(join(dir, 'c'), 2 ** 20 + 5000);
    const whole = Buffer.concat([bytes.a, Buffer.alloc(sizes.pad), bytes.b, bytes.c]);
    let offset = 0;
    const files: RangeFile[] = (['a', 'pad', 'b', 'c'] as const).map((name) => {
      const f = { path: name === 'pad' ? null : join(dir!, name), offset, length: sizes[name] };
      offset += sizes[name];
      return f;
    });
    const total = offset;
    const pieces = Math.ceil(total / PIECE);
    const { hashes, present } = await pool.hashFiles(files, PIECE, total, 0, pieces - 1);
    const bStart = sizes.a + sizes.pad, cStart = bStart + sizes.b, cEnd = cStart + 2 ** 20 + 5000;
    for (let p = 0; p < pieces; p++) {
      const from = p * PIECE, to = Math.min(total, from + PIECE);
      const whole_ok = to <= bStart || (from >= cStart && to <= cEnd);
      expect(present[p], `piece ${p}`).toBe(whole_ok ? 1 : 0);
      if (whole_ok) expect(Buffer.from(hashes.subarray(p * 20, p * 20 + 20)).equals(createHash('sha1').update(whole.subarray(from, to)).digest()), `piece ${p}`).toBe(true);
    }
    expect(present.reduce((n, x) => n + x, 0)).toBe(Math.floor(bStart / PIECE) + (Math.floor(cEnd / PIECE) - cStart / PIECE));
  });
});
