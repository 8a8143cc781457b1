/** Plain SHA-1 of a file, timed: the reference the sixswarm re-check is compared with. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { nowMs } from './processes.js';

/** Node crypto (OpenSSL) on the calling thread only, 4 MiB reads: hex digest and seconds. */
export function nodeSha1(file) {
  const t0 = nowMs();
  const hash = createHash('sha1');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { hex: hash.digest('hex'), seconds: (nowMs() - t0) / 1000 };
}

/** coreutils sha1sum (its own single-threaded SHA-1): hex digest and seconds, undefined if it fails. */
export function sha1sum(file) {
  const t0 = nowMs();
  const r = spawnSync('sha1sum', [file], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return { hex: r.stdout.slice(0, 40), seconds: (nowMs() - t0) / 1000 };
}
