/**
 * The RPC methods (Transmission's names and arguments, RPC version 17) over the session: what
 * each reads, changes, and answers. Where sixswarm cannot do what a method asks (move data,
 * rename files, a blocklist), the answer says so instead of pretending; where Transmission's
 * idea has no counterpart (queues: every torrent runs), the method succeeds and changes nothing.
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isMagnet } from '../metainfo/magnet.js';
import type { AddOptions } from '../session/session.js';
import { DuplicateError } from '../session/session.js';
import type { TorrentSummary } from '../status/feed.js';
import { Args } from './args.js';
import type { RpcBackend } from './backend.js';
import { RpcError } from './rpc-error.js';
import { sessionGet, sessionSet } from './session-fields.js';
import { TORRENT_FIELDS, TorrentRow, torrentObject } from './torrent-fields.js';
import { TorrentIds } from './torrent-ids.js';

/** A .torrent larger than this is refused over RPC (its base64 must fit in a request body). */
export const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;
const MAX_LABELS = 32;
const MAX_LABEL_LENGTH = 128;

/** A method's reply arguments, and what it changed (for the daemon's log). */
export interface MethodResult {
  reply: Record<string, unknown>;
  done?: Done;
}

export type Method = (args: Args) => Promise<MethodResult>;

/** What a method call was, for the daemon's log: which torrents it touched. */
export interface Done {
  method: string;
  torrents: { infoHash: string; name: string }[];
  detail?: string;
}

export class RpcMethods {
  readonly ids = new TorrentIds();
  private readonly table: Record<string, Method>;

  constructor(
    private readonly b: RpcBackend,
    private readonly sessionId: () => string,
  ) {
    const each = (method: string, op: (hash: string) => Promise<unknown>) => async (args: Args): Promise<MethodResult> => {
      const torrents = this.selected(args);
      await Promise.all(torrents.map((t) => op(t.infoHash)));
      return { reply: {}, done: { method, torrents } };
    };
    const reply = (r: Record<string, unknown>): MethodResult => ({ reply: r });
    const session = b.session;
    this.table = {
      'torrent-get': async (a) => reply(await this.torrentGet(a)),
      'torrent-add': (a) => this.torrentAdd(a),
      'torrent-remove': (a) => this.torrentRemove(a),
      'torrent-set': (a) => this.torrentSet(a),
      'torrent-start': each('torrent-start', (h) => session.resume(h)),
      'torrent-start-now': each('torrent-start', (h) => session.resume(h)),
      'torrent-stop': each('torrent-stop', (h) => session.pause(h)),
      'torrent-verify': each('torrent-verify', (h) => session.recheck(h)),
      'torrent-reannounce': each('torrent-reannounce', (h) => session.reannounce(h)),
      'torrent-set-location': async () => {
        throw new RpcError('sixswarm does not move torrents\' data: remove the torrent (keeping its data), move the data, and add it again with the new download-dir');
      },
      'torrent-rename-path': async () => {
        throw new RpcError('sixswarm does not rename torrents\' files');
      },
      'session-get': async (a) => reply(sessionGet(b, a, this.sessionId())),
      'session-set': async (a) => {
        await sessionSet(b, a, this.sessionId());
        return { reply: {}, done: { method: 'session-set', torrents: [], detail: a.keys().join(', ') } };
      },
      'session-stats': async () => reply(this.sessionStats()),
      'session-close': async () => {
        b.shutDown();
        return { reply: {}, done: { method: 'session-close', torrents: [] } };
      },
      'free-space': async (a) => reply(await this.freeSpace(a)),
      'port-test': async (a) => reply(this.portTest(a)),
      'blocklist-update': async () => {
        throw new RpcError('sixswarm has no blocklist');
      },
      // No queues: every torrent runs. Moving one in a queue changes nothing.
      'queue-move-top': async () => reply({}),
      'queue-move-up': async () => reply({}),
      'queue-move-down': async () => reply({}),
      'queue-move-bottom': async () => reply({}),
      'group-get': async () => reply({ group: [] }),
      'group-set': async () => {
        throw new RpcError('sixswarm has no bandwidth groups: set a torrent\'s own limits with torrent-set');
      },
    };
  }

  /** The method of that name, if there is one. */
  method(name: string): Method | undefined {
    return Object.hasOwn(this.table, name) ? this.table[name] : undefined;
  }

  private summaries(): TorrentSummary[] {
    return this.b.summaries();
  }

  private selected(args: Args): { infoHash: string; name: string }[] {
    const all = this.summaries();
    const { hashes } = this.ids.select(args.value('ids'), all.map((s) => s.infoHash));
    const byHash = new Map(all.map((s) => [s.infoHash, s]));
    return hashes.map((h) => ({ infoHash: h, name: byHash.get(h)!.name }));
  }

  private async torrentGet(args: Args): Promise<Record<string, unknown>> {
    const fields = args.strings('fields', 1000, 100);
    if (!fields) throw new RpcError('torrent-get needs "fields": the list of fields to return');
    const format = args.string('format', 20) ?? 'objects';
    if (format !== 'objects' && format !== 'table') throw new RpcError('"format" must be "objects" or "table"');
    const all = this.summaries();
    const sel = this.ids.select(args.value('ids'), all.map((s) => s.infoHash));
    const wanted = new Set(sel.hashes);
    const settings = this.b.settings();
    const now = Date.now();
    const rows: TorrentRow[] = [];
    all.forEach((s, position) => {
      if (!wanted.has(s.infoHash)) return;
      const v = this.b.session.view(s.infoHash);
      if (v) rows.push(new TorrentRow(this.ids.idOf(s.infoHash), position, s, v, this.b.session.parts(s.infoHash), settings, this.b.session, now));
    });
    const known = fields.filter((f) => Object.hasOwn(TORRENT_FIELDS, f));
    const torrents = format === 'table' ? [known, ...rows.map((r) => known.map((f) => torrentObject(r, [f])[f]))] : rows.map((r) => torrentObject(r, known));
    return { torrents, ...(sel.removed ? { removed: sel.removed } : {}) };
  }

  private async torrentAdd(args: Args): Promise<MethodResult> {
    const metainfo = args.string('metainfo', Math.ceil((MAX_UPLOAD_BYTES * 4) / 3) + 4096);
    const filename = args.string('filename', 64 * 1024);
    const requestedDir = args.string('download-dir', 4096);
    const paused = args.bool('paused');
    const labels = args.strings('labels', MAX_LABELS, MAX_LABEL_LENGTH);
    for (const key of ['files-wanted', 'files-unwanted'] as const) {
      if (args.integers(key)?.length) throw new RpcError(`sixswarm cannot choose files of a torrent over RPC yet ("${key}"): add it without, or use sixswarm download --select`);
    }
    const opts: AddOptions = { dir: await this.b.folders.check(requestedDir), ...(paused !== undefined ? { paused } : {}), ...(labels?.length ? { labels } : {}) };
    let summary: TorrentSummary;
    try {
      if (metainfo !== undefined) {
        const text = metainfo.replace(/\s+/g, '');
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new RpcError('"metainfo" is not base64');
        summary = await this.b.session.addTorrent(Buffer.from(text, 'base64'), opts);
      } else if (filename !== undefined) {
        if (!isMagnet(filename.trim())) {
          throw new RpcError(
            /^https?:\/\//i.test(filename)
              ? 'sixswarm does not fetch .torrent files for remotes: download the file and send its contents ("metainfo"), or give a magnet link'
              : '"filename" must be a magnet link; send a .torrent file\'s contents as "metainfo" (transmission-remote -a FILE does that for a file on its own machine)',
          );
        }
        summary = await this.b.session.add(filename, opts);
      } else throw new RpcError('torrent-add needs "metainfo" (a .torrent file, base64) or "filename" (a magnet link)');
    } catch (e) {
      if (!(e instanceof DuplicateError)) throw e;
      const dup = this.summaries().find((s) => s.infoHash === e.infoHash)!;
      return { reply: { 'torrent-duplicate': { id: this.ids.idOf(dup.infoHash), name: dup.name, hashString: dup.infoHash } } };
    }
    return {
      reply: { 'torrent-added': { id: this.ids.idOf(summary.infoHash), name: summary.name, hashString: summary.infoHash } },
      done: { method: 'torrent-add', torrents: [{ infoHash: summary.infoHash, name: summary.name }], detail: `into ${opts.dir}${opts.paused ? ', paused' : ''}` },
    };
  }

  private async torrentRemove(args: Args): Promise<MethodResult> {
    const deleteData = args.bool('delete-local-data') ?? false;
    const torrents = this.selected(args);
    const kept: string[] = [];
    await Promise.all(
      torrents.map(async (t) => {
        const r = await this.b.session.remove(t.infoHash, deleteData);
        this.ids.forget(t.infoHash);
        if (r?.kept.length) kept.push(...r.kept);
      }),
    );
    return { reply: {}, done: { method: 'torrent-remove', torrents, detail: deleteData ? `data deleted${kept.length ? `; left alone: ${kept.join('; ')}` : ''}` : 'data kept' } };
  }

  private async torrentSet(args: Args): Promise<MethodResult> {
    const torrents = this.selected(args);
    const labels = args.strings('labels', MAX_LABELS, MAX_LABEL_LENGTH);
    const limit = (dir: 'download' | 'upload') => ({ on: args.bool(`${dir}Limited`), kb: args.number(`${dir}Limit`, 0, 1e9) });
    const down = limit('download');
    const up = limit('upload');
    // Accepted and without effect: there is no priority, queue, bandwidth group or per-torrent peer or seed limit to set.
    const noEffect = new Set(['ids', 'bandwidthPriority', 'honorsSessionLimits', 'queuePosition', 'seedIdleLimit', 'seedIdleMode', 'seedRatioLimit', 'seedRatioMode', 'peer-limit', 'group', 'priority-high', 'priority-low', 'priority-normal']);
    const handled = new Set(['labels', 'downloadLimited', 'downloadLimit', 'uploadLimited', 'uploadLimit']);
    const refused = args.keys().filter((k) => !noEffect.has(k) && !handled.has(k) && !((k === 'files-wanted' || k === 'files-unwanted') && args.integers(k)?.length === 0));
    if (refused.length > 0) throw new RpcError(`sixswarm cannot change ${refused.slice(0, 10).map((k) => `"${k}"`).join(', ')} of a torrent over RPC`);
    for (const t of torrents) {
      if (labels) await this.b.session.setLabels(t.infoHash, labels);
      if (down.on !== undefined || down.kb !== undefined || up.on !== undefined || up.kb !== undefined) {
        const entry = this.b.session.view(t.infoHash)?.entry;
        const next = (l: { on?: boolean; kb?: number }, now: number | undefined) => {
          const on = l.on ?? now !== undefined;
          const bytes = l.kb !== undefined ? l.kb * 1000 : (now ?? 100_000);
          return on && bytes > 0 ? bytes : undefined;
        };
        await this.b.session.setRates(t.infoHash, { down: next(down, entry?.rates?.down), up: next(up, entry?.rates?.up) });
      }
    }
    return { reply: {}, done: { method: 'torrent-set', torrents, detail: args.keys().filter((k) => k !== 'ids').join(', ') } };
  }

  private sessionStats(): Record<string, unknown> {
    const all = this.summaries();
    const st = this.b.stats();
    const active = all.filter((s) => s.state !== 'paused' && s.state !== 'stopped' && s.state !== 'error').length;
    const totals = { uploadedBytes: st.uploaded, downloadedBytes: st.downloaded, filesAdded: st.torrentsAdded, sessionCount: 1, secondsActive: st.secondsActive };
    return {
      activeTorrentCount: active,
      pausedTorrentCount: all.length - active,
      torrentCount: all.length,
      downloadSpeed: all.reduce((n, s) => n + Math.round(s.downRate), 0),
      uploadSpeed: all.reduce((n, s) => n + Math.round(s.upRate), 0),
      'current-stats': totals,
      'cumulative-stats': totals,
    };
  }

  private async freeSpace(args: Args): Promise<Record<string, unknown>> {
    const path = args.string('path', 4096);
    if (path === undefined) throw new RpcError('free-space needs "path"');
    const dir = await this.b.folders.check(path, 'path');
    // The folder may not exist yet: its nearest existing parent is on the same file system.
    let at = dir;
    for (;;) {
      try {
        const fs = await statfs(at);
        return { path, 'size-bytes': fs.bavail * fs.bsize, total_size: fs.blocks * fs.bsize };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(at) === at) throw new RpcError(`cannot tell the free space of ${path}: ${code ?? 'error'}`);
        at = dirname(at);
      }
    }
  }

  /**
   * Whether peers can reach our port. Transmission asks a web service; sixswarm asks no one, and
   * answers from what it saw: a peer from outside connected to us over that family.
   */
  private portTest(args: Args): Record<string, unknown> {
    const protocol = args.string('ipProtocol', 10);
    if (protocol !== undefined && protocol !== 'ipv4' && protocol !== 'ipv6') throw new RpcError('"ipProtocol" must be "ipv4" or "ipv6"');
    const reached = this.b.status().reached;
    const outside = (f: 4 | 6) => !!reached[f] && reached[f].kind !== 'loopback';
    const open = protocol === 'ipv4' ? outside(4) : protocol === 'ipv6' ? outside(6) : outside(4) || outside(6);
    return { 'port-is-open': open, ...(protocol ? { ipProtocol: protocol } : {}), 'sixswarm-reached': reached };
  }
}
