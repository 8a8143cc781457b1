/**
 * The session of `sixswarm ui` on disk: every torrent the user added (a copy of its .torrent, or
 * its magnet link), where its data lives, whether it is paused and how far it got. One JSON file,
 * replaced atomically, so a crash leaves the old list or the new one, never half of each.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { InputError, errorMessage } from '../util/errors.js';
import { xdgDir } from '../util/environment.js';

export interface SessionEntry {
  infoHash: string;
  name: string;
  /** Absolute: the folder that holds the torrent's name (what `download -o` is given). */
  dir: string;
  paused: boolean;
  addedAt: string;
  source: { kind: 'torrent'; file: string } | { kind: 'magnet'; uri: string };
  /** Verified pieces and bytes when last saved: what a paused torrent shows without touching its data. */
  have: number;
  haveBytes: number;
  /** Labels a remote gave it (Transmission's `labels`). */
  labels?: string[];
  /** When it was first seen complete. */
  doneAt?: string;
  /** Its own rate limits, bytes per second, within the global ones. */
  rates?: { down?: number; up?: number };
}

interface SessionFile {
  version: 1;
  torrents: readonly SessionEntry[];
}

const FILE = 'session.json';
/** More than anyone adds by hand; a bigger file is not ours. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** $XDG_DATA_HOME/sixswarm, else ~/.local/share/sixswarm. */
export function defaultSessionDir(): string {
  const xdg = xdgDir('XDG_DATA_HOME', '.local', 'share');
  return join(xdg, 'sixswarm');
}

export class SessionStore {
  private saving: Promise<void> = Promise.resolve();
  /** The next save, not begun yet: later saves join it (the newest list is what it writes). */
  private queued?: { entries: readonly SessionEntry[]; done: Promise<void> };

  constructor(readonly dir: string) {}

  get file(): string {
    return join(this.dir, FILE);
  }

  /** Where the copy of a torrent's .torrent is kept (the user may move or delete the original). */
  torrentFile(infoHash: string): string {
    return join(this.dir, 'torrents', `${infoHash}.torrent`);
  }

  /**
   * The saved entries; none when there is no session yet. A file that cannot be read as a session
   * is an error, never silently replaced: it is the user's list. One unusable entry costs only
   * itself: it is copied to a file beside the session (nothing the user added is lost when the
   * list is saved again) and `onProblem` hears which entry, why, and where it went.
   */
  async load(onProblem: (message: string) => void = () => {}): Promise<SessionEntry[]> {
    let raw: string;
    try {
      raw = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new InputError(`cannot read the session ${this.file}: ${errorMessage(e)}; fix its permissions or pick another folder with --session DIR`);
    }
    const damaged = (why: string) =>
      new InputError(`the session ${this.file} is damaged (${why}); move it away to start an empty session, or pick another folder with --session DIR`);
    if (raw.length > MAX_FILE_BYTES) throw damaged('larger than any session');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (e) {
      throw damaged(errorMessage(e));
    }
    const f = parsed as Partial<SessionFile>;
    if (typeof f !== 'object' || f === null || f.version !== 1 || !Array.isArray(f.torrents)) throw damaged('not a version 1 session');
    const seen = new Set<string>();
    const kept: SessionEntry[] = [];
    const rejected: { entry: unknown; why: string }[] = [];
    f.torrents.forEach((e: unknown, i) => {
      const why = invalid(e) ?? (seen.has((e as SessionEntry).infoHash) ? `${(e as SessionEntry).infoHash} is listed twice` : undefined);
      if (why) return rejected.push({ entry: e, why: `entry ${i + 1}: ${why}` });
      seen.add((e as SessionEntry).infoHash);
      kept.push(e as SessionEntry);
    });
    if (rejected.length > 0) {
      const aside = join(this.dir, `session.set-aside-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      // Kept aside before anything can save the list without them; if that fails, nothing is loaded.
      await writeFileAtomic(aside, JSON.stringify({ from: this.file, torrents: rejected }, null, 1)).catch((e: unknown) => {
        throw damaged(`${rejected[0]!.why}, and it cannot be set aside in ${aside}: ${errorMessage(e)}`);
      });
      for (const r of rejected) onProblem(`the session ${this.file}: ${r.why}; it is left out and kept in ${aside} (fix it there and add the torrent again)`);
    }
    return kept;
  }

  /**
   * Replace the saved list; saves run one after another, in call order. Saves asked for while one
   * is being written are made once, with the newest list (a thousand torrents added one by one
   * are not a thousand rewrites of a growing file).
   */
  save(entries: readonly SessionEntry[]): Promise<void> {
    if (this.queued) {
      this.queued.entries = entries;
      return this.queued.done;
    }
    const q: { entries: readonly SessionEntry[]; done: Promise<void> } = { entries, done: Promise.resolve() };
    q.done = this.saving.then(async () => {
      this.queued = undefined;
      const data = JSON.stringify({ version: 1, torrents: q.entries } satisfies SessionFile, null, 1);
      await mkdir(this.dir, { recursive: true });
      await writeFileAtomic(this.file, data);
    });
    this.queued = q;
    this.saving = q.done.catch(() => {});
    return q.done;
  }

  /** Keep a copy of a torrent's bytes; returns where. */
  async keepTorrent(infoHash: string, bytes: Buffer): Promise<string> {
    const file = this.torrentFile(infoHash);
    await mkdir(join(this.dir, 'torrents'), { recursive: true });
    await writeFileAtomic(file, bytes);
    return file;
  }

  async forgetTorrent(infoHash: string): Promise<void> {
    await rm(this.torrentFile(infoHash), { force: true });
  }
}

/** Why an entry read from disk is unusable, or undefined when it is fine. */
function invalid(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return 'not an object';
  const x = e as Record<string, unknown>;
  if (typeof x.infoHash !== 'string' || !/^[0-9a-f]{40}$/.test(x.infoHash)) return 'infoHash is not 40 lower-case hex digits';
  if (typeof x.name !== 'string') return 'name is not text';
  if (typeof x.dir !== 'string' || !isAbsolute(x.dir)) return 'dir is not an absolute path';
  if (typeof x.paused !== 'boolean') return 'paused is not true or false';
  if (typeof x.addedAt !== 'string') return 'addedAt is not text';
  if (!Number.isSafeInteger(x.have) || (x.have as number) < 0 || !Number.isSafeInteger(x.haveBytes) || (x.haveBytes as number) < 0) return 'have/haveBytes are not counts';
  if (x.labels !== undefined && (!Array.isArray(x.labels) || !x.labels.every((l) => typeof l === 'string'))) return 'labels are not a list of text';
  if (x.doneAt !== undefined && typeof x.doneAt !== 'string') return 'doneAt is not text';
  if (x.rates !== undefined) {
    const r = x.rates as Record<string, unknown> | null;
    const rate = (v: unknown) => v === undefined || (typeof v === 'number' && v > 0 && Number.isFinite(v));
    if (typeof r !== 'object' || r === null || !rate(r.down) || !rate(r.up)) return 'rates are not positive numbers';
  }
  const s = x.source as Record<string, unknown> | undefined;
  if (typeof s !== 'object' || s === null) return 'source is missing';
  if (s.kind === 'torrent' && typeof s.file === 'string' && isAbsolute(s.file)) return undefined;
  if (s.kind === 'magnet' && typeof s.uri === 'string' && s.uri.startsWith('magnet:?')) return undefined;
  return 'source is neither a .torrent file nor a magnet link';
}
