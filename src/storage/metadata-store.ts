/**
 * Metadata fetched for a magnet link, kept beside the resume state as a .torrent file (the info
 * dictionary exactly as fetched, plus the magnet's trackers and web seeds, and for a v2 torrent
 * the piece layers learned so far), so a restart never fetches it again. It is kept under the
 * hash the magnet names (a v2 hash cut to 20 bytes, for a `urn:btmh:` magnet of a hybrid).
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

/** The saved torrent for this info hash (v1, or v2 cut to 20 bytes), if there is one and it is what it claims to be. */
export async function loadMetadata(stateDir: string, infoHashHex: string): Promise<Metainfo | undefined> {
  const buf = await readFile(metadataPath(stateDir, infoHashHex)).catch(() => undefined);
  if (!buf) return undefined;
  try {
    const meta = parseTorrent(buf);
    return meta.infoHashHex === infoHashHex || meta.infoHashV2?.subarray(0, 20).toString('hex') === infoHashHex ? meta : undefined;
  } catch {
    return undefined; // damaged: it is fetched again
  }
}

/** `as`: the hash (hex) to keep it under (default its own); `layers`: piece layers by root (latin1), as PieceHashes.knownLayers gives them. */
export async function saveMetadata(stateDir: string, meta: Metainfo, opts: { as?: string; layers?: Map<string, Buffer> } = {}): Promise<void> {
  const file = metadataPath(stateDir, opts.as ?? meta.infoHashHex);
  await mkdir(join(stateDir, 'metadata'), { recursive: true });
  // The info dictionary goes in as raw bytes: re-encoding it could change its hash.
  const head = encode({
    ...(meta.announce[0]?.[0] ? { announce: meta.announce[0][0] } : {}),
    ...(meta.announce.length > 0 ? { 'announce-list': meta.announce } : {}),
    'created by': meta.createdBy,
  });
  // Keys in order: d<announce...>4:info<raw>[12:piece layers<dict>][8:url-list<list>]e; the
  // head's closing 'e' is replaced by the info entry, the piece layers and the web seeds (ws=).
  const layers = opts.layers && opts.layers.size > 0 ? [Buffer.from('12:piece layers'), encode(opts.layers)] : [];
  const tail = meta.urlList.length > 0 ? encode({ 'url-list': meta.urlList }).subarray(1) : Buffer.from('e');
  const torrent = Buffer.concat([head.subarray(0, head.length - 1), Buffer.from('4:info'), meta.infoBuffer, ...layers, tail]);
  await writeFileAtomic(file, torrent);
}
