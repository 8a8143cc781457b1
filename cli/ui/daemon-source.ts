/**
 * The terminal UI on a running `sixswarm daemon` instead of an engine of its own: snapshots
 * from the daemon's event stream (/sixswarm/events, reopened for the torrent whose detail is
 * shown), commands through its Transmission RPC. The daemon keeps running when the UI quits.
 */
import { readFile } from 'node:fs/promises';
import { get, type ClientRequest } from 'node:http';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { applyUpdate, fromSnapshot, type PageState } from '../../src/daemon/page-state.js';
import type { PageSnapshot, PageUpdate } from '../../src/daemon/web-types.js';
import { isMagnet } from '../../src/metainfo/magnet.js';
import { errorMessage, InputError } from '../../src/util/errors.js';
import type { Command, UiSnapshot } from './state.js';

const HISTORY = 120;
const RECONNECT_MS = 1000;

export class DaemonSource {
  private state?: PageState;
  private detailOf?: string;
  private req?: ClientRequest;
  private closed = false;
  private sessionId = '';
  private retry?: NodeJS.Timeout;

  /** `base`: the daemon's page, http://127.0.0.1:9091/. */
  constructor(readonly base: string) {}

  /** Connect; resolves once the first snapshot arrived, rejects with why it did not (a login needed, nothing there). */
  open(): Promise<void> {
    return new Promise((resolve, reject) => this.connect(resolve, reject));
  }

  snapshot(detailOf: string | undefined, _cells: number): UiSnapshot {
    if (detailOf !== this.detailOf) {
      this.detailOf = detailOf;
      this.reconnect();
    }
    const s = this.state!;
    const detail = s.detail && s.detail.torrent.infoHash === detailOf ? s.detail.torrent : undefined;
    return { torrents: s.torrents, engine: s.engine, at: Date.now(), ...(detail ? { detail } : {}) };
  }

  async run(c: Exclude<Command, { kind: 'quit' }>): Promise<string | undefined> {
    const name = this.state?.torrents.find((t) => 'infoHash' in c && t.infoHash === c.infoHash)?.name ?? '';
    switch (c.kind) {
      case 'add': {
        const input = c.input.trim();
        let args: Record<string, unknown>;
        if (isMagnet(input)) args = { filename: input };
        else {
          const file = resolve(input === '~' || input.startsWith('~/') ? join(homedir(), input.slice(1)) : input);
          const bytes = await readFile(file).catch((e: unknown) => {
            throw new InputError(`cannot read ${file}: ${errorMessage(e)}`);
          });
          args = { metainfo: bytes.toString('base64') };
        }
        const r = await this.rpc('torrent-add', args);
        const dup = r['torrent-duplicate'] as { name: string } | undefined;
        if (dup) throw new InputError(`"${dup.name}" is already in the session`);
        return (r['torrent-added'] as { name: string }).name;
      }
      case 'pause':
        await this.rpc('torrent-stop', { ids: [c.infoHash] });
        return `paused ${name}`;
      case 'resume':
        await this.rpc('torrent-start', { ids: [c.infoHash] });
        return `resumed ${name}`;
      case 'recheck':
        await this.rpc('torrent-verify', { ids: [c.infoHash] });
        return `re-checking ${name}`;
      case 'remove':
        await this.rpc('torrent-remove', { ids: [c.infoHash], 'delete-local-data': c.deleteData });
        return `removed ${name}${c.deleteData ? ' and its files' : '; its data stays where it is'}`;
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.req?.destroy();
  }

  private reconnect(): void {
    this.req?.destroy();
    clearTimeout(this.retry);
    this.connect();
  }

  /** Open the event stream; `first`/`failed` hear of its first snapshot (open()), later streams reconnect on their own. */
  private connect(first?: () => void, failed?: (e: Error) => void): void {
    if (this.closed) return;
    const url = new URL(`sixswarm/events${this.detailOf ? `?detail=${this.detailOf}` : ''}`, this.base);
    const req = get(url, { headers: { Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        failed?.(new Error(res.statusCode === 401 ? 'it asks for a login' : `it answered ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          this.message(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (this.state) first?.();
        }
      });
      res.on('close', () => {
        if (this.req === req) this.later();
      });
    });
    req.on('error', (e) => {
      if (failed && !this.state) failed(e);
      else if (this.req === req) this.later();
    });
    this.req = req;
  }

  private later(): void {
    if (this.closed) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.connect(), RECONNECT_MS);
  }

  private message(block: string): void {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (event === 'snapshot') {
      const fresh = fromSnapshot(JSON.parse(data) as PageSnapshot);
      // A reopened stream starts over; the totals' history is kept.
      this.state = this.state ? { ...fresh, totals: this.state.totals } : fresh;
    } else if (event === 'update' && this.state) this.state = applyUpdate(this.state, JSON.parse(data) as PageUpdate, HISTORY);
  }

  /** One Transmission RPC call (the 409 hands over the session id). */
  private async rpc(method: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await fetch(new URL('transmission/rpc', this.base), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Transmission-Session-Id': this.sessionId },
        body: JSON.stringify({ method, arguments: args }),
      });
      if (res.status === 409) {
        this.sessionId = res.headers.get('X-Transmission-Session-Id') ?? '';
        continue;
      }
      if (!res.ok) throw new Error(`the daemon answered ${res.status}: ${(await res.text()).trim()}`);
      const body = (await res.json()) as { result: string; arguments?: Record<string, unknown> };
      if (body.result !== 'success') throw new InputError(body.result);
      return body.arguments ?? {};
    }
    throw new Error('the daemon keeps refusing our session id');
  }
}
