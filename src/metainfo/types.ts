/** The shapes the engine, storage and trackers code against: a parsed torrent and a parsed magnet link. */

export interface TorrentFile {
  /** Path components relative to the download folder; multi-file torrents start with the torrent's name. */
  path: string[];
  length: number;
  /** Byte offset of this file in the torrent's concatenated data. */
  offset: number;
  /** BEP 47 padding file (attr contains 'p'): never written to disk, reads as zeros. */
  pad: boolean;
  /** BEP 52: the root of the file's merkle tree (a v2 or hybrid torrent's files with data). */
  piecesRoot?: Buffer;
}

export interface Metainfo {
  /**
   * 20 bytes: the SHA-1 of the raw bencoded info dict bytes as they appear in the file, or for a
   * v2-only torrent their SHA-256 cut to 20 bytes: what the torrent is known by (handshakes,
   * trackers, the DHT, state files).
   */
  infoHash: Buffer;
  infoHashHex: string;
  /** BEP 52: the whole SHA-256 of the info dict bytes (v2 and hybrid torrents). */
  infoHashV2?: Buffer;
  /** Its pieces have v1 SHA-1 hashes ("pieces"). */
  v1: boolean;
  /** BEP 52: its files have merkle roots ("file tree", meta version 2); with v1 too, a hybrid. */
  v2: boolean;
  name: string;
  pieceLength: number;
  pieceHashes: Buffer; // 20 * pieceCount bytes; empty for a v2-only torrent
  /** BEP 52 piece layers the torrent file carried, by file index (files of more than one piece; others come from peers). */
  pieceLayers: Map<number, Buffer>;
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
  /** As Metainfo.infoHash: the btih hash, else the btmh one cut to 20 bytes. */
  infoHash: Buffer;
  infoHashHex: string;
  /** BEP 52 (`xt=urn:btmh:1220...`): the whole SHA-256 info hash. */
  infoHashV2?: Buffer;
  name?: string;
  trackers: string[]; // tr= values, in order, de-duplicated
  peers: { host: string; port: number; family?: 4 | 6 }[]; // x.pe= values (use parseHostPort)
  webSeeds?: string[]; // ws= values: BEP 19 web seeds (http and https only), de-duplicated
}
