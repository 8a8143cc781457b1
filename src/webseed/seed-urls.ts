/**
 * Where a web seed keeps a torrent's bytes. BEP 19 (`url-list`): the URL names the file of a
 * single-file torrent (or, ending in "/", the folder that holds it under the torrent's name), and
 * the folder of a multi-file torrent, under which each file lies at its path, starting with the
 * torrent's name. BEP 17 (`httpseeds`): a script asked for a piece, or byte ranges of it, by
 * query string.
 */
import type { Metainfo } from '../metainfo/types.js';

export type SeedProtocol = 'bep19' | 'bep17';

/** What the URLs need of the torrent. */
export type SeedTorrent = Pick<Metainfo, 'infoHash' | 'name' | 'multiFile' | 'files' | 'pieceLength' | 'totalLength'>;

/** Every path component percent-encoded, "/" between them. */
function encodePath(components: readonly string[]): string {
  return components.map((c) => encodeURIComponent(c)).join('/');
}

/** BEP 19: the URL of file `index` on the web seed at `base`. */
export function fileUrl(base: string, torrent: SeedTorrent, index: number): URL {
  const file = torrent.files[index]!;
  if (!torrent.multiFile) return new URL(base.endsWith('/') ? base + encodePath(file.path) : base);
  // A multi-file seed's URL is a folder, whether or not the torrent's author ended it with "/".
  return new URL((base.endsWith('/') ? base : `${base}/`) + encodePath(file.path));
}

/** BEP 17: the URL asking the script at `base` for bytes [begin, begin + length) of piece `piece`. */
export function pieceUrl(base: string, torrent: SeedTorrent, piece: number, begin: number, length: number): URL {
  const hash = [...torrent.infoHash].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
  const whole = begin === 0 && length === Math.min(torrent.pieceLength, torrent.totalLength - piece * torrent.pieceLength);
  // The ranges' ends are inclusive (BEP 17's own example asks for 49152-131071: five blocks).
  const ranges = whole ? '' : `&ranges=${begin}-${begin + length - 1}`;
  return new URL(`${base}${base.includes('?') ? '&' : '?'}info_hash=${hash}&piece=${piece}${ranges}`);
}
