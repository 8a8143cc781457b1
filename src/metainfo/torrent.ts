/**
 * .torrent parsing (BEP 3, with BEP 12 tiers, BEP 17 and BEP 19 web seeds, BEP 27 private, BEP 47
 * pad files, BEP 52 v2 and hybrid torrents: file trees in file-tree.ts).
 * Everything a hostile file could get wrong becomes an InputError naming the problem; nothing
 * past this module sees an unchecked length, count or path.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { BDict, BencodeError, FieldError, asBytes, asDict, asInt, asList, decode, type BValue, type DecodeLimits } from '../bencode/index.js';
import { InputError, errorMessage } from '../util/errors.js';
import { isPow2, LEAF_BYTES, sha256 } from '../merkle/merkle.js';
import { alignedFiles, mergeHybrid, pieceLayers, treeFiles } from './file-tree.js';
import { componentProblem, pathConflict, pathProblem, quote, showPath } from './paths.js';
import type { Metainfo, TorrentFile } from './types.js';
import { isTrackerUrl, isWebSeedUrl } from './urls.js';

/**
 * Bounds for decoding a torrent file or an info dictionary. Parsing costs about half a
 * microsecond per value (a file is 4 values, 11 as libtorrent writes it with its pad file, 15 in
 * a hybrid torrent), so the value count is what bounds the time: 2 million values are more than
 * libtorrent accepts by default (3 million tokens, about 1.5 million values), i.e. a v1 torrent of
 * some 180,000 files from qBittorrent or 500,000 from mktorrent.
 */
export const TORRENT_LIMITS: Required<Omit<DecodeLimits, 'allowTrailing'>> = {
  maxDepth: 64,
  maxItems: 2_000_000,
  maxBytes: 64 * 1024 * 1024,
};
export const MAX_PIECE_LENGTH = 256 * 1024 * 1024;
export const MAX_TOTAL_LENGTH = 2 ** 50;
/**
 * Most pieces in one torrent: a v1 torrent's "pieces" is bounded by the file size (some 3.3
 * million), a v2 torrent's count only by its sizes. 4 Mi pieces keep bitfields at 512 KiB and a
 * piece layer at 128 MiB; libtorrent accepts half as many by default.
 */
export const MAX_PIECES = 4 * 1024 * 1024;

/** What a torrent file carries outside its info dictionary (a magnet link supplies these for fetched metadata). */
export type MetainfoExtras = Partial<Pick<Metainfo, 'announce' | 'urlList' | 'httpSeeds' | 'comment' | 'createdBy' | 'creationDate'>>;

export function parseTorrent(buf: Buffer): Metainfo {
  const root = decodeChecked(buf, 'not a valid torrent file');
  if (!(root instanceof BDict)) throw new InputError('not a valid torrent file: the top level is not a dictionary');
  const info = root.get('info');
  if (info === undefined) throw new InputError('not a valid torrent file: it has no "info" dictionary');
  if (!(info instanceof BDict)) throw new InputError('not a valid torrent file: "info" is not a dictionary');
  return buildMetainfo(info, buf.subarray(info.span[0], info.span[1]), rootExtras(root), root.get('piece layers'));
}

/** A Metainfo from raw info dictionary bytes (as fetched with ut_metadata); the infohash is their SHA-1. */
export function parseInfoDict(info: Buffer, extras: MetainfoExtras = {}): Metainfo {
  const dict = decodeChecked(info, 'not a valid info dictionary');
  if (!(dict instanceof BDict)) throw new InputError('not a valid info dictionary: it is not a dictionary');
  return buildMetainfo(dict, info, extras);
}

/** Read and parse a .torrent file, refusing anything larger than the decoder would accept before reading it. */
export async function readTorrentFile(file: string): Promise<Metainfo> {
  let buf: Buffer;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new InputError(`"${file}" is not a file`);
    if (st.size > TORRENT_LIMITS.maxBytes) {
      throw new InputError(`"${file}" is ${st.size} bytes, larger than any torrent file sixswarm accepts (${TORRENT_LIMITS.maxBytes})`);
    }
    buf = await readFile(file);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`no such torrent file: "${file}"`);
    throw new InputError(`cannot read torrent file "${file}": ${errorMessage(e)}`);
  }
  try {
    return parseTorrent(buf);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
}

function decodeChecked(buf: Buffer, what: string): BValue {
  try {
    return decode(buf, TORRENT_LIMITS);
  } catch (e) {
    if (e instanceof BencodeError) throw new InputError(`${what}: ${e.message}`);
    throw e;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function validUtf8(b: Buffer): string | undefined {
  try {
    return strictUtf8.decode(b);
  } catch {
    return undefined;
  }
}

/** `key.utf-8` when present and valid UTF-8 (old clients put the real name there), else `key`. */
function preferUtf8(dict: BDict, key: string): BValue | undefined {
  const alt = dict.get(`${key}.utf-8`);
  if (Buffer.isBuffer(alt) && validUtf8(alt) !== undefined) return alt;
  if (Array.isArray(alt) && alt.length > 0 && alt.every((c) => Buffer.isBuffer(c) && validUtf8(c) !== undefined)) return alt;
  return dict.get(key);
}

/** Optional text fields (comment, created by) are advisory: a wrong type drops them instead of failing. */
function optionalText(dict: BDict, key: string): string | undefined {
  const v = preferUtf8(dict, key);
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

function rootExtras(root: BDict): MetainfoExtras {
  const extras: MetainfoExtras = { announce: trackerTiers(root), urlList: webSeeds(root.get('url-list')), httpSeeds: webSeeds(root.get('httpseeds')) };
  const comment = optionalText(root, 'comment');
  if (comment !== undefined) extras.comment = comment;
  const createdBy = optionalText(root, 'created by');
  if (createdBy !== undefined) extras.createdBy = createdBy;
  const date = root.get('creation date');
  if (typeof date === 'number' && date >= 0) extras.creationDate = date;
  return extras;
}

/** BEP 12: announce-list tiers when it yields any usable tracker, else the single announce URL. */
function trackerTiers(root: BDict): string[][] {
  const seen = new Set<string>();
  const take = (v: BValue | undefined): string | undefined => {
    if (!Buffer.isBuffer(v)) return undefined;
    const url = v.toString('utf8').trim();
    if (!isTrackerUrl(url) || seen.has(url)) return undefined;
    seen.add(url);
    return url;
  };
  const tiers: string[][] = [];
  const list = root.get('announce-list');
  if (Array.isArray(list)) {
    for (const tier of list) {
      if (!Array.isArray(tier)) continue;
      const urls = tier.map(take).filter((u): u is string => u !== undefined);
      if (urls.length > 0) tiers.push(urls);
    }
  }
  if (tiers.length === 0) {
    const single = take(root.get('announce'));
    if (single) tiers.push([single]);
  }
  return tiers;
}

function webSeeds(v: BValue | undefined): string[] {
  const items = Array.isArray(v) ? v : v === undefined ? [] : [v];
  const urls = items.filter(Buffer.isBuffer).map((b) => b.toString('utf8').trim()).filter(isWebSeedUrl);
  return [...new Set(urls)];
}

/**
 * The info dictionary's bytes are hashed as they are, so a non-canonical encoding (unsorted keys)
 * would make peers that re-encode it disagree on the infohash: such torrents are refused.
 */
function checkSortedKeys(info: BDict): void {
  const bad = unsortedKeys(info);
  if (bad) {
    throw new InputError(
      `not a valid torrent file: keys of ${quote(`info${bad.where}`)} are not sorted (${quote(bad.key)} comes after ${quote(bad.prev)})`,
    );
  }
}

/**
 * The first dictionary in `v` whose keys are out of order, its place (".files[3]") named only on
 * the way back: nothing is built for the millions of values a big torrent holds. Keys are latin1
 * strings of the raw bytes, so comparing them as strings compares the bytes.
 */
function unsortedKeys(v: BValue): { where: string; key: string; prev: string } | undefined {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const item = v[i]!;
      if (!Array.isArray(item) && !(item instanceof BDict)) continue;
      const bad = unsortedKeys(item);
      if (bad) return { ...bad, where: `[${i}]${bad.where}` };
    }
  } else if (v instanceof BDict) {
    let prev: string | undefined;
    for (const [key, value] of v) {
      if (prev !== undefined && prev >= key) return { where: '', key, prev };
      prev = key;
      const bad = unsortedKeys(value);
      if (bad) return { ...bad, where: `.${key}${bad.where}` };
    }
  }
  return undefined;
}

function nonNegativeLength(v: BValue | undefined, field: string): number {
  const n = asInt(v, field);
  if (n < 0) throw new InputError(`bad torrent: "${field}" is negative (${n})`);
  return n;
}

/** The path of one entry of info.files, name first. Field names for messages are built only when something is wrong. */
function entryPath(file: BDict, i: number, name: string): string[] {
  const list = preferUtf8(file, 'path');
  const components = Array.isArray(list) ? list : asList(list, `info.files[${i}].path`);
  if (components.length === 0) throw new InputError(`bad torrent: "info.files[${i}].path" is an empty list`);
  const path = new Array<string>(components.length + 1);
  path[0] = name;
  for (let k = 0; k < components.length; k++) {
    const c = components[k]!;
    // toString() without arguments is Node's fast path to UTF-8 (an encoding argument is looked up each call).
    path[k + 1] = Buffer.isBuffer(c) ? c.toString() : asBytes(c, `info.files[${i}].path[${k}]`).toString();
  }
  return path;
}

/** The files of a v1 info dictionary ("length" or "files"), in order, with their offsets. */
function v1Files(info: BDict, name: string, single: boolean): { files: TorrentFile[]; total: number } {
  const files: TorrentFile[] = [];
  let total = 0;
  const addFile = (path: string[], length: number, pad: boolean): void => {
    const problem = pathProblem(path);
    if (problem) throw new InputError(`unsafe path in torrent: ${showPath(path)} (${problem})`);
    files.push({ path, length, offset: total, pad });
    total += length;
    if (total > MAX_TOTAL_LENGTH) throw new InputError(`bad torrent: total size is huge (over ${MAX_TOTAL_LENGTH} bytes)`);
  };
  if (single) {
    addFile([name], nonNegativeLength(info.get('length'), 'info.length'), false);
    return { files, total };
  }
  const list = asList(info.get('files'), 'info.files');
  for (let i = 0; i < list.length; i++) {
    const entry = list[i]!;
    const file = entry instanceof BDict ? entry : asDict(entry, `info.files[${i}]`);
    const length = file.get('length');
    const attr = file.get('attr');
    addFile(
      entryPath(file, i, name),
      typeof length === 'number' && length >= 0 ? length : nonNegativeLength(length, `info.files[${i}].length`),
      Buffer.isBuffer(attr) && attr.includes('p'),
    );
  }
  return { files, total };
}

function buildMetainfo(info: BDict, infoBytes: Buffer, extras: MetainfoExtras, layers?: BValue): Metainfo {
  try {
    return buildChecked(info, infoBytes, extras, layers);
  } catch (e) {
    if (e instanceof FieldError) throw new InputError(`bad torrent: ${e.message}`);
    throw e;
  }
}

function buildChecked(info: BDict, infoBytes: Buffer, extras: MetainfoExtras, layers: BValue | undefined): Metainfo {
  // BEP 52: the version is checked first, so a newer torrent is named as such rather than as broken.
  const version = info.get('meta version');
  if (version !== undefined && version !== 1 && version !== 2) {
    throw new InputError(`this torrent is of meta version ${typeof version === 'number' || typeof version === 'bigint' ? version : '?'}, newer than sixswarm understands (1 and 2)`);
  }
  const v2 = version === 2;
  if (v2 && !info.has('file tree')) throw new InputError('bad torrent: it is of meta version 2 but has no "file tree"');
  if (!v2 && info.has('file tree')) throw new InputError('bad torrent: it has a "file tree" but no "meta version" 2');
  const pieces = info.get('pieces');
  const v1 = pieces !== undefined;
  if (!v1 && !v2) throw new InputError('bad torrent: the info dictionary has no "pieces"');
  checkSortedKeys(info);

  const nameValue = preferUtf8(info, 'name');
  if (nameValue === undefined) throw new InputError('bad torrent: the info dictionary has no "name"');
  const name = asBytes(nameValue, 'info.name').toString('utf8');
  const nameProblem = componentProblem(name);
  if (nameProblem) throw new InputError(`unsafe name in torrent: ${showPath([name])} (${nameProblem})`);

  const pieceLength = asInt(info.get('piece length'), 'info.piece length');
  if (pieceLength <= 0 || pieceLength > MAX_PIECE_LENGTH) {
    throw new InputError(`bad torrent: piece length ${pieceLength} is not between 1 and ${MAX_PIECE_LENGTH}`);
  }
  if (v2 && (pieceLength < LEAF_BYTES || !isPow2(pieceLength))) {
    throw new InputError(`bad torrent: piece length ${pieceLength} of a v2 torrent is not a power of two of at least ${LEAF_BYTES}`);
  }

  const hasLength = info.has('length');
  const hasFiles = info.has('files');
  let files: TorrentFile[];
  let total: number;
  let multiFile: boolean;
  if (v1) {
    if (hasLength === hasFiles) {
      throw new InputError(`bad torrent: the info dictionary must have exactly one of "length" (single file) and "files" (multi-file), it has ${hasLength ? 'both' : 'neither'}`);
    }
    ({ files, total } = v1Files(info, name, hasLength));
    multiFile = hasFiles;
  } else {
    const tree = treeFiles(info.get('file tree'), name, false);
    ({ files, total } = alignedFiles(tree.files, name, pieceLength));
    multiFile = !tree.single;
  }
  if (total > MAX_TOTAL_LENGTH) throw new InputError(`bad torrent: total size is huge (over ${MAX_TOTAL_LENGTH} bytes)`);
  if (total === 0) throw new InputError('bad torrent: it describes no data (total size is 0)');
  if (v1 && v2) {
    const tree = treeFiles(info.get('file tree'), name, hasFiles);
    files = mergeHybrid(files, alignedFiles(tree.files, name, pieceLength).files);
  }

  // Pad files are never written, and libtorrent names them by size (".pad/16384"), so they may repeat.
  const conflict = pathConflict(files.filter((f) => !f.pad).map((f) => f.path), 1);
  if (conflict) throw new InputError(conflict);

  const pieceCount = Math.ceil(total / pieceLength);
  if (pieceCount > MAX_PIECES) throw new InputError(`bad torrent: ${pieceCount} pieces are more than sixswarm handles (${MAX_PIECES}); a larger piece length would do`);
  let hashes: Buffer = Buffer.alloc(0);
  if (v1) {
    hashes = asBytes(pieces, 'info.pieces');
    if (hashes.length % 20 !== 0) {
      throw new InputError(`bad torrent: "pieces" is ${hashes.length} bytes, not a multiple of 20`);
    }
    if (hashes.length !== pieceCount * 20) {
      throw new InputError(
        `bad torrent: "pieces" is ${hashes.length} bytes (${hashes.length / 20} hashes) but ${total} bytes in pieces of ${pieceLength} need ${pieceCount * 20} bytes (${pieceCount} hashes)`,
      );
    }
  }

  const infoBuffer = Buffer.from(infoBytes);
  const infoHashV2 = v2 ? sha256(infoBuffer) : undefined;
  // The wire, the trackers and the DHT know a v2-only torrent by its SHA-256 cut to 20 bytes.
  const infoHash = v1 ? createHash('sha1').update(infoBuffer).digest() : infoHashV2!.subarray(0, 20);
  const meta: Metainfo = {
    infoHash,
    infoHashHex: infoHash.toString('hex'),
    ...(infoHashV2 ? { infoHashV2 } : {}),
    v1,
    v2,
    name,
    pieceLength,
    pieceHashes: Buffer.from(hashes),
    pieceLayers: v2 ? pieceLayers(layers, files, pieceLength) : new Map(),
    pieceCount,
    totalLength: total,
    files,
    multiFile,
    private: info.get('private') === 1,
    announce: extras.announce ?? [],
    urlList: extras.urlList ?? [],
    httpSeeds: extras.httpSeeds ?? [],
    infoBuffer,
  };
  if (extras.comment !== undefined) meta.comment = extras.comment;
  if (extras.createdBy !== undefined) meta.createdBy = extras.createdBy;
  if (extras.creationDate !== undefined) meta.creationDate = extras.creationDate;
  return meta;
}
