/** Where a torrent's files live on disk, with a last check that nothing escapes the download folder. */
import { resolve, sep } from 'node:path';
import type { TorrentFile } from '../metainfo/types.js';

/** Absolute path of a torrent file under `root`. Metainfo parsing already rejected unsafe paths; this refuses again. */
export function filePath(root: string, file: TorrentFile): string {
  const base = resolve(root);
  // One joined argument, not a spread: a path's components are as many as the torrent says.
  const full = resolve(base, file.path.join(sep));
  if (!full.startsWith(base + sep)) throw new Error(`refusing a path outside the download folder: ${file.path.join('/')}`);
  return full;
}
