/**
 * Where a session may put torrents' data: its default download folder and the folders the user
 * allowed besides (`--allow-dir`). A folder someone asks for (a remote's `download-dir`, a
 * `free-space` query) is used only when it lies inside one of them, both as written (after
 * `..` is resolved) and as the file system has it (after the symlinks of the part that exists
 * are resolved), so neither `../../etc` nor a link planted inside leads out.
 */
import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { hasControl, printable } from '../util/sanitize.js';
import { InputError } from '../util/errors.js';

/** Longer paths are no download folder anyone means (PATH_MAX is 4096). */
const MAX_PATH = 4096;

/** Whether `p` is `root` or inside it (both absolute and normalised). */
function inside(root: string, p: string): boolean {
  const r = relative(root, p);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/** The real path of `p`'s longest existing ancestor (itself, if it exists), with the rest appended. */
async function realOfExisting(p: string): Promise<string> {
  const tail: string[] = [];
  for (let at = p; ; ) {
    try {
      return join(await realpath(at), ...tail);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
      const up = dirname(at);
      if (up === at) return p;
      tail.unshift(basename(at));
      at = up;
    }
  }
}

export class DownloadFolders {
  /** Where torrents go when no folder is asked for. */
  defaultDir: string;
  /** Every allowed folder, the default first. */
  readonly roots: readonly string[];

  constructor(defaultDir: string, allowed: readonly string[] = []) {
    this.defaultDir = resolve(defaultDir);
    this.roots = [...new Set([this.defaultDir, ...allowed.map((d) => resolve(d))])];
  }

  /**
   * The folder `requested` names, if it may be used (the default one when nothing is asked for);
   * an InputError saying which folders are allowed otherwise.
   */
  async check(requested: string | undefined, what = 'download-dir'): Promise<string> {
    if (requested === undefined || requested === '') return this.defaultDir;
    if (requested.length > MAX_PATH || hasControl(requested)) throw new InputError(`${what} is not a usable path`);
    if (!isAbsolute(requested)) throw new InputError(`${what} "${printable(requested, 200)}" is not an absolute path; ${this.allowedText()}`);
    const wanted = resolve(requested);
    const root = this.roots.find((r) => inside(r, wanted));
    if (!root) throw new InputError(`${what} "${printable(requested, 200)}" is outside the folders this daemon may write; ${this.allowedText()}`);
    const [real, realRoot] = await Promise.all([realOfExisting(wanted), realOfExisting(root)]);
    if (!inside(realRoot, real)) throw new InputError(`${what} "${printable(requested, 200)}" leads outside ${root} through a symlink; ${this.allowedText()}`);
    return wanted;
  }

  /** Make `dir` (checked like any request) the default folder from now on. */
  async setDefault(dir: string): Promise<void> {
    this.defaultDir = await this.check(dir);
  }

  private allowedText(): string {
    return `allowed: ${this.roots.join(', ')} (and folders inside them; the daemon's --allow-dir adds more)`;
  }
}
