/**
 * Live updates for web pages (Server-Sent Events at /sixswarm/events): a snapshot when a page
 * connects, then once a second only the torrents whose summary changed, the engine's status and
 * the second's totals, plus the detail of the one torrent the page shows (?detail=HASH). Streams
 * are few and bounded (in all and per host); each costs one summary pass a second, shared.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostKey } from '../net/address.js';
import { HttpError } from '../http/http-error.js';
import { BASE_HEADERS } from '../http/http-front.js';
import type { TorrentSummary } from '../status/feed.js';
import type { PageDetail, PageSnapshot, PageUpdate } from './web-types.js';

const MAX_STREAMS = 32;
const MAX_STREAMS_PER_HOST = 8;
/** A stream whose client reads slower than this much queued output is dropped. */
const MAX_BUFFERED = 4 * 1024 * 1024;

export interface StreamSource {
  snapshot(detailOf: string | undefined): PageSnapshot;
  /** This second's summaries and engine status (computed once for every stream). */
  tick(): Omit<PageUpdate, 'changed' | 'removed' | 'order' | 'detail'> & { torrents: TorrentSummary[] };
  detail(infoHash: string): PageDetail | undefined;
}

interface Stream {
  res: ServerResponse;
  host: string;
  detailOf?: string;
  /** Per torrent, the summary last sent (as JSON). */
  sent: Map<string, string>;
  order: string;
}

export class EventStreams {
  private readonly streams = new Set<Stream>();

  constructor(private readonly source: StreamSource) {}

  get count(): number {
    return this.streams.size;
  }

  open(req: IncomingMessage, res: ServerResponse, source: string, query: URLSearchParams): void {
    const host = hostKey(source);
    if (this.streams.size >= MAX_STREAMS) throw new HttpError(503, 'too many pages are open on this daemon; close one', { 'Retry-After': '10' });
    if ([...this.streams].filter((s) => s.host === host).length >= MAX_STREAMS_PER_HOST) throw new HttpError(429, 'too many pages are open from this host; close one');
    const detail = query.get('detail') ?? undefined;
    if (detail !== undefined && !/^[0-9a-f]{40}$/.test(detail)) throw new HttpError(400, 'detail must be an info hash (40 lower-case hex digits)');
    res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    const snap = this.source.snapshot(detail);
    const stream: Stream = { res, host, ...(detail ? { detailOf: detail } : {}), sent: new Map(snap.torrents.map((t) => [t.infoHash, JSON.stringify(t)])), order: snap.torrents.map((t) => t.infoHash).join() };
    this.streams.add(stream);
    req.socket.setTimeout(0);
    res.on('close', () => this.streams.delete(stream));
    this.send(stream, 'snapshot', snap);
  }

  /** Once a second: every stream gets what changed for it. */
  tick(): void {
    if (this.streams.size === 0) return;
    const { torrents, ...rest } = this.source.tick();
    const json = new Map(torrents.map((t) => [t.infoHash, JSON.stringify(t)]));
    const order = torrents.map((t) => t.infoHash).join();
    for (const s of this.streams) {
      const changed = torrents.filter((t) => s.sent.get(t.infoHash) !== json.get(t.infoHash));
      const removed = [...s.sent.keys()].filter((h) => !json.has(h));
      s.sent = json;
      const detail = s.detailOf ? this.source.detail(s.detailOf) : undefined;
      const update: PageUpdate = { ...rest, changed, removed, ...(order !== s.order ? { order: torrents.map((t) => t.infoHash) } : {}), ...(detail ? { detail } : {}) };
      s.order = order;
      this.send(s, 'update', update);
    }
  }

  /** Close every stream (the daemon stops). */
  close(): void {
    for (const s of this.streams) s.res.end();
    this.streams.clear();
  }

  private send(s: Stream, event: string, data: unknown): void {
    if (s.res.writableLength > MAX_BUFFERED) {
      s.res.destroy();
      this.streams.delete(s);
      return;
    }
    s.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }
}
