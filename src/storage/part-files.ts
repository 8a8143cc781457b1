/**
 * Part files: the bytes of skipped files that share a wanted piece with a selected file (see
 * selection.ts). Each such piece keeps them in a file of its own, named by the piece's index,
 * at their offset inside the piece (so a part file is at most one piece long, holes aside), in
 * a hidden folder beside the torrent's data: `<dir>/.sixswarm-<infohash>.parts/<piece>`.
 * Nothing outside the selection ever appears as a file of the torrent.
 */
import { join } from 'node:path';

export function partsFolder(root: string, infoHashHex: string): string {
  return join(root, `.sixswarm-${infoHashHex}.parts`);
}

export function partFile(folder: string, piece: number): string {
  return join(folder, String(piece));
}
