/**
 * One process per torrent and data folder: two processes writing the same files (and the same
 * resume state) would undo each other's work. A lock file in the state folder names the holder
 * (pid, when it started, its command line); a holder that is gone (its pid dead, or reused by
 * another process since) leaves a stale lock, which the next start takes over.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rmdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { folderKey } from '../storage/resume.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export interface LockHolder {
  pid: number;
  /** ISO time the holder started. */
  started: string;
  command: string;
  /** The holder's start time in clock ticks since boot (/proc/PID/stat), to tell a reused pid apart. */
  bootTicks?: string;
}

/** A running process holds the lock: the message names it and says what to do. */
export class LockedError extends Error {
  constructor(
    readonly holder: LockHolder,
    dir: string,
  ) {
    super(
      `another sixswarm is already running this torrent in ${dir}: pid ${holder.pid}, started ${holder.started.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} ` +
        `(${holder.command}). Stop it first (kill ${holder.pid}), or use another folder`,
    );
    this.name = 'LockedError';
  }
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

export function lockPath(stateDir: string, infoHashHex: string, dir: string): string {
  return join(stateDir, 'locks', `${infoHashHex}-${folderKey(dir)}.lock`);
}

export class TorrentLock {
  private released = false;

  private constructor(
    readonly file: string,
    private readonly me: LockHolder,
  ) {}

  /** Take the lock of this torrent in `dir`, or throw LockedError naming the process that has it. */
  static async acquire(stateDir: string, infoHashHex: string, dir: string, command: string): Promise<TorrentLock> {
    const file = lockPath(stateDir, infoHashHex, dir);
    await mkdir(join(stateDir, 'locks'), { recursive: true });
    const me: LockHolder = { pid: process.pid, started: new Date().toISOString(), command, bootTicks: bootTicks(process.pid) };
    const body = JSON.stringify(me);
    // Written whole beside it, then linked into place: nobody ever reads a half-written lock.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, body);
    try {
      await link(tmp, file);
      return new TorrentLock(file, me);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await unlink(tmp).catch(() => {});
    }
    const holder = await readHolder(file);
    if (holder && alive(holder)) throw new LockedError(holder, dir);
    // Stale (or unreadable): take it over. Two starts doing this at once both write; the one whose
    // write came last holds it, and the other sees that when it reads back.
    await writeFileAtomic(file, body);
    const now = await readHolder(file);
    if (now && now.pid !== me.pid && alive(now)) throw new LockedError(now, dir);
    return new TorrentLock(file, me);
  }

  /** Remove the lock, if it is still ours. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const h = await readHolder(this.file);
    if (h?.pid !== this.me.pid || h.started !== this.me.started) return;
    await unlink(this.file).catch(() => {});
    // Leave no empty folder behind (it stays while another lock is in it).
    await rmdir(dirname(this.file)).catch(() => {});
  }
}
