/**
 * Id -> /64 assignments, remembered across restarts so a returning client gets its prefix back.
 * The file is the original server's format (a JSON object `{"<id>": "<prefix>/64", ...}`),
 * replaced atomically on every new assignment: a crash leaves the old or the new file, never
 * a torn one. An empty file (the original's setup says `touch` it) means no assignments yet.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write.js';
import { InputError } from '../util/errors.js';
import { parsePrefix, type Prefix, type PrefixRange } from './prefix.js';

export class AssignmentStore {
  private readonly byId = new Map<string, Prefix>();
  private readonly keys = new Set<bigint>();
  /** Entries outside the current range: kept in the file untouched, never handed out. */
  private readonly foreign = new Map<string, string>();
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    readonly range: PrefixRange,
    readonly file: string | undefined,
  ) {}

  /**
   * Loads `file` (absent or empty: no assignments). Without a file, assignments live only as
   * long as the process. A malformed file is an InputError: better to stop than to hand a
   * client's prefix to someone else.
   */
  static async load(range: PrefixRange, file?: string): Promise<AssignmentStore> {
    const store = new AssignmentStore(range, file);
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
      throw new InputError(`assignments file ${file} must hold a JSON object of "id": "prefix/64" entries`);
    }
    for (const [id, value] of Object.entries(data)) {
      if (typeof value !== 'string') throw new InputError(`assignments file ${file}: the entry for "${id}" is not a prefix string`);
      let prefix: Prefix;
      try {
        prefix = parsePrefix(value);
      } catch (e) {
        throw new InputError(`assignments file ${file}: the entry for "${id}": ${(e as Error).message}`);
      }
      if (prefix.length !== 64) throw new InputError(`assignments file ${file}: the entry for "${id}" is a /${prefix.length}, not a /64`);
      if (!range.contains(prefix.key)) {
        store.foreign.set(id, value);
        continue;
      }
      if (store.keys.has(prefix.key)) throw new InputError(`assignments file ${file}: ${prefix.text} is assigned twice`);
      store.byId.set(id, prefix);
      store.keys.add(prefix.key);
    }
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
    return this.byId.get(id);
  }

  /**
   * The prefix of `id`: its old one, else the first free /64 of the range, persisted before
   * this resolves (so a prefix that was ever sent is one a restarted server still knows).
   * Rejects when the range is exhausted or the file cannot be written.
   */
  async assign(id: string): Promise<Prefix> {
    const known = this.byId.get(id);
    if (known) return known;
    const prefix = this.range.firstFree((k) => this.keys.has(k));
    if (!prefix) throw new Error(`no free /64 left in ${this.range.prefix.text}`);
    // Reserve synchronously so concurrent handshakes never pick the same /64.
    this.byId.set(id, prefix);
    this.keys.add(prefix.key);
    this.foreign.delete(id);
    try {
      await this.save();
    } catch (e) {
      this.byId.delete(id);
      this.keys.delete(prefix.key);
      throw new Error(`cannot store the assignment in ${this.file}: ${(e as Error).message}`);
    }
    return prefix;
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
    const out: Record<string, string> = Object.fromEntries(this.foreign);
    for (const [id, prefix] of this.byId) out[id] = prefix.text;
    return `${JSON.stringify(out, null, 1)}\n`;
  }
}
