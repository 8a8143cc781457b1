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

/**
 * SHA-1 throughput of `threads` cores: the file cut into that many contiguous parts, each hashed
 * (Node crypto, 4 MiB reads) on a worker thread of its own, all at once. Seconds for the whole.
 */
export async function nodeSha1Threads(file, threads) {
  const { Worker } = await import('node:worker_threads');
  const { statSync } = await import('node:fs');
  const size = statSync(file).size;
  const part = Math.ceil(size / threads);
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { createHash } = require('node:crypto');
    const { openSync, readSync, closeSync } = require('node:fs');
    const { file, from, to } = workerData;
    const hash = createHash('sha1');
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    const fd = openSync(file, 'r');
    for (let at = from; at < to; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, to - at), at);
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
      at += n;
    }
    closeSync(fd);
    parentPort.postMessage(hash.digest('hex'));`;
  const t0 = nowMs();
  await Promise.all(
    Array.from({ length: threads }, (_, i) => new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { file, from: i * part, to: Math.min(size, (i + 1) * part) } });
      w.once('message', resolve);
      w.once('error', reject);
    })),
  );
  return { seconds: (nowMs() - t0) / 1000 };
}
