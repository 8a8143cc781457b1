/**
 * A pool of hashing workers (one per core): resume checks split their piece ranges across all
 * of them, reading the files themselves. (Downloaded pieces are hashed as their blocks arrive.)
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { compiledModule } from '../util/compiled-path.js';
import type { HashKinds, RangeFile, WorkerReply, WorkerTask } from './hash-protocol.js';

export type { HashKinds, RangeFile } from './hash-protocol.js';

interface Pending {
  resolve(reply: WorkerReply): void;
  reject(e: Error): void;
  onProgress?: (bytes: number) => void;
  worker: PoolWorker;
}
/** A task not handed to a worker yet. */
interface Queued {
  task: WorkerTask;
  transfer: ArrayBuffer[];
  resolve(reply: WorkerReply): void;
  reject(e: Error): void;
  onProgress?: (bytes: number) => void;
}
interface PoolWorker {
  worker: Worker;
  busy: number;
}

/** Pieces per range task: small enough to balance the cores and report progress, big enough to amortize. */
const RANGE_BYTES = 32 * 1024 * 1024;
/**
 * Tasks a worker holds at once: the next one waits in its queue while it hashes the current, and
 * the rest wait here, so a worker slowed down (the machine is shared) takes fewer of them instead
 * of leaving the other cores idle at the end of a check.
 */
const TASKS_PER_WORKER = 2;

export class HashPool {
  private readonly workers: PoolWorker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly queue: Queued[] = [];
  private nextId = 1;
  private closed = false;

  private readonly url = compiledModule('storage/hash-worker.js');

  private readonly size: number;

  /** Workers start on the first job: a seed that trusts its resume state, or a session of many, never pays for them. */
  constructor(size = availableParallelism()) {
    this.size = Math.max(1, size);
  }

  private spawn(): void {
    const pw: PoolWorker = { worker: new Worker(this.url), busy: 0 };
    pw.worker.unref();
    pw.worker.on('message', (m: WorkerReply) => this.onReply(m));
    pw.worker.on('error', (e) => this.failWorker(pw, e));
    pw.worker.on('exit', (code) => this.failWorker(pw, new Error(`hash worker exited with code ${code}`)));
    this.workers.push(pw);
  }

  /**
   * Hashes of pieces [first, last] read from disk, spread over all workers: SHA-1s (20 bytes a
   * piece) and v2 roots (32) as `kinds` asks (its v2 plan covers [first, last]). `present[i]` is
   * 0 where the data is missing or short (such pieces were not hashed).
   */
  async hashFiles(
    files: RangeFile[],
    pieceLength: number,
    totalLength: number,
    first: number,
    last: number,
    onProgress?: (bytes: number) => void,
    kinds: HashKinds = { sha1: true },
  ): Promise<{ hashes: Buffer; roots: Buffer; present: Uint8Array }> {
    const count = last - first + 1;
    const hashes = Buffer.alloc(kinds.sha1 ? count * 20 : 0);
    const roots = Buffer.alloc(kinds.v2 ? count * 32 : 0);
    const present = new Uint8Array(count);
    const step = Math.max(1, Math.floor(RANGE_BYTES / pieceLength));
    const jobs: Promise<void>[] = [];
    for (let a = first; a <= last; a += step) {
      const b = Math.min(last, a + step - 1);
      const v2 = kinds.v2 && { bytes: kinds.v2.bytes.slice(a - first, b - first + 1), widths: kinds.v2.widths.slice(a - first, b - first + 1) };
      jobs.push(
        this.submit({ id: 0, type: 'range', files, pieceLength, totalLength, first: a, last: b, sha1: kinds.sha1, ...(v2 ? { v2 } : {}) }, [], onProgress).then((r) => {
          if (r.type !== 'range') throw new Error('hash worker sent the wrong reply');
          if (kinds.sha1) hashes.set(r.hashes, (a - first) * 20);
          if (kinds.v2) roots.set(r.roots, (a - first) * 32);
          present.set(r.present, a - first);
          onProgress?.(r.bytes);
        }),
      );
    }
    await Promise.all(jobs);
    return { hashes, roots, present };
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
    for (const p of this.pending.values()) p.reject(new Error('hash pool closed'));
    this.pending.clear();
    for (const q of this.queue.splice(0)) q.reject(new Error('hash pool closed'));
  }

  private submit(task: WorkerTask, transfer: ArrayBuffer[], onProgress?: (bytes: number) => void): Promise<WorkerReply> {
    if (this.closed) return Promise.reject(new Error('hash pool closed'));
    return new Promise<WorkerReply>((resolve, reject) => {
      this.queue.push({ task, transfer, resolve, reject, onProgress });
      this.dispatch();
    });
  }

  /** Hand queued tasks to the least busy workers, up to TASKS_PER_WORKER each. */
  private dispatch(): void {
    while (this.workers.length < this.size && this.queue.length > 0) this.spawn();
    while (this.queue.length > 0) {
      const pw = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
      if (pw.busy >= TASKS_PER_WORKER) return;
      const q = this.queue.shift()!;
      const id = this.nextId++;
      q.task.id = id;
      this.pending.set(id, { resolve: q.resolve, reject: q.reject, onProgress: q.onProgress, worker: pw });
      // Keep the process alive only while a worker has work.
      if (pw.busy++ === 0) pw.worker.ref();
      pw.worker.postMessage(q.task, q.transfer);
    }
  }

  private onReply(m: WorkerReply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'progress') {
      p.onProgress?.(m.bytes);
      return;
    }
    this.pending.delete(m.id);
    if (--p.worker.busy === 0) p.worker.worker.unref();
    if (m.type === 'error') p.reject(new Error(m.message));
    else p.resolve(m);
    this.dispatch();
  }

  /** A worker died: its tasks fail (their pieces are simply fetched or checked again) and a fresh one takes its place. */
  private failWorker(pw: PoolWorker, e: Error): void {
    const i = this.workers.indexOf(pw);
    if (i < 0) return;
    this.workers.splice(i, 1);
    for (const [id, p] of this.pending) {
      if (p.worker !== pw) continue;
      this.pending.delete(id);
      p.reject(e);
    }
    // A fresh one takes its place for what is still queued (or for the next job).
    if (!this.closed) this.dispatch();
  }
}
