/**
 * Hashing worker: the hashes of piece ranges read straight from disk (resume checks), so that a
 * check uses every core: SHA-1 of whole pieces (v1), merkle roots of their blocks (v2), or both.
 */
import { createHash } from 'node:crypto';
import { dataRoot } from '../merkle/merkle.js';
import { closeSync, openSync, readSync, constants } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { WorkerReply, WorkerTask } from './hash-protocol.js';

const port = parentPort!;

port.on('message', (task: WorkerTask) => {
  try {
    hashRange(task);
  } catch (e) {
    reply({ id: task.id, type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
});

function reply(msg: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

/**
 * Bytes read from disk at once: small pieces are read several at a time (one 4 MiB read instead of
 * thirty-two of 128 KiB), then hashed one by one.
 */
const READ_BYTES = 4 * 1024 * 1024;

/** Hash pieces first..last from files on disk; a piece with missing or short data is reported absent. */
function hashRange(task: WorkerTask): void {
  const { id, files, pieceLength, totalLength, first, last } = task;
  const count = last - first + 1;
  const hashes = new Uint8Array(task.sha1 ? count * 20 : 0);
  const roots = new Uint8Array(task.v2 ? count * 32 : 0);
  const present = new Uint8Array(count);
  const perRead = Math.max(1, Math.floor(READ_BYTES / pieceLength));
  const buf = Buffer.allocUnsafe(perRead * pieceLength);
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
    for (let a = first; a <= last; a += perRead) {
      const b = Math.min(last, a + perRead - 1);
      const start = a * pieceLength;
      const end = Math.min(totalLength, (b + 1) * pieceLength);
      // Pieces of this read (a..b) whose data is missing or short.
      const missing = new Uint8Array(b - a + 1);
      const lose = (from: number, to: number) => missing.fill(1, Math.floor((from - start) / pieceLength), Math.floor((to - 1 - start) / pieceLength) + 1);
      for (let f = 0; f < files.length; f++) {
        const file = files[f]!;
        const from = Math.max(start, file.offset), to = Math.min(end, file.offset + file.length);
        if (to <= from) continue;
        if (file.path === null) {
          buf.fill(0, from - start, to - start);
          continue;
        }
        const d = fd(f);
        if (d === null) {
          lose(from, to);
          continue;
        }
        for (let done = 0; done < to - from; ) {
          const n = readSync(d, buf, from - start + done, to - from - done, (file.position ?? 0) + from - file.offset + done);
          if (n === 0) {
            lose(from + done, to);
            break;
          }
          done += n;
        }
      }
      for (let p = a; p <= b; p++) {
        if (missing[p - a]) continue;
        const at = (p - a) * pieceLength;
        const piece = buf.subarray(at, Math.min(at + pieceLength, end - start));
        if (task.sha1) hashes.set(createHash('sha1').update(piece).digest(), (p - first) * 20);
        const width = task.v2?.widths[p - first];
        if (width) roots.set(dataRoot(piece.subarray(0, task.v2!.bytes[p - first]), width), (p - first) * 32);
        present[p - first] = 1;
      }
      sinceProgress += end - start;
      if (sinceProgress >= 64 * 1024 * 1024) {
        reply({ id, type: 'progress', bytes: sinceProgress });
        sinceProgress = 0;
      }
    }
  } finally {
    for (const d of fds.values()) if (d !== null) closeSync(d);
  }
  reply({ id, type: 'range', hashes, roots, present, bytes: sinceProgress }, [hashes.buffer, roots.buffer, present.buffer]);
}
