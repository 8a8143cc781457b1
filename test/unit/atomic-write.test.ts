/**
 * Replacing a file whole (src/util/atomic-write.ts) on a full file system: a 256 KiB tmpfs in a
 * mount namespace of its own. The write fails with ENOSPC, the old content stays, and no temp
 * file is left behind (neither a 0-byte one nor the part that fit).
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, tempDir } from '../support/sixswarm.js';

let dir = '';
beforeAll(async () => {
  dir = await tempDir('sixswarm-atomic-');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(process.getuid?.() !== 0)('writeFileAtomic on a full file system', () => {
  it('fails with ENOSPC, keeps the old content, and leaves no temp file', async () => {
    ensureBuilt();
    const mod = pathToFileURL(join(ROOT, 'dist', 'src', 'util', 'atomic-write.js')).href;
    const mnt = join(dir, 'small');
    const script = `
      const { readdirSync, readFileSync, writeFileSync, statSync } = await import('node:fs');
      const { writeFileAtomic } = await import(${JSON.stringify(mod)});
      const d = process.argv[1];
      writeFileSync(d + '/state.json', 'old content');
      // Fill the rest, so that even the temp file's first page does not fit.
      try { writeFileSync(d + '/filler', Buffer.alloc(1024 * 1024)); } catch {}
      const out = { errors: [] };
      for (const size of [1, 300 * 1024]) {
        out.errors.push(await writeFileAtomic(d + '/state.json', Buffer.alloc(size, 1)).then(() => 'none', (e) => e.code));
        // Room for the temp file's first pages, not for all of it.
        writeFileSync(d + '/filler', Buffer.alloc(statSync(d + '/filler').size - 64 * 1024));
      }
      out.files = readdirSync(d).sort();
      out.content = readFileSync(d + '/state.json', 'utf8');
      console.log(JSON.stringify(out));
    `;
    await mkdir(mnt);
    const { stdout } = await promisify(execFile)('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o size=256k tmpfs "$0" && exec "$@"', mnt, process.execPath, '--input-type=module', '-e', script, mnt]);
    const out = JSON.parse(stdout) as { errors: string[]; files: string[]; content: string };
    expect(out.errors).toEqual(['ENOSPC', 'ENOSPC']);
    expect(out.files).toEqual(['filler', 'state.json']);
    expect(out.content).toBe('old content');
  });
});
