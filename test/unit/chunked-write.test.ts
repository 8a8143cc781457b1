/**
 * Pieces written in chunks (src/storage/chunked-write.ts), by the native addon's one thread-pool
 * task and by the JavaScript fallback: the same bytes land in the file, and a failing write is an
 * error like node:fs's (a read-only descriptor, a full file system).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PwriteAddon } from '../../native/sixswarm_pwrite.js';
import { defaultWriteEngine, writeChunked, type WriteEngine } from '../../src/storage/chunked-write.js';
import { loadNativeAddon } from '../../src/util/native-addon.js';
import { ensureBuilt, ROOT, tempDir } from '../support/sixswarm.js';

const native = loadNativeAddon<PwriteAddon>('sixswarm_pwrite');
const engines: WriteEngine[] = ['native', 'js'];
let dir = '';

beforeAll(async () => {
  dir = await tempDir('sixswarm-chunked-');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('the addon is built here, so pieces are written by it', () => {
  expect(native.missing).toBeUndefined();
  expect(defaultWriteEngine()).toBe('native');
});

describe.each(engines)('writeChunked (%s)', (engine) => {
  it('puts every byte at its position, whatever the chunk size and the length', async () => {
    const file = join(dir, `${engine}-bytes`);
    const fh = await open(file, 'w+');
    try {
      const head = Buffer.from('untouched head');
      await fh.write(head, 0, head.length, 0);
      const cases: [number, number][] = [
        [1024 * 1024, 32 * 1024], // a piece in whole chunks
        [100_000, 32 * 1024], // a last, shorter chunk
        [5, 32 * 1024], // less than a chunk
        [4097, 1], // a byte per write
      ];
      let position = head.length;
      const expected = [head];
      for (const [length, chunk] of cases) {
        const data = randomBytes(length);
        await writeChunked(fh.fd, data, position, chunk, engine);
        expected.push(data);
        position += length;
      }
      await writeChunked(fh.fd, Buffer.alloc(0), position, 32 * 1024, engine);
      expect((await readFile(file)).equals(Buffer.concat(expected))).toBe(true);
    } finally {
      await fh.close();
    }
  });

  it('a descriptor open only for reading: EBADF, as node:fs words it', async () => {
    const file = join(dir, `${engine}-ro`);
    await (await open(file, 'w')).close();
    const fh = await open(file, 'r');
    try {
      await expect(writeChunked(fh.fd, randomBytes(100_000), 0, 32 * 1024, engine)).rejects.toMatchObject({
        code: 'EBADF',
        syscall: 'write',
        message: 'EBADF: bad file descriptor, write',
      });
    } finally {
      await fh.close();
    }
  });
});

describe.skipIf(process.getuid?.() !== 0)('on a full file system (a 256 KiB tmpfs in a mount namespace of its own)', () => {
  it('both engines write what fits and then fail with ENOSPC', async () => {
    ensureBuilt();
    const mod = pathToFileURL(join(ROOT, 'dist', 'src', 'storage', 'chunked-write.js')).href;
    const mnt = join(dir, 'small');
    const script = `
      const { openSync, closeSync, rmSync, statSync } = await import('node:fs');
      const { writeChunked } = await import(${JSON.stringify(mod)});
      const out = {};
      for (const engine of ['native', 'js']) {
        const file = process.argv[1] + '/' + engine;
        const fd = openSync(file, 'w');
        const error = await writeChunked(fd, Buffer.alloc(1024 * 1024, 7), 0, 32 * 1024, engine).then(() => 'none', (e) => e.code + ' ' + e.syscall + ' ' + e.message);
        closeSync(fd);
        out[engine] = { error, size: statSync(file).size };
        rmSync(file);
      }
      console.log(JSON.stringify(out));
    `;
    await mkdir(mnt);
    const { stdout } = await promisify(execFile)('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o size=256k tmpfs "$0" && exec "$@"', mnt, process.execPath, '--input-type=module', '-e', script, mnt]);
    const out = JSON.parse(stdout) as Record<WriteEngine, { error: string; size: number }>;
    for (const engine of engines) {
      expect(out[engine].error, engine).toBe('ENOSPC write ENOSPC: no space left on device, write');
      // What fit was written (tmpfs rounds to pages; the JS engine's parallel writes may leave holes below that).
      expect(out[engine].size, engine).toBeGreaterThan(0);
      expect(out[engine].size, engine).toBeLessThanOrEqual(1024 * 1024);
    }
  });
});

describe('the addon refuses arguments of other shapes with a TypeError, and the process goes on', () => {
  it.each([
    ['no arguments', []],
    ['a negative descriptor', [-1, Buffer.alloc(1), 0, 1]],
    ['a string for data', [1, 'abc', 0, 1]],
    ['a negative position', [1, Buffer.alloc(1), -5, 1]],
    ['a zero chunk', [1, Buffer.alloc(1), 0, 0]],
  ])('%s', (_what, args) => {
    const pwriteChunks = native.addon!.pwriteChunks as (...a: unknown[]) => Promise<number>;
    expect(() => pwriteChunks(...args)).toThrow(TypeError);
  });
});
