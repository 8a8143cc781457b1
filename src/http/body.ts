/**
 * Request bodies, bounded twice: each one by its own limit (a declared Content-Length over it is
 * refused before a byte is read), and all of them together by a budget, so that a thousand
 * clients sending large bodies at once cannot make the daemon hold more than the budget.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.js';

export class BodyBudget {
  private used = 0;

  constructor(readonly bytes: number) {}

  /** Take `n` bytes of the budget; false when they are not there. */
  take(n: number): boolean {
    if (this.used + n > this.bytes) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  get inUse(): number {
    return this.used;
  }
}

/** The whole body of `req`, at most `max` bytes, counted against `budget` while it is read. */
export function readBody(req: IncomingMessage, max: number, budget: BodyBudget): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && (!/^\d+$/.test(declared) || Number(declared) > max)) {
    return Promise.reject(new HttpError(413, `the request body may be at most ${max} bytes`, { Connection: 'close' }));
  }
  const busy = () => new HttpError(503, 'the server is busy reading other requests; try again shortly', { 'Retry-After': '1', Connection: 'close' });
  // A declared length is taken from the budget at once, and the body read straight into its place.
  const length = declared === undefined ? undefined : Number(declared);
  if (length !== undefined && !budget.take(length)) {
    req.resume();
    return Promise.reject(busy());
  }
  return new Promise((resolve, reject) => {
    const into = length !== undefined ? Buffer.allocUnsafe(length) : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    let taken = length ?? 0;
    let done = false;
    const finish = (e?: Error) => {
      if (done) return;
      done = true;
      budget.give(taken);
      req.off('data', onData);
      if (e) {
        // Whatever else comes is not read: the connection closes after the reply.
        req.resume();
        reject(e);
      } else if (into && size !== into.length) reject(new HttpError(400, 'the request body is shorter than its Content-Length'));
      else resolve(into ?? Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      if (done) return;
      if (size + chunk.length > (into ? into.length : max)) return finish(new HttpError(413, `the request body may be at most ${max} bytes`, { Connection: 'close' }));
      if (into) chunk.copy(into, size);
      else {
        if (!budget.take(chunk.length)) return finish(busy());
        taken += chunk.length;
        chunks.push(chunk);
      }
      size += chunk.length;
    };
    req.on('data', onData);
    req.once('end', () => finish());
    req.once('error', (e) => finish(e));
    req.once('close', () => finish(new HttpError(400, 'the request ended early')));
  });
}
