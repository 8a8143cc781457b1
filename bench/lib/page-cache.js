/**
 * Every pair starts from the same page cache: flushed, clean pages dropped (root only), then the
 * payload read once so each seed serves it from memory. Without this, how expensive a leecher's
 * writes were depended on what the pair before it left in memory: measured here, the same
 * sixswarm build cost 2.4-2.5 s of leecher CPU per GiB right after a cache drop and 4-5.7 s after
 * another pair, the difference all in page-cache writes.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { nodeSha1 } from './sha1.js';

/** Drop clean pages once; returns whether that is allowed here (root, /proc writable). */
export function canDropCaches() {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '1');
    return true;
  } catch {
    return false;
  }
}

/** Flush, drop clean pages if allowed, read `payload` back into the cache. */
export function settlePageCache(payload, drop) {
  spawnSync('sync');
  if (drop) writeFileSync('/proc/sys/vm/drop_caches', '1');
  nodeSha1(payload);
}
