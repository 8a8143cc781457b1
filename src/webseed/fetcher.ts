/**
 * Fetching a run of a torrent's bytes from one web seed: the run is planned as parts (BEP 19: a
 * byte range of each file it covers, pad files as zeros never asked for; BEP 17: a range of each
 * piece), each asked for with one GET on a kept-alive connection (reopened when the server
 * closed it, or when a redirect leads to another server), and the bytes handed on in torrent
 * order as they arrive. Redirects are followed up to MAX_REDIRECTS hops and remembered per file;
 * every request has a time budget that grows with its size (time spent paused by a rate limit
 * does not count). Each failure is a WebSeedFailure saying what kind it is.
 */
import { sameOrigin, openConnection, originOf, type ConnectOptions, type HttpNetwork, type Origin } from '../http-client/connect.js';
import type { HttpConnection, Remote } from '../http-client/connection.js';
import { HttpClientError } from '../http-client/client-error.js';
import type { ResponseHead } from '../http-client/response-head.js';
import { WebSeedFailure, type FailureKind } from './failure.js';
import { interpret, type Asked } from './responses.js';
import { parseBusyBody } from './retry-after.js';
import { fileUrl, pieceUrl, type SeedProtocol, type SeedTorrent } from './seed-urls.js';

export type Part =
  /** BEP 19: `length` bytes at `offset` of file `file`. */
  | { kind: 'file'; file: number; offset: number; length: number }
  /** A pad file's bytes: zeros, made here. */
  | { kind: 'zeros'; length: number }
  /** BEP 17: `length` bytes at `begin` of piece `piece`. */
  | { kind: 'piece'; piece: number; begin: number; length: number };

/** A run of the torrent's bytes inside files, as the storage layout maps it. */
export interface FileSegment {
  fileIndex: number;
  fileOffset: number;
  length: number;
}

export const MAX_REDIRECTS = 5;
/** Every request may take this long, plus the time its size needs at MIN_RATE. */
const REQUEST_BASE_MS = 30_000;
const MIN_RATE = 32 * 1024;
/** Bodies read only to keep the connection (a redirect's, an error page): at most this much. */
const SMALL_BODY = 64 * 1024;
/** Files whose redirect target is remembered, at most (the oldest is forgotten first), and the longest target taken. */
const MAX_REMEMBERED = 4096;
const MAX_URL = 2048;
const ZEROS = Buffer.alloc(64 * 1024);

/** The parts of `length` torrent bytes starting at byte `begin` of piece `piece`. */
export function planParts(protocol: SeedProtocol, torrent: SeedTorrent, piece: number, begin: number, length: number, segments: readonly FileSegment[]): Part[] {
  if (protocol === 'bep19') {
    return segments.map((s) => (torrent.files[s.fileIndex]!.pad ? { kind: 'zeros', length: s.length } : { kind: 'file', file: s.fileIndex, offset: s.fileOffset, length: s.length }));
  }
  const parts: Part[] = [];
  let at = piece * torrent.pieceLength + begin;
  const end = at + length;
  while (at < end) {
    const p = Math.floor(at / torrent.pieceLength);
    const n = Math.min(end, (p + 1) * torrent.pieceLength) - at;
    parts.push({ kind: 'piece', piece: p, begin: at - p * torrent.pieceLength, length: n });
    at += n;
  }
  return parts;
}

/** One web seed: its URL, its protocol, and where its files turned out to be (redirects). */
export class WebSeedSite {
  private readonly moved = new Map<number, string>();

  constructor(
    readonly url: string,
    readonly protocol: SeedProtocol,
    readonly torrent: SeedTorrent,
    readonly network: HttpNetwork,
    readonly connect: ConnectOptions,
  ) {}

  /** Where a part is asked for first. */
  urlOf(part: Exclude<Part, { kind: 'zeros' }>): URL {
    if (part.kind === 'piece') return pieceUrl(this.url, this.torrent, part.piece, part.begin, part.length);
    const moved = this.moved.get(part.file);
    return moved ? new URL(moved) : fileUrl(this.url, this.torrent, part.file);
  }

  /** A file answered from elsewhere: ask there next time. */
  remember(file: number, url: URL): void {
    this.moved.delete(file);
    this.moved.set(file, url.href);
    if (this.moved.size > MAX_REMEMBERED) this.moved.delete(this.moved.keys().next().value!);
  }

  /** A remembered place failed: back to the seed's own URL. */
  forget(file: number): void {
    this.moved.delete(file);
  }
}

function failureOf(e: unknown): WebSeedFailure {
  if (e instanceof WebSeedFailure) return e;
  if (e instanceof HttpClientError) {
    const kinds: Record<HttpClientError['kind'], FailureKind> = { connect: 'connect', tls: 'tls', timeout: 'timeout', protocol: 'protocol', 'too-large': 'too-much', closed: 'closed' };
    return new WebSeedFailure(kinds[e.kind], e.message);
  }
  return new WebSeedFailure('protocol', (e as Error).message);
}

/**
 * One worker's way to a web seed: at most one connection at a time, one request at a time.
 * pause() and resume() hold the reading (a rate limit); abort() ends what runs.
 */
export class WebSeedFetcher {
  private conn?: { origin: Origin; c: HttpConnection };
  private paused = false;
  private aborted = false;
  /** The running request's time budget: left of it, and since when it runs down. */
  private budget?: { leftMs: number; since: number; timer?: NodeJS.Timeout; expired: boolean };

  constructor(private readonly site: WebSeedSite) {}

  /** The address of the connection in use (for status). */
  get remote(): Remote | undefined {
    return this.conn && !this.conn.c.closed ? this.conn.c.remote : undefined;
  }

  /** Fetch the parts in order, every byte to `data` (in order, as it arrives). */
  async fetch(parts: readonly Part[], data: (bytes: Buffer) => void): Promise<void> {
    this.aborted = false;
    for (const part of parts) {
      if (this.aborted) return;
      if (part.kind === 'zeros') {
        for (let left = part.length; left > 0; left -= ZEROS.length) data(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
        continue;
      }
      await this.fetchPart(part, data);
    }
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.conn?.c.pause();
    const b = this.budget;
    if (b?.timer) {
      clearTimeout(b.timer);
      b.timer = undefined;
      b.leftMs -= Date.now() - b.since;
    }
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.conn?.c.resume();
    if (this.budget && !this.budget.expired) this.runBudget();
  }

  /** Stop what runs now (nothing is reported: the caller knows why); the connection is closed. */
  abort(): void {
    this.aborted = true;
    this.close();
  }

  get wasAborted(): boolean {
    return this.aborted;
  }

  close(): void {
    this.stopBudget();
    this.conn?.c.close();
    this.conn = undefined;
  }

  private async fetchPart(part: Exclude<Part, { kind: 'zeros' }>, data: (bytes: Buffer) => void): Promise<void> {
    const site = this.site;
    const torrent = site.torrent;
    const bep17 = part.kind === 'piece';
    const file = part.kind === 'file' ? torrent.files[part.file]! : undefined;
    const asked: Asked = {
      start: part.kind === 'file' ? part.offset : part.begin,
      length: part.length,
      ...(file && part.kind === 'file' ? { file: { index: part.file, length: file.length, name: file.path.join('/') } } : {}),
    };
    const first = site.urlOf(part);
    const seen = new Set<string>([first.href]);
    let url = first;
    try {
      for (let hop = 0; ; hop++) {
        const { c, head } = await this.ask(url, asked);
        const outcome = interpret(head, asked, bep17);
        if (outcome.kind === 'redirect') {
          await c.skipBody(SMALL_BODY);
          // Remembered per file: a server must not make us keep long URLs by the thousand.
          if (outcome.location.length > MAX_URL) throw new WebSeedFailure('redirects', `redirected to a URL longer than ${MAX_URL} characters`);
          let next: URL;
          try {
            next = new URL(outcome.location, url);
          } catch {
            throw new WebSeedFailure('protocol', `redirected to "${outcome.location.slice(0, 100)}", which is no URL`);
          }
          if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new WebSeedFailure('redirects', `redirected to a ${next.protocol} URL`);
          if (seen.has(next.href)) throw new WebSeedFailure('redirects', `redirects in a loop (${url.href} -> ${next.href})`);
          if (hop + 1 >= MAX_REDIRECTS) throw new WebSeedFailure('redirects', `redirected more than ${MAX_REDIRECTS} times`);
          seen.add(next.href);
          url = next;
          continue;
        }
        if (outcome.kind === 'busy-body') {
          // A few digits; a page instead says nothing usable (and the connection goes).
          const body: Buffer[] = [];
          const wait = await c.readBody(64, (b) => body.push(Buffer.from(b))).then(
            () => parseBusyBody(Buffer.concat(body)),
            () => undefined,
          );
          throw new WebSeedFailure('busy', `busy (HTTP 503${wait !== undefined ? `, retry in ${Math.round(wait / 1000)} s` : ''})`, wait !== undefined ? { retryAfterMs: wait } : {});
        }
        if (part.kind === 'file' && url !== first) site.remember(part.file, url);
        await this.readData(c, part.length, data);
        return;
      }
    } catch (e) {
      if (part.kind === 'file' && url !== first) site.forget(part.file);
      throw this.aborted ? e : failureOf(e);
    } finally {
      this.stopBudget();
    }
  }

  /** Send the request on a connection to its server (a fresh one when a kept-alive connection turns out closed). */
  private async ask(url: URL, asked: Asked): Promise<{ c: HttpConnection; head: ResponseHead }> {
    const origin = originOf(url);
    const headers: Record<string, string> = asked.file ? { Range: `bytes=${asked.start}-${asked.start + asked.length - 1}` } : {};
    for (let attempt = 0; ; attempt++) {
      const c = await this.connection(origin);
      const reused = c.used > 0;
      this.startBudget(REQUEST_BASE_MS + (asked.length / MIN_RATE) * 1000);
      try {
        return { c, head: await c.request({ target: url.pathname + url.search, host: url.host, headers }) };
      } catch (e) {
        // A server may close an idle kept-alive connection just as we send on it: once more, afresh.
        if (reused && attempt === 0 && e instanceof HttpClientError && e.kind === 'closed' && !this.aborted) continue;
        throw e;
      }
    }
  }

  private async readData(c: HttpConnection, length: number, data: (bytes: Buffer) => void): Promise<void> {
    let got = 0;
    const started = Date.now();
    try {
      await c.readBody(length, (b) => {
        got += b.length;
        data(b);
      });
    } catch (e) {
      if (this.budget?.expired) {
        throw new WebSeedFailure('slow', `too slow: ${Math.round(got / 1024)} KiB of ${Math.round(length / 1024)} KiB in ${Math.round((Date.now() - started) / 1000)} s`);
      }
      throw e;
    } finally {
      this.stopBudget();
    }
    if (got !== length) throw new WebSeedFailure('protocol', `sent ${got} bytes where ${length} were asked for`);
  }

  private async connection(origin: Origin): Promise<HttpConnection> {
    const held = this.conn;
    if (held && sameOrigin(held.origin, origin) && held.c.reusable) return held.c;
    held?.c.close();
    this.conn = undefined;
    const c = await openConnection(this.site.network, origin, this.site.connect);
    if (this.aborted) {
      c.close();
      throw new WebSeedFailure('closed', 'aborted');
    }
    this.conn = { origin, c };
    if (this.paused) c.pause();
    return c;
  }

  // ---- the request's time budget --------------------------------------------------------------

  private startBudget(ms: number): void {
    this.stopBudget();
    this.budget = { leftMs: ms, since: Date.now(), expired: false };
    if (!this.paused) this.runBudget();
  }

  private runBudget(): void {
    const b = this.budget!;
    b.since = Date.now();
    b.timer = setTimeout(() => {
      b.expired = true;
      this.conn?.c.close(new HttpClientError('the request ran out of time', 'timeout'));
    }, Math.max(1, b.leftMs));
    b.timer.unref?.();
  }

  private stopBudget(): void {
    if (this.budget?.timer) clearTimeout(this.budget.timer);
    this.budget = undefined;
  }
}
