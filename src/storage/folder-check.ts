/**
 * What already lies in the download folder where a torrent's files go, checked before anything is
 * created or written: each folder on the way must be a real folder (not a symlink, not a file),
 * each file a regular file, and when downloading, one with no other name (a hard link to a file
 * elsewhere would be written through). Anything else stops the torrent with a message that says
 * what was found at which path and what to do.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TorrentFile } from '../metainfo/types.js';
import { InputError } from '../util/errors.js';
import { quote } from '../metainfo/paths.js';

/** What the torrent needs at a path: a folder, or one of its files. */
export type Needed = 'folder' | 'file';

/** The advice that ends every message: what the user can do instead. */
function advice(writable: boolean): string {
  return writable ? 'remove or rename it, or download into another folder (-o DIR)' : 'give seed the folder that really holds the files';
}

/** A symlink (to where it points, when readable) where the torrent needs a folder or a file. */
export async function symlinkFound(path: string, needed: Needed, writable: boolean): Promise<InputError> {
  const target = await readlink(path).catch(() => undefined);
  return new InputError(
    `${quote(path)} is a symlink${target === undefined ? '' : ` to ${quote(target)}`}, where the torrent needs a ${needed}: sixswarm never follows links in the download folder; ${advice(writable)}`,
  );
}

/** Something other than what the torrent needs: `found` names it ("a file", "a folder", "a FIFO"). */
export function wrongKind(path: string, found: string, needed: Needed, writable: boolean): InputError {
  return new InputError(`${quote(path)} is ${found}, where the torrent needs a ${needed}: ${advice(writable)}`);
}

/** A file with other names: writing it would change them too, wherever they are. */
export function hardLinked(path: string, links: number): InputError {
  return new InputError(
    `${quote(path)} has ${links} hard links: writing it would change the same data under its other names, which may lie outside the download folder. ` +
      'Give it a copy of its own (cp FILE FILE.new && mv FILE.new FILE), remove it, or download into another folder (-o DIR); ' +
      'to share a finished download that has other names, use `sixswarm seed`, which only reads',
  );
}

/** What a directory entry or stat result is, in words, when it is not a regular file or folder. */
export function kindOf(e: Pick<Dirent, 'isDirectory' | 'isFile' | 'isFIFO' | 'isSocket' | 'isBlockDevice' | 'isCharacterDevice'>): string {
  if (e.isDirectory()) return 'a folder';
  if (e.isFile()) return 'a file';
  if (e.isFIFO()) return 'a FIFO (named pipe)';
  if (e.isSocket()) return 'a socket';
  if (e.isBlockDevice() || e.isCharacterDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * Check what exists under `root` for the torrent's `files` (pad files are never on disk). Walks
 * down only through folders that exist, one readdir each, so a fresh download costs one call and
 * no path is built for anything that is not there. Throws the first problem as an InputError.
 */
export async function checkFolder(root: string, files: readonly TorrentFile[], writable: boolean): Promise<void> {
  const real = files.filter((f) => !f.pad);
  await checkLevel(root, real, 0, writable);
}

async function checkLevel(dir: string, files: readonly TorrentFile[], depth: number, writable: boolean): Promise<void> {
  const listing = await readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined; // nothing below exists yet
    throw new InputError(`cannot read ${quote(dir)}: ${e.message}`);
  });
  if (!listing) return;
  const byName = new Map<string, TorrentFile[]>();
  for (const f of files) {
    const name = f.path[depth]!;
    const group = byName.get(name);
    if (group) group.push(f);
    else byName.set(name, [f]);
  }
  for (const entry of listing) {
    const group = byName.get(entry.name);
    if (!group) continue;
    const path = join(dir, entry.name);
    // Parsing refused a path that is both a file and a folder, so a group is one file or one folder.
    const needed: Needed = group[0]!.path.length === depth + 1 ? 'file' : 'folder';
    if (entry.isSymbolicLink()) throw await symlinkFound(path, needed, writable);
    if (needed === 'folder') {
      if (!entry.isDirectory()) throw wrongKind(path, kindOf(entry), 'folder', writable);
      await checkLevel(path, group, depth + 1, writable);
      continue;
    }
    if (!entry.isFile()) throw wrongKind(path, kindOf(entry), 'file', writable);
    if (writable) {
      const links = (await lstat(path)).nlink;
      if (links > 1) throw hardLinked(path, links);
    }
  }
}
