/**
 * Hashing worker: SHA-1 of piece ranges read straight from disk (resume checks), so that a check
 * uses every core.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, constants } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { WorkerReply, WorkerTask, RangeFile } from './hash-protocol.js';

const port = parentPort!;

port.on('message', (task: WorkerTask) => {
  try {
    hashRange(task.id, task.files, task.pieceLength, task.totalLength, task.first, task.last);
  } catch (e) {
    reply({ id: task.id, type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
});

function reply(msg: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

/** Hash pieces first..last from files on disk; a piece with missing or short data is reported absent. */
function hashRange(id: number, files: RangeFile[], pieceLength: number, totalLength: number, first: number, last: number): void {
  const count = last - first + 1;
  const hashes = new Uint8Array(count * 20);
  const present = new Uint8Array(count);
  const buf = Buffer.allocUnsafe(pieceLength);
  const fds = new Map<number, number | null>();
  const fd = (i: number): number | null => {
    if (!fds.has(i)) {
      let v: number | null = null;
      try {
        v = openSync(files[i]!.path!, constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch {
        v = null;
      }
      fds.set(i, v);
    }
    return fds.get(i)!;
  };
  let sinceProgress = 0;
  try {
    for (let p = first; p <= last; p++) {
      const start = p * pieceLength;
      const size = Math.min(pieceLength, totalLength - start);
      let ok = true;
      for (let f = 0; f < files.length && ok; f++) {
        const file = files[f]!;
        const from = Math.max(start, file.offset), to = Math.min(start + size, file.offset + file.length);
        if (to <= from) continue;
        if (file.path === null) {
          buf.fill(0, from - start, to - start);
          continue;
        }
        const d = fd(f);
        if (d === null) { ok = false; break; }
        for (let done = 0; done < to - from; ) {
          const n = readSync(d, buf, from - start + done, to - from - done, (file.position ?? 0) + from - file.offset + done);
          if (n === 0) { ok = false; break; }
          done += n;
        }
      }
      if (ok) {
        hashes.set(createHash('sha1').update(buf.subarray(0, size)).digest(), (p - first) * 20);
        present[p - first] = 1;
      }
      sinceProgress += size;
      if (sinceProgress >= 64 * 1024 * 1024) {
        reply({ id, type: 'progress', bytes: sinceProgress });
        sinceProgress = 0;
      }
    }
  } finally {
    for (const d of fds.values()) if (d !== null) closeSync(d);
  }
  reply({ id, type: 'range', hashes, present, bytes: sinceProgress }, [hashes.buffer, present.buffer]);
}
