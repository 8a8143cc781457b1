/**
 * What a web seed's response head says about the bytes we asked for: they follow (a 206 whose
 * Content-Range is exactly our range of a file of the torrent's size, or a 200 for the whole
 * file; BEP 17: a 200), go elsewhere (a redirect), wait (503/429), or fail in a way that says
 * whether to retry. Nothing here trusts a length the server states beyond what was asked.
 */
import { header, headerTokens, type ResponseHead } from '../http-client/response-head.js';
import { WebSeedFailure } from './failure.js';
import { parseRetryAfter } from './retry-after.js';

/** A request: `length` bytes at `start` of a file `fileLength` long (BEP 19), or of a piece (BEP 17: no file). */
export interface Asked {
  start: number;
  length: number;
  /** BEP 19 only: the file's length in the torrent, and its index (for failures about it). */
  file?: { index: number; length: number; name: string };
}

export type Outcome =
  /** The body holds exactly the bytes asked for. */
  | { kind: 'data' }
  | { kind: 'redirect'; location: string }
  /** A BEP 17 busy reply whose body says how long to wait (read it, at most a few bytes). */
  | { kind: 'busy-body' };

const CONTENT_RANGE = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)$/i;

export function interpret(head: ResponseHead, asked: Asked, bep17: boolean): Outcome {
  const s = head.status;
  const what = asked.file ? `"${asked.file.name}"` : 'the piece';
  if ([301, 302, 303, 307, 308].includes(s)) {
    const location = header(head, 'location');
    if (!location) throw new WebSeedFailure('protocol', `HTTP ${s} without a Location`);
    return { kind: 'redirect', location };
  }
  if (s === 503 || s === 429) {
    const wait = parseRetryAfter(header(head, 'retry-after'));
    if (wait === undefined && bep17 && s === 503) return { kind: 'busy-body' };
    throw new WebSeedFailure('busy', `busy (HTTP ${s}${wait !== undefined ? `, Retry-After ${Math.round(wait / 1000)} s` : ''})`, wait !== undefined ? { retryAfterMs: wait } : {});
  }
  if ([404, 410, 403, 401, 416].includes(s)) {
    const why = s === 416 ? 'is shorter than the torrent says (HTTP 416)' : `is not there (HTTP ${s}${head.reason ? ` ${head.reason}` : ''})`;
    throw new WebSeedFailure('missing', bep17 ? `the torrent ${why}` : `${what} ${why}`, asked.file ? { file: asked.file.index } : {});
  }
  if (s !== 200 && s !== 206) throw new WebSeedFailure('status', `HTTP ${s}${head.reason ? ` ${head.reason}` : ''}`);
  const codings = headerTokens(head, 'content-encoding').filter((c) => c !== 'identity');
  if (codings.length > 0) throw new WebSeedFailure('protocol', `sent ${what} encoded (${codings.join(', ')}) though asked for identity`);
  if (bep17) {
    if (s !== 200) throw new WebSeedFailure('protocol', `HTTP ${s} where BEP 17 answers 200`);
    return { kind: 'data' };
  }
  const file = asked.file!;
  if (s === 200) {
    // A server that ignores Range sends the whole file: usable only when that is what we asked for.
    if (asked.start === 0 && asked.length === file.length) return { kind: 'data' };
    throw new WebSeedFailure('no-ranges', 'ignores Range requests (sent the whole file for a part of it)', { file: file.index });
  }
  const range = header(head, 'content-range');
  const m = range ? CONTENT_RANGE.exec(range.trim()) : null;
  if (!m) throw new WebSeedFailure('protocol', `HTTP 206 with ${range ? `a Content-Range "${range.slice(0, 60)}" that is not one byte range` : 'no Content-Range'}`);
  const [first, last, total] = [Number(m[1]), Number(m[2]), m[3] === '*' ? undefined : Number(m[3])];
  if (total !== undefined && total !== file.length) {
    throw new WebSeedFailure('mismatch', `has ${what} at ${total} bytes; the torrent's is ${file.length}: another version`, { file: file.index });
  }
  if (first !== asked.start || last !== asked.start + asked.length - 1) {
    throw new WebSeedFailure('protocol', `sent bytes ${first}-${last} of ${what} for ${asked.start}-${asked.start + asked.length - 1}`);
  }
  return { kind: 'data' };
}
