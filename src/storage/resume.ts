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

/** What a resume file gave: its state, or why it was not usable (a warning naming the file; none when there is no file). */
export interface ResumeLoad {
  state?: ResumeState;
  problem?: string;
}

/** The largest resume file we read: a bitfield of a million pieces and a thousand files fit in a fraction of it. */
const MAX_RESUME_BYTES = 64 * 1024 * 1024;

const isStat = (v: unknown): v is FileStat =>
  typeof v === 'object' && v !== null && Number.isSafeInteger((v as FileStat).size) && (v as FileStat).size >= 0 && typeof (v as FileStat).mtimeNs === 'string';

/** Why parsed JSON is not resume state for this torrent, or undefined when it is. */
function invalid(s: unknown, infoHashHex: string, pieceCount: number): string | undefined {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return 'not an object';
  const r = s as Record<string, unknown>;
  if (r.version !== 1) return `version ${JSON.stringify(r.version)?.slice(0, 20)} is not 1`;
  if (r.infoHash !== infoHashHex) return 'it names another torrent';
  if (r.pieceCount !== pieceCount) return `it counts ${String(r.pieceCount).slice(0, 20)} pieces, the torrent ${pieceCount}`;
  if (typeof r.have !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(r.have)) return '"have" is not a base64 bitfield';
  if (Buffer.byteLength(r.have, 'base64') !== Math.ceil(pieceCount / 8)) return `"have" is not ${Math.ceil(pieceCount / 8)} bytes`;
  if (!Array.isArray(r.files) || !r.files.every((f) => f === null || isStat(f))) return '"files" is not a list of sizes and times';
  if (r.parts !== undefined && (typeof r.parts !== 'object' || r.parts === null || !Object.values(r.parts).every(isStat))) return '"parts" is not a table of sizes and times';
  return undefined;
}

/** The resume state for this torrent. A damaged file costs a full check, and says so. */
export async function loadResume(file: string, infoHashHex: string, pieceCount: number): Promise<ResumeLoad> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { problem: `cannot read the resume file ${file} (${(e as Error).message}); checking every piece instead` };
  }
  const damaged = (why: string) => ({ problem: `the resume file ${file} is damaged (${why}); checking every piece instead` });
  if (raw.length > MAX_RESUME_BYTES) return damaged(`${raw.length} bytes, more than resume state takes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    return damaged((e as Error).message.slice(0, 200));
  }
  const why = invalid(parsed, infoHashHex, pieceCount);
  return why ? damaged(why) : { state: parsed as ResumeState };
}

export async function saveResume(file: string, state: ResumeState): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(state));
}
