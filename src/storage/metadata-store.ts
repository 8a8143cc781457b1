/**
 * Metadata fetched for a magnet link, kept beside the resume state as a .torrent file (the info
 * dictionary exactly as fetched, plus the magnet's trackers and web seeds), so a restart never
 * fetches it again.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encode } from '../bencode/index.js';
import { parseTorrent } from '../metainfo/torrent.js';
import type { Metainfo } from '../metainfo/types.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export function metadataPath(stateDir: string, infoHashHex: string): string {
  return join(stateDir, 'metadata', `${infoHashHex}.torrent`);
}

/** The saved torrent for this info hash, if there is one and it is what it claims to be. */
export async function loadMetadata(stateDir: string, infoHashHex: string): Promise<Metainfo | undefined> {
  const buf = await readFile(metadataPath(stateDir, infoHashHex)).catch(() => undefined);
  if (!buf) return undefined;
  try {
    const meta = parseTorrent(buf);
    return meta.infoHashHex === infoHashHex ? meta : undefined;
  } catch {
    return undefined; // damaged: it is fetched again
  }
}

export async function saveMetadata(stateDir: string, meta: Metainfo): Promise<void> {
  const file = metadataPath(stateDir, meta.infoHashHex);
  await mkdir(join(stateDir, 'metadata'), { recursive: true });
  // The info dictionary goes in as raw bytes: re-encoding it could change its hash.
  const head = encode({
    ...(meta.announce[0]?.[0] ? { announce: meta.announce[0][0] } : {}),
    ...(meta.announce.length > 0 ? { 'announce-list': meta.announce } : {}),
    'created by': meta.createdBy,
  });
  // The magnet's web seeds (ws=) after it, keys in order: d<announce...>4:info<raw>8:url-list<...>e.
  const tail = meta.urlList.length > 0 ? encode({ 'url-list': meta.urlList }).subarray(1) : Buffer.from('e');
  // The head's closing 'e' is replaced by the info entry.
  const torrent = Buffer.concat([head.subarray(0, head.length - 1), Buffer.from('4:info'), meta.infoBuffer, tail]);
  await writeFileAtomic(file, torrent);
}
