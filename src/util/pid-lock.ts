/**
 * A lock file that names the process holding it (pid, when it started, its command line, and
 * whatever else the holder wants others to read), for "one process at a time" rules: a torrent
 * in a folder, a session folder. A holder that is gone (its pid dead, or reused by another
 * process since) leaves a stale lock, which the next taker takes over.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rmdir, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';

export interface LockHolder {
  pid: number;
  /** ISO time the holder started. */
  started: string;
  command: string;
  /** The holder's start time in clock ticks since boot (/proc/PID/stat), to tell a reused pid apart. */
  bootTicks?: string;
  /** What the holder tells whoever finds the lock taken (a daemon: where its web page is). */
  note?: string;
}

/** Field 22 of /proc/PID/stat: when the process started, in ticks since boot (undefined off Linux). */
function bootTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(h: LockHolder): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  // The pid is taken: by the holder only if it started when the holder did.
  const now = bootTicks(h.pid);
  return h.bootTicks === undefined || now === undefined || now === h.bootTicks;
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const h = JSON.parse(await readFile(file, 'utf8')) as LockHolder;
    return Number.isInteger(h.pid) && h.pid > 0 ? h : undefined;
  } catch {
    return undefined;
  }
}

/** The living process that holds the lock `file`, if any. */
export async function lockHolder(file: string): Promise<LockHolder | undefined> {
  const h = await readHolder(file);
  return h && alive(h) ? h : undefined;
}

/** "2026-12-01 10:00:00 UTC" from an ISO time. */
export function startedText(h: LockHolder): string {
  return h.started.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export class PidLock {
  private released = false;

  private constructor(
    readonly file: string,
    private readonly me: LockHolder,
  ) {}

  /**
   * Take the lock `file` (its folder is made), or call `taken` with the living process that has
   * it, whose error is thrown.
   */
  static async acquire(file: string, command: string, taken: (holder: LockHolder) => Error, note?: string): Promise<PidLock> {
    await mkdir(dirname(file), { recursive: true });
    const me: LockHolder = { pid: process.pid, started: new Date().toISOString(), command, bootTicks: bootTicks(process.pid), ...(note ? { note } : {}) };
    const body = JSON.stringify(me);
    // Written whole beside it, then linked into place: nobody ever reads a half-written lock.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, body);
    try {
      await link(tmp, file);
      return new PidLock(file, me);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await unlink(tmp).catch(() => {});
    }
    const holder = await readHolder(file);
    if (holder && alive(holder)) throw taken(holder);
    // Stale (or unreadable): take it over. Two takers doing this at once both write; the one whose
    // write came last holds it, and the other sees that when it reads back.
    await writeFileAtomic(file, body);
    const now = await readHolder(file);
    if (now && now.pid !== me.pid && alive(now)) throw taken(now);
    return new PidLock(file, me);
  }

  /** Tell whoever finds the lock taken `note` from now on (the lock is rewritten whole). */
  async setNote(note: string): Promise<void> {
    this.me.note = note;
    if (!this.released) await writeFileAtomic(this.file, JSON.stringify(this.me));
  }

  /** Remove the lock, if it is still ours; with `removeEmptyFolder`, its folder too when nothing else is in it. */
  async release(removeEmptyFolder = false): Promise<void> {
    if (this.released) return;
    this.released = true;
    const h = await readHolder(this.file);
    if (h?.pid !== this.me.pid || h.started !== this.me.started) return;
    await unlink(this.file).catch(() => {});
    if (removeEmptyFolder) await rmdir(dirname(this.file)).catch(() => {});
  }
}
