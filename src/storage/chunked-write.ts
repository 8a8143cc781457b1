/**
 * A piece's bytes written to one file in writes of at most `chunk` bytes. The kernel sizes
 * page-cache folios by the write, and large folios are slow to fill where the hypervisor hands
 * memory back lazily, so pieces are not written in one call (bench/README.md has the figures).
 * With the native addon (native/pwrite.c) the writes are one thread-pool task; without it they are
 * issued together from JavaScript, a task each, which costs the main thread several times more.
 */
import { write } from 'node:fs';
import { getSystemErrorMap } from 'node:util';
import type { PwriteAddon } from '../../native/sixswarm_pwrite.js';
import { loadNativeAddon } from '../util/native-addon.js';

export type WriteEngine = 'native' | 'js';

/** The engine `writeChunked` uses by default: the addon's whenever it loads. */
export function defaultWriteEngine(): WriteEngine {
  return loadNativeAddon<PwriteAddon>('sixswarm_pwrite').addon ? 'native' : 'js';
}

/** An error like the ones node:fs raises for `errno` (code, errno, syscall, message). */
function writeError(errno: number): NodeJS.ErrnoException {
  const [code, message] = getSystemErrorMap().get(-errno) ?? ['EIO', 'i/o error'];
  return Object.assign(new Error(`${code}: ${message}, write`), { errno: -errno, code, syscall: 'write' });
}

/** pwrite until all of `data` is at `position` (a short write continues). */
async function writeFully(fd: number, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length; ) {
    // The callback API, not FileHandle.write: its promise requests cost measurably more per write.
    done += await new Promise<number>((resolve, reject) => write(fd, data, done, data.length - done, position + done, (e, n) => (e ? reject(e) : resolve(n))));
  }
}

/** Writes all of `data` at `position` of `fd` (open until this settles) in writes of at most `chunk` bytes; settles once every write has. */
export async function writeChunked(fd: number, data: Buffer, position: number, chunk: number, engine = defaultWriteEngine()): Promise<void> {
  if (engine === 'native') {
    const addon = loadNativeAddon<PwriteAddon>('sixswarm_pwrite').addon;
    if (!addon) throw new Error('the native pwrite addon is not available');
    const errno = await addon.pwriteChunks(fd, data, position, chunk);
    if (errno !== 0) throw writeError(errno);
    return;
  }
  const writes: Promise<void>[] = [];
  for (let at = 0; at < data.length; at += chunk) writes.push(writeFully(fd, data.subarray(at, Math.min(at + chunk, data.length)), position + at));
  // Every write settles before this does: the caller reuses `data` afterwards.
  const failed = (await Promise.allSettled(writes)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}
