/**
 * Replacing a file whole: a crash at any moment leaves either the old or the new content, never
 * a mix, and a failure (a full disk, a read-only folder) leaves no temp file behind.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/** Write a temp file beside `file`, fsync, rename, fsync the directory. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    // ENOSPC and friends: the temp file (often 0 bytes, the data never fit) goes too.
    await unlink(tmp).catch(() => {});
    throw e;
  }
  const dir = await open(dirname(file), 'r').catch(() => undefined);
  if (dir) {
    await dir.sync().catch(() => {});
    await dir.close();
  }
}
