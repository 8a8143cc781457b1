/**
 * One process per torrent and data folder: two processes writing the same files (and the same
 * resume state) would undo each other's work. A lock file in the state folder names the holder
 * (see PidLock); a holder that is gone leaves a stale lock, which the next start takes over.
 */
import { join } from 'node:path';
import { folderKey } from '../storage/resume.js';
import { PidLock, startedText, type LockHolder } from '../util/pid-lock.js';

/** A running process holds the lock: the message names it and says what to do. */
export class LockedError extends Error {
  constructor(
    readonly holder: LockHolder,
    dir: string,
  ) {
    super(
      `another sixswarm is already running this torrent in ${dir}: pid ${holder.pid}, started ${startedText(holder)} ` +
        `(${holder.command}). Stop it first (kill ${holder.pid}), or use another folder`,
    );
    this.name = 'LockedError';
  }
}

export function lockPath(stateDir: string, infoHashHex: string, dir: string): string {
  return join(stateDir, 'locks', `${infoHashHex}-${folderKey(dir)}.lock`);
}

export class TorrentLock {
  private constructor(private readonly lock: PidLock) {}

  /** Take the lock of this torrent in `dir`, or throw LockedError naming the process that has it. */
  static async acquire(stateDir: string, infoHashHex: string, dir: string, command: string): Promise<TorrentLock> {
    return new TorrentLock(await PidLock.acquire(lockPath(stateDir, infoHashHex, dir), command, (holder) => new LockedError(holder, dir)));
  }

  /** Remove the lock, if it is still ours (and the locks folder, once empty). */
  release(): Promise<void> {
    return this.lock.release(true);
  }
}
