/**
 * Resume state: which pieces were verified, and the size and mtime of every file at that moment.
 * A file whose size or mtime changed since (a crash after the last save, an edit by hand) is not
 * trusted: its pieces are hashed again on start.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { ENV, envValue, xdgDir } from '../util/environment.js';

export interface FileStat {
  size: number;
  mtimeNs: string;
}

export interface ResumeState {
  version: 1;
  infoHash: string;
  dir: string;
  pieceCount: number;
  /** Base64 bitfield of verified pieces. */
  have: string;
  files: (FileStat | null)[];
  /** Part files (selection.ts) by piece index, where there are any. */
  parts?: Record<string, FileStat>;
  savedAt: string;
}

/** $SIXSWARM_STATE_DIR, else $XDG_STATE_HOME/sixswarm, else ~/.local/state/sixswarm. */
export function defaultStateDir(): string {
  const explicit = envValue(ENV.stateDir);
  if (explicit) return explicit;
  const xdg = xdgDir('XDG_STATE_HOME', '.local', 'state');
  return join(xdg, 'sixswarm');
}

/** A short name for a download folder: state kept per torrent and folder is named `<infohash>-<this>`. */
export function folderKey(dir: string): string {
  return createHash('sha1').update(resolve(dir)).digest('hex').slice(0, 12);
}

/** One resume file per torrent and download folder: the same torrent may live in two places. */
export function resumePath(stateDir: string, infoHashHex: string, dir: string): string {
  return join(stateDir, 'resume', `${infoHashHex}-${folderKey(dir)}.json`);
}

export async function loadResume(file: string, infoHashHex: string, pieceCount: number): Promise<ResumeState | undefined> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(raw) as ResumeState;
    if (s.version !== 1 || s.infoHash !== infoHashHex || s.pieceCount !== pieceCount || !Array.isArray(s.files)) return undefined;
    return s;
  } catch {
    return undefined; // A damaged resume file only costs a full check.
  }
}

export async function saveResume(file: string, state: ResumeState): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(state));
}
