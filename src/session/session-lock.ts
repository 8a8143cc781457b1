/**
 * One process per session folder: the `ui` and the `daemon` both run the torrents a session
 * lists, and two of them would fight over every torrent (and overwrite each other's list). The
 * lock file in the session folder names the holder, and a daemon adds where it can be reached.
 */
import { join } from 'node:path';
import { PidLock, startedText, type LockHolder } from '../util/pid-lock.js';

/** Another process runs this session: the message names it, and says how to reach a daemon. */
export class SessionLockedError extends Error {
  constructor(
    readonly holder: LockHolder,
    dir: string,
  ) {
    const reach = holder.note ? ` It can be driven at ${holder.note}.` : '';
    super(
      `the session ${dir} is in use by another sixswarm: pid ${holder.pid}, started ${startedText(holder)} (${holder.command}).${reach} ` +
        `Stop it first (kill ${holder.pid}; for a service: systemctl stop sixswarm), or pick another session with --session DIR`,
    );
    this.name = 'SessionLockedError';
  }
}

export function sessionLockPath(sessionDir: string): string {
  return join(sessionDir, 'session.lock');
}

/** Take the session folder's lock, or throw SessionLockedError naming the holder. `note`: how others reach us. */
export function lockSession(sessionDir: string, command: string, note?: string): Promise<PidLock> {
  return PidLock.acquire(sessionLockPath(sessionDir), command, (holder) => new SessionLockedError(holder, sessionDir), note);
}
