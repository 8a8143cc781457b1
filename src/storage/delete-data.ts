/**
 * Deleting a torrent's data: only the files the torrent names, and then only the folders it
 * made that are empty afterwards. Never a recursive delete: a file the user put beside the
 * torrent's files stays, and a symlink (planted or not) is neither followed nor removed.
 */
import { lstat, realpath, rmdir, unlink } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import type { Metainfo } from '../metainfo/types.js';
import { errorMessage } from '../util/errors.js';
import { filePath } from './paths.js';

export interface DeleteResult {
  deleted: number;
  /** Files of the torrent that were not there. */
  missing: number;
  /** What was left alone, and why. */
  kept: string[];
}

export async function deleteTorrentData(meta: Metainfo, root: string): Promise<DeleteResult> {
  const base = resolve(root);
  const realBase = await realpath(base).catch(() => undefined);
  const result: DeleteResult = { deleted: 0, missing: 0, kept: [] };
  if (!realBase) {
    result.missing = meta.files.filter((f) => !f.pad).length;
    return result;
  }
  const folders = new Set<string>();
  for (const f of meta.files) {
    if (f.pad) continue;
    const full = filePath(base, f);
    for (let d = dirname(full); d.startsWith(base + sep); d = dirname(d)) folders.add(d);
    const st = await lstat(full).catch(() => undefined);
    if (!st) {
      result.missing++;
      continue;
    }
    if (!st.isFile()) {
      result.kept.push(`${full}: not a regular file (${st.isSymbolicLink() ? 'a symlink' : 'a folder or device'})`);
      continue;
    }
    // A folder on the way that is a symlink would put this path outside the download folder.
    const realDir = await realpath(dirname(full)).catch(() => undefined);
    if (!realDir || (realDir !== realBase && !realDir.startsWith(realBase + sep))) {
      result.kept.push(`${full}: its folder leads outside ${base}`);
      continue;
    }
    try {
      await unlink(full);
      result.deleted++;
    } catch (e) {
      result.kept.push(`${full}: ${errorMessage(e)}`);
    }
  }
  // Deepest first; rmdir removes only empty folders, and refuses a symlink.
  for (const d of [...folders].sort((a, b) => b.length - a.length)) {
    const st = await lstat(d).catch(() => undefined);
    if (st?.isDirectory()) await rmdir(d).catch(() => {});
  }
  return result;
}
