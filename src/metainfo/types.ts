/** The shapes the engine, storage and trackers code against: a parsed torrent and a parsed magnet link. */

export interface TorrentFile {
  /** Path components relative to the download folder; multi-file torrents start with the torrent's name. */
  path: string[];
  length: number;
  /** Byte offset of this file in the torrent's concatenated data. */
  offset: number;
  /** BEP 47 padding file (attr contains 'p'): never written to disk, reads as zeros. */
  pad: boolean;
}

export interface Metainfo {
  infoHash: Buffer; // 20-byte SHA-1 of the raw bencoded info dict bytes as they appear in the file
  infoHashHex: string;
  name: string;
  pieceLength: number;
  pieceHashes: Buffer; // 20 * pieceCount bytes
  pieceCount: number;
  totalLength: number;
  files: TorrentFile[]; // single-file torrent: one file with path [name]
  multiFile: boolean;
  private: boolean;
  announce: string[][]; // tiers (announce-list if present and valid, else [[announce]]); de-duplicated
  /** BEP 19 web seeds (`url-list`): http(s) URLs of the data's files or folder. */
  urlList: string[];
  /** BEP 17 HTTP seeds (`httpseeds`): http(s) URLs of scripts that serve pieces. */
  httpSeeds: string[];
  infoBuffer: Buffer; // raw info dict bytes (used later for ut_metadata)
  comment?: string;
  createdBy?: string;
  creationDate?: number;
}

export interface MagnetLink {
  infoHash: Buffer;
  infoHashHex: string;
  name?: string;
  trackers: string[]; // tr= values, in order, de-duplicated
  peers: { host: string; port: number; family?: 4 | 6 }[]; // x.pe= values (use parseHostPort)
  webSeeds?: string[]; // ws= values: BEP 19 web seeds (http and https only), de-duplicated
}
