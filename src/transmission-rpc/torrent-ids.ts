/**
 * Transmission's torrent ids: small numbers handed out in the order torrents are first seen,
 * stable while the daemon runs (after a restart they follow the session's order again), and the
 * `ids` argument in all its forms: absent (every torrent), one number, a list of numbers and
 * info hashes, one info hash, or `recently-active` (with the ids removed lately).
 */
import { RpcError } from './rpc-error.js';

/** How long a removed torrent's id is reported to `recently-active` requests. */
const REMOVED_KEPT_MS = 60_000;

export interface Selection {
  hashes: string[];
  /** For `recently-active`: ids of torrents removed lately. */
  removed?: number[];
}

export class TorrentIds {
  private next = 1;
  private readonly byHash = new Map<string, number>();
  private readonly byId = new Map<number, string>();
  private removed: { id: number; at: number }[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  idOf(hash: string): number {
    let id = this.byHash.get(hash);
    if (id === undefined) {
      id = this.next++;
      this.byHash.set(hash, id);
      this.byId.set(id, hash);
    }
    return id;
  }

  /** The torrent is gone: `recently-active` says so for a while. */
  forget(hash: string): void {
    const id = this.byHash.get(hash);
    if (id === undefined) return;
    this.byHash.delete(hash);
    this.byId.delete(id);
    this.removed.push({ id, at: this.now() });
  }

  /** The torrents `ids` names among `all` (info hashes, in session order); unknown ones are left out, as Transmission does. */
  select(ids: unknown, all: readonly string[]): Selection {
    for (const h of all) this.idOf(h);
    if (ids === undefined) return { hashes: [...all] };
    if (ids === 'recently-active') {
      const now = this.now();
      this.removed = this.removed.filter((r) => now - r.at < REMOVED_KEPT_MS);
      // Every torrent counts as recently active: a superset is what the clients merge anyway.
      return { hashes: [...all], removed: this.removed.map((r) => r.id) };
    }
    const list = Array.isArray(ids) ? ids : [ids];
    if (list.length > 100_000) throw new RpcError('"ids" lists too many torrents');
    const known = new Set(all);
    const out = new Set<string>();
    for (const x of list) {
      if (typeof x === 'number' && Number.isSafeInteger(x)) {
        const h = this.byId.get(x);
        if (h && known.has(h)) out.add(h);
      } else if (typeof x === 'string' && /^[0-9a-fA-F]{40}$/.test(x)) {
        const h = x.toLowerCase();
        if (known.has(h)) out.add(h);
      } else if (typeof x === 'string' && /^\d{1,15}$/.test(x)) {
        const h = this.byId.get(Number(x));
        if (h && known.has(h)) out.add(h);
      } else {
        throw new RpcError('"ids" must be a torrent id, an info hash (40 hex digits), a list of them, or "recently-active"');
      }
    }
    return { hashes: all.filter((h) => out.has(h)) };
  }
}
