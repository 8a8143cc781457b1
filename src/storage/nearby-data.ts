/**
 * Where a torrent's data may sit when the folder given to `seed` has none of it: the common
 * mistake is to give the torrent's own folder (`seed x.torrent data/x`, where data/x/x is looked
 * for) or a folder above the one that holds it. One folder up and each folder one level down are
 * tried; a candidate counts when files of the torrent are there at their full size.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Metainfo } from '../metainfo/types.js';
import { filePath } from './paths.js';

/** Files looked at per candidate: enough to tell, bounded for torrents of many files. */
const SAMPLE = 16;
/** Subfolders looked into, at most. */
const MAX_SUBFOLDERS = 256;

async function score(meta: Metainfo, root: string): Promise<number> {
  const sample = meta.files.filter((f) => !f.pad && f.length > 0).slice(0, SAMPLE);
  const found = await Promise.all(sample.map((f) => stat(filePath(root, f)).then((s) => s.isFile() && s.size === f.length, () => false)));
  return found.filter(Boolean).length;
}

/** The folder near `dir` that holds the most of the torrent's files, if any does. */
export async function findDataNearby(meta: Metainfo, dir: string): Promise<string | undefined> {
  const below = await readdir(dir, { withFileTypes: true }).then(
    (entries) => entries.filter((e) => e.isDirectory()).slice(0, MAX_SUBFOLDERS).map((e) => join(dir, e.name)),
    () => [],
  );
  const candidates = [dirname(dir), ...below].filter((c) => c !== dir);
  let best: string | undefined;
  let bestScore = 0;
  for (const c of candidates) {
    const s = await score(meta, c);
    if (s > bestScore) [best, bestScore] = [c, s];
  }
  return best;
}
