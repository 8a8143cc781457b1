/**
 * One web seed of a torrent (BEP 19 `url-list` or BEP 17 `httpseeds`) as a source of pieces, run
 * like a peer that is never choked: up to MAX_WORKERS requests at once, each for a run of blocks
 * the picker hands it (pieces peers are not fetching; see PiecePicker.pickRun), its bytes cut
 * into blocks and given to the download side as any peer's are (the same verifier, the same
 * blame), within the torrent's and the engine's download limits. What fails decides what
 * follows: a file the seed does not have is dropped from it (its pieces come from elsewhere),
 * errors are backed off (503 and 429 for as long as the server asks), a seed with nothing left
 * to give is given up, one that served bad data is banned (by the transfer). Each kind of
 * failure is reported once.
 */
import type { Family } from '../net/address.js';
import { formatHostPort } from '../net/hostport.js';
import { Bitfield } from '../util/bitfield.js';
import type { SwarmEvent } from './events.js';
import { WebSeedFailure } from '../webseed/failure.js';
import { planParts, type FileSegment, type WebSeedSite } from '../webseed/fetcher.js';
import type { SeedProtocol } from '../webseed/seed-urls.js';
import type { BlockRef } from '../wire/messages.js';
import { webSeedKey } from './bans.js';
import type { PiecePicker } from './piece-picker.js';
import { RateMeter } from './rate.js';
import type { RateLimit } from './rate-limit.js';
import { blockKey } from './transfer-peer.js';
import { Worker, type Run } from './web-seed-worker.js';

export type WebSeedState =
  /** Nothing to fetch from it now (everything wanted is taken, or the torrent is complete). */
  | 'idle'
  | 'connecting'
  | 'downloading'
  /** Backing off after a failure, or asked by the server to wait. */
  | 'waiting'
  /** Given up for this session: nothing it has is of use (every file missing, no Range support). */
  | 'failed'
  /** It served data that failed the hash check. */
  | 'banned';

/** A web seed as status, the UI and --json show it. */
export interface WebSeedInfo {
  url: string;
  protocol: SeedProtocol;
  state: WebSeedState;
  /** The server's address on a connection in use ([v6]:port). */
  address?: string;
  family?: Family;
  downRate: number;
  downloaded: number;
  /** Requests that failed, in all. */
  failures: number;
  lastError?: string;
  /** While waiting: seconds until it is asked again. */
  retryIn?: number;
  /** Files it does not have (not found, another version): their pieces come from elsewhere. */
  missingFiles: number;
}

/** What a web seed needs of the transfer. */
export interface WebSeedHost {
  readonly picker: PiecePicker;
  /** A block arrived (Downloads.accept): false when it was not needed. */
  accept(from: string, index: number, begin: number, block: Buffer): boolean;
  /** The files under `length` torrent bytes from byte `begin` of piece `index` (PieceLayout.segments). */
  segments(index: number, begin: number, length: number): FileSegment[];
  /** Pieces [first, last] holding bytes of file `f` (undefined for an empty one). */
  piecesOfFile(f: number): [number, number] | undefined;
  /** The torrent's download limit (under the engine's), if any. */
  readonly limit?: RateLimit;
  /** Pieces are wanted: not stopped, not complete. */
  readonly active: boolean;
  emit(e: SwarmEvent): void;
}

/** Requests at once per seed: one connection each. */
export const MAX_WORKERS = 2;
/**
 * Bytes one request asks for: about RUN_SECONDS of the seed's rate, within these bounds. A run's
 * piece buffers are taken when it starts, so the largest stays well inside the picker's memory
 * (PIECE_MEMORY, 48 MiB, with the pieces being hashed and written): at 16 MiB two runs left the
 * next ones a few pieces each, and a 256 MiB download took 500-800 requests instead of about 80.
 */
const FIRST_RUN = 1024 * 1024;
const MIN_RUN = 256 * 1024;
const MAX_RUN = 4 * 1024 * 1024;
const RUN_SECONDS = 2;
/** Backoff after failures: doubling from the first, up to the last. */
const BACKOFF_FIRST_MS = 5000;
const BACKOFF_MAX_MS = 10 * 60_000;
/** Failure kinds remembered as reported, at most (a seed missing many files reports each once). */
const MAX_REPORTED = 1024;
/** Files found missing in a row, before it gave any byte, that make it given up. */
const MAX_MISSING_IN_ROW = 16;

export class WebSeed {
  /** Its sender key: what pieces record as the source of its blocks (see bans.ts). */
  readonly key: string;
  readonly meter = new RateMeter();
  private readonly workers: Worker[] = [];
  /** Pieces it cannot give (they hold bytes of a file it lacks). */
  private readonly lacking: Bitfield;
  private readonly missing = new Set<number>();
  /** Files with bytes on the server (not pad files, not empty) it has not been found to lack. */
  private usable: number;
  /** Files found missing since it last gave a byte. */
  private missingInRow = 0;
  /** Blocks its runs hold now (endgame: never asked twice from the same seed). */
  private readonly mine = new Set<number>();
  private readonly reported = new Set<string>();
  private failures = 0;
  /** Failures since the last success: the backoff's exponent. */
  private streak = 0;
  private retryAt = 0;
  private lastError?: string;
  private ended?: 'failed' | 'banned';

  constructor(
    private readonly site: WebSeedSite,
    private readonly host: WebSeedHost,
  ) {
    this.key = webSeedKey(site.url);
    this.lacking = new Bitfield(host.picker.pieceCount);
    this.usable = site.torrent.files.filter((f) => !f.pad && f.length > 0).length;
    for (let i = 0; i < MAX_WORKERS; i++) this.workers.push(new Worker(site, host.limit));
  }

  get url(): string {
    return this.site.url;
  }

  /** One of its requests is running. */
  get busy(): boolean {
    return this.workers.some((w) => w.busy);
  }

  /** Whether it can give piece `i` (the picker asks). */
  has(i: number): boolean {
    return !this.lacking.has(i);
  }

  /** Start requests for what the picker gives it, up to MAX_WORKERS at once. */
  fill(now = Date.now()): void {
    if (this.ended || !this.host.active || now < this.retryAt) return;
    for (const w of this.workers) {
      if (w.busy) continue;
      const blocks = this.host.picker.pickRun(this, this.runBytes(), (r) => this.mine.has(blockKey(r)), w.resume);
      if (blocks.length === 0) return;
      w.resume = blocks.at(-1)!.index + 1;
      void this.runOn(w, blocks);
    }
  }

  /** Once a second: a run whose blocks all came from elsewhere meanwhile (endgame) is cut short. */
  tick(): void {
    for (const w of this.workers) if (w.run && !this.stillNeeded(w.run)) w.fetcher.abort();
  }

  /** Whether any block of the run not delivered yet (the one being filled included) is still wanted. */
  private stillNeeded(run: Run): boolean {
    for (let k = run.next; k < run.blocks.length; k++) if (this.host.picker.stillNeeded(run.blocks[k]!)) return true;
    return false;
  }

  /** The torrent is complete or stopping: every request ends. */
  stop(): void {
    for (const w of this.workers) w.close();
  }

  /** Its data failed the hash check (the transfer's verdict): never asked again. */
  ban(piece: number): void {
    if (this.ended === 'banned') return;
    this.ended = 'banned';
    this.lastError = `served data that failed the hash check (piece ${piece})`;
    this.stop();
    this.host.emit({ event: 'web-seed-failed', url: this.url, kind: 'hash', reason: this.lastError, action: 'banned' });
  }

  info(now = Date.now()): WebSeedInfo {
    const active = this.workers.filter((w) => w.busy);
    const remote = active.map((w) => w.fetcher.remote).find((r) => r !== undefined);
    const state: WebSeedState = this.ended ?? (active.length === 0 ? (now < this.retryAt ? 'waiting' : 'idle') : active.some((w) => w.run!.received > 0) ? 'downloading' : 'connecting');
    return {
      url: this.url,
      protocol: this.site.protocol,
      state,
      ...(remote ? { address: formatHostPort(remote.host, remote.port), family: remote.family } : {}),
      downRate: Math.round(this.meter.rate()),
      downloaded: this.meter.total,
      failures: this.failures,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(state === 'waiting' ? { retryIn: Math.ceil((this.retryAt - now) / 1000) } : {}),
      missingFiles: this.missing.size,
    };
  }

  /** About RUN_SECONDS of what one of its connections brings, within bounds. */
  private runBytes(): number {
    const rate = this.meter.rate() / MAX_WORKERS;
    if (rate === 0) return FIRST_RUN;
    return Math.min(MAX_RUN, Math.max(MIN_RUN, rate * RUN_SECONDS));
  }

  private async runOn(w: Worker, blocks: BlockRef[]): Promise<void> {
    for (const r of blocks) this.mine.add(blockKey(r));
    const run = w.start(blocks, (r, block) => {
      this.mine.delete(blockKey(r));
      // Nothing is stored once the transfer stopped (the verifier drained already).
      if (!this.host.active || this.host.accept(this.key, r.index, r.begin, block)) return;
      this.host.picker.release(r);
      // Endgame: another source was first. If it was for the rest of the run too, stop fetching it.
      if (!this.stillNeeded(run)) {
        run.halt();
        w.fetcher.abort();
      }
    });
    const first = blocks[0]!;
    const parts = planParts(this.site.protocol, this.site.torrent, first.index, first.begin, run.length, this.host.segments(first.index, first.begin, run.length));
    let failure: WebSeedFailure | undefined;
    try {
      await w.fetcher.fetch(parts, (bytes) => {
        this.meter.add(bytes.length);
        w.take(bytes);
      });
    } catch (e) {
      if (!w.fetcher.wasAborted) failure = e instanceof WebSeedFailure ? e : new WebSeedFailure('protocol', (e as Error).message);
    }
    // What did not arrive goes back to the picker for others (and for this seed, later).
    for (const r of blocks.slice(run.next)) {
      this.host.picker.release(r);
      this.mine.delete(blockKey(r));
    }
    w.finish();
    if (run.received > 0) this.missingInRow = 0;
    if (failure) this.failed(failure);
    else if (!w.fetcher.wasAborted) this.streak = 0;
    this.fill();
  }

  private failed(failure: WebSeedFailure): void {
    if (this.ended) return;
    let f = failure;
    this.failures++;
    this.lastError = f.message;
    const file = f.extra.file;
    if (f.permanent && file !== undefined && this.site.protocol === 'bep19' && this.site.torrent.multiFile) {
      if (this.dropFile(file)) this.missingInRow++;
      // A seed that never gave a byte and lacks file after file is most likely the wrong URL.
      const hopeless = this.missingInRow >= MAX_MISSING_IN_ROW && this.meter.total === 0;
      if (this.usable > 0 && !hopeless) return this.report(f, 'file-dropped');
      if (hopeless) {
        f = new WebSeedFailure(f.kind, `${this.missingInRow} files in a row are not there (the last: ${f.message}): is the URL right?`);
        this.lastError = f.message;
      }
    }
    if (f.permanent) {
      this.ended = 'failed';
      this.stop();
      return this.report(f, 'dropped');
    }
    // A server's own wait is honoured as it is; our backoff doubles with each failure in a row
    // (requests that were running together and fail together count as one).
    const now = Date.now();
    const wait = f.extra.retryAfterMs ?? Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(this.streak, 20));
    if (f.extra.retryAfterMs === undefined && now >= this.retryAt) this.streak++;
    this.retryAt = Math.max(this.retryAt, now + wait);
    this.report(f, 'retry', Math.ceil(wait / 1000));
  }

  /** A file it does not have: the pieces holding its bytes are no longer asked of it. False when known already. */
  private dropFile(file: number): boolean {
    if (this.missing.has(file)) return false;
    this.missing.add(file);
    this.usable--;
    const range = this.host.piecesOfFile(file);
    if (range) for (let i = range[0]; i <= range[1]; i++) this.lacking.set(i);
    return true;
  }

  /** Said once per kind of failure (and per file, for a file's). */
  private report(f: WebSeedFailure, action: 'retry' | 'file-dropped' | 'dropped', retryIn?: number): void {
    const key = f.extra.file !== undefined ? `${f.kind} ${f.extra.file}` : f.kind;
    if (this.reported.has(key) || this.reported.size >= MAX_REPORTED) return;
    this.reported.add(key);
    this.host.emit({ event: 'web-seed-failed', url: this.url, kind: f.kind, reason: f.message, action, ...(retryIn !== undefined ? { retryIn } : {}) });
  }
}
