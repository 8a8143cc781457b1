/**
 * Id -> /64 assignments, remembered across restarts so a returning client gets its prefix back.
 *
 * The store is bounded (`maxAssignments`, at most the range's size): once it is full, or the
 * range has no free /64 left, a new Id gets the prefix of the Id seen least recently that is not
 * connected. Any client can claim any Id, so without the bound a stream of made-up Ids would
 * exhaust the range (or grow the file) for good.
 *
 * The file: a JSON object `{"<id>": {"Prefix": "<prefix>/64", "LastSeen": "<ISO date>"}, ...}`,
 * written least recently seen first. The original server's format (`{"<id>": "<prefix>/64"}`)
 * is read as well, its entries counting as never seen (first to be reused). New assignments
 * are written before they are handed out, atomically (a crash leaves the old or the new file,
 * never a torn one); last-seen times only every SEEN_SAVE_DELAY_MS and on `flush()`. An empty
 * file (the original's setup says `touch` it) means no assignments yet.
 *
 * Each new Id is charged to the host it came from ("Source": an IPv4 address or IPv6 /64), so a
 * server without tokens can cap the Ids one host may hold: a host at its cap that brings a new
 * Id gets the prefix of its own least recently seen Id, never someone else's.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write.js';
import { InputError } from '../util/errors.js';
import { parsePrefix, type Prefix, type PrefixRange } from './prefix.js';

/** The most assignments a store may keep: the file is rewritten whole on each new one. */
export const MAX_ASSIGNMENTS = 65_536;
/** Last-seen updates are written at most this often (a crash loses at most this much of them). */
const SEEN_SAVE_DELAY_MS = 60_000;

interface Entry {
  prefix: Prefix;
  /** Date.now() when the Id last connected or disconnected; 0 when unknown (original format). */
  seen: number;
  /** The host whose client brought this Id first, when known (hostKey of its address). */
  source?: string;
}

/** A cap on the Ids one source host may hold (see the class comment). */
export interface SourceLimit {
  /** hostKey of the client's address. */
  host: string;
  max: number;
}

export interface AssignResult {
  prefix: Prefix;
  /** The Id that had this prefix before, when it was taken from the least recently seen one. */
  reused?: { id: string; seen: number };
}

export class AssignmentStore {
  /** In least-recently-seen-first order: touching an entry moves it to the end. */
  private readonly byId = new Map<string, Entry>();
  private readonly keys = new Set<bigint>();
  /** Ids held per source host. */
  private readonly perSource = new Map<string, number>();
  /** Entries outside the current range: kept in the file as they were, never handed out. */
  private readonly foreign = new Map<string, unknown>();
  /** Every /64 of the range before this key is taken: the free-prefix scan starts here. */
  private scanFrom: bigint;
  private saving: Promise<void> = Promise.resolve();
  private seenTimer: NodeJS.Timeout | undefined;
  readonly maxAssignments: number;

  private constructor(
    readonly range: PrefixRange,
    readonly file: string | undefined,
    maxAssignments: number | undefined,
  ) {
    const cap = Number(range.size < BigInt(MAX_ASSIGNMENTS) ? range.size : BigInt(MAX_ASSIGNMENTS));
    if (maxAssignments !== undefined && !(Number.isInteger(maxAssignments) && maxAssignments >= 1 && maxAssignments <= MAX_ASSIGNMENTS)) {
      throw new RangeError(`max assignments must be a whole number from 1 to ${MAX_ASSIGNMENTS}`);
    }
    this.maxAssignments = Math.min(maxAssignments ?? cap, cap);
    this.scanFrom = range.prefix.key;
  }

  /**
   * Loads `file` (absent or empty: no assignments). Without a file, assignments live only as
   * long as the process. A malformed file is an InputError: better to stop than to hand a
   * client's prefix to someone else. A file with more entries than `maxAssignments` keeps
   * them; new Ids then take over the least recently seen prefixes.
   */
  static async load(range: PrefixRange, file?: string, opts: { maxAssignments?: number } = {}): Promise<AssignmentStore> {
    const store = new AssignmentStore(range, file, opts.maxAssignments);
    if (!file) return store;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return store;
      throw new Error(`cannot read the assignments file ${file}: ${(e as Error).message}`);
    }
    if (text.trim() === '') return store;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new InputError(`assignments file ${file} is not valid JSON (${(e as Error).message})`);
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new InputError(`assignments file ${file} must hold a JSON object of "id": {"Prefix": "prefix/64", "LastSeen": "date"} entries`);
    }
    const entries: Array<[string, Entry]> = [];
    for (const [id, value] of Object.entries(data)) {
      const bad = (why: string) => new InputError(`assignments file ${file}: the entry for "${id}" ${why}`);
      const { text: prefixText, seen, source } = entryFields(value, bad);
      let prefix: Prefix;
      try {
        prefix = parsePrefix(prefixText);
      } catch (e) {
        throw bad(`has a bad prefix: ${(e as Error).message}`);
      }
      if (prefix.length !== 64) throw bad(`is a /${prefix.length}, not a /64`);
      if (!range.contains(prefix.key)) {
        store.foreign.set(id, value);
        continue;
      }
      if (store.keys.has(prefix.key)) throw new InputError(`assignments file ${file}: ${prefix.text} is assigned twice`);
      store.keys.add(prefix.key);
      entries.push([id, { prefix, seen, ...(source !== undefined ? { source } : {}) }]);
    }
    // Stable: equal times (never seen, or the same millisecond) keep the file's order.
    entries.sort((a, b) => a[1].seen - b[1].seen);
    for (const [id, entry] of entries) store.put(id, entry);
    return store;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Ids whose stored prefix lies outside the current range (they get a new one on return). */
  get foreignIds(): string[] {
    return [...this.foreign.keys()];
  }

  get(id: string): Prefix | undefined {
    return this.byId.get(id)?.prefix;
  }

  /** How many Ids the source host `host` holds. */
  heldBy(host: string): number {
    return this.perSource.get(host) ?? 0;
  }

  /**
   * The prefix of `id`: its old one, else the first free /64 of the range while the store has
   * room, else the prefix of the least recently seen Id that is not `connected`. With `limit`, a
   * host holding `limit.max` Ids already gets the prefix of its own least recently seen Id that
   * is not connected instead. A new assignment is persisted before this resolves (so a prefix
   * that was ever sent is one a restarted server still knows). Rejects when no Id it could take
   * a prefix from is free, or the file cannot be written.
   */
  async assign(id: string, connected: (id: string) => boolean, limit?: SourceLimit): Promise<AssignResult> {
    const known = this.byId.get(id);
    if (known) {
      this.seen(id);
      return { prefix: known.prefix };
    }
    let prefix: Prefix | undefined;
    let reused: [string, Entry] | undefined;
    if (limit && this.heldBy(limit.host) >= limit.max) {
      reused = this.leastSeen((other, e) => e.source === limit.host && !connected(other));
      if (!reused) {
        throw new Error(`the ${limit.max} Ids this address may hold without a token are all connected; a returning client keeps its Id, a new one needs a token`);
      }
    } else {
      prefix = this.byId.size < this.maxAssignments ? this.range.firstFree((k) => this.keys.has(k), this.scanFrom) : undefined;
      if (prefix) this.scanFrom = prefix.key + 1n;
      else reused = this.leastSeen((other) => !connected(other));
      if (!prefix && !reused) throw new Error(`no free /64 left in ${this.range.prefix.text}: all ${this.byId.size} assigned prefixes are in use`);
    }
    if (reused) {
      prefix = reused[1].prefix;
      this.take(reused[0]);
    }
    // Reserve synchronously so concurrent handshakes never pick the same /64.
    this.put(id, { prefix: prefix!, seen: Date.now(), ...(limit ? { source: limit.host } : {}) });
    const foreign = this.foreign.get(id);
    this.foreign.delete(id);
    try {
      await this.save();
    } catch (e) {
      this.take(id);
      if (foreign !== undefined) this.foreign.set(id, foreign);
      if (reused) {
        this.restoreFirst(reused);
      } else {
        this.keys.delete(prefix!.key);
        if (prefix!.key < this.scanFrom) this.scanFrom = prefix!.key;
      }
      throw new Error(`cannot store the assignment in ${this.file}: ${(e as Error).message}`);
    }
    return { prefix: prefix!, ...(reused ? { reused: { id: reused[0], seen: reused[1].seen } } : {}) };
  }

  /** The least recently seen entry that `ok` accepts. */
  private leastSeen(ok: (id: string, e: Entry) => boolean): [string, Entry] | undefined {
    for (const candidate of this.byId) if (ok(candidate[0], candidate[1])) return candidate;
    return undefined;
  }

  /** Adds (or re-adds, most recently seen) an entry, counting it for its source. */
  private put(id: string, entry: Entry): void {
    this.byId.set(id, entry);
    this.keys.add(entry.prefix.key);
    if (entry.source !== undefined) this.perSource.set(entry.source, this.heldBy(entry.source) + 1);
  }

  /** Removes an entry (its prefix stays reserved in `keys`: the caller hands it on or releases it). */
  private take(id: string): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    this.byId.delete(id);
    if (entry.source === undefined) return;
    const n = this.heldBy(entry.source) - 1;
    if (n > 0) this.perSource.set(entry.source, n);
    else this.perSource.delete(entry.source);
  }

  /** `id` connected or disconnected just now (it moves to the back of the reuse order). */
  seen(id: string): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    this.byId.delete(id);
    this.byId.set(id, { ...entry, seen: Date.now() });
    if (this.file && !this.seenTimer) {
      this.seenTimer = setTimeout(() => {
        this.seenTimer = undefined;
        this.save().catch(() => undefined); // the next save (or flush) writes them again
      }, SEEN_SAVE_DELAY_MS);
      this.seenTimer.unref();
    }
  }

  /** Writes what is not yet on disk (last-seen times); rejects when the file cannot be written. */
  async flush(): Promise<void> {
    if (!this.seenTimer) return this.saving.catch(() => undefined); // a failed write was reported to its assign()
    clearTimeout(this.seenTimer);
    this.seenTimer = undefined;
    await this.save();
  }

  /** Puts an entry back at the front of the reuse order, where it was taken from. */
  private restoreFirst([id, entry]: [string, Entry]): void {
    const rest = [...this.byId];
    this.byId.clear();
    this.put(id, entry);
    for (const [k, v] of rest) this.byId.set(k, v);
  }

  /** Writes are chained: each writes the whole current map, in order, one at a time. */
  private save(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const next = this.saving.catch(() => {}).then(() => writeFileAtomic(file, this.serialize()));
    this.saving = next;
    return next;
  }

  private serialize(): string {
    const out: Record<string, unknown> = Object.fromEntries(this.foreign);
    for (const [id, { prefix, seen, source }] of this.byId) {
      out[id] = { Prefix: prefix.text, ...(seen ? { LastSeen: new Date(seen).toISOString() } : {}), ...(source !== undefined ? { Source: source } : {}) };
    }
    return `${JSON.stringify(out, null, 1)}\n`;
  }
}

/** The prefix text, last-seen time and source host of one file entry, in either format. */
function entryFields(value: unknown, bad: (why: string) => Error): { text: string; seen: number; source?: string } {
  if (typeof value === 'string') return { text: value, seen: 0 };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('is neither a prefix string nor an object');
  const { Prefix: text, LastSeen: lastSeen, Source: source } = value as { Prefix?: unknown; LastSeen?: unknown; Source?: unknown };
  if (typeof text !== 'string') throw bad('has no "Prefix" string');
  if (source !== undefined && typeof source !== 'string') throw bad('has a "Source" that is not a string');
  const from = source !== undefined ? { source } : {};
  if (lastSeen === undefined) return { text, seen: 0, ...from };
  const seen = typeof lastSeen === 'string' ? Date.parse(lastSeen) : NaN;
  if (!Number.isFinite(seen)) throw bad('has a "LastSeen" that is not a date');
  return { text, seen, ...from };
}
