/**
 * Web seeds, one layer at a time: where BEP 19 and BEP 17 put a torrent's bytes (URLs, encoded),
 * how a run of bytes is split into requests (pad files made locally, BEP 17 per piece), what a
 * response head means for the bytes asked for (nothing a server states is trusted beyond the
 * request), the waits a busy server may ask for, and the picker's runs for a web seed: pieces
 * peers are not fetching, whole, contiguous, and in endgame only blocks one other source has.
 */
import { describe, expect, it } from 'vitest';
import { parseHead } from '../../src/http-client/response-head.js';
import { parseMagnet, toMagnet } from '../../src/metainfo/magnet.js';
import type { Metainfo, TorrentFile } from '../../src/metainfo/types.js';
import { PiecePicker } from '../../src/swarm/piece-picker.js';
import { Bitfield } from '../../src/util/bitfield.js';
import { planParts } from '../../src/webseed/fetcher.js';
import { interpret, type Asked } from '../../src/webseed/responses.js';
import { MAX_RETRY_MS, parseBusyBody, parseRetryAfter } from '../../src/webseed/retry-after.js';
import { fileUrl, pieceUrl, type SeedTorrent } from '../../src/webseed/seed-urls.js';
import { BLOCK_SIZE, type BlockRef } from '../../src/wire/messages.js';

function torrent(files: { path: string[]; length: number; pad?: boolean }[], pieceLength: number, multiFile = files.length > 1): SeedTorrent {
  let offset = 0;
  const list: TorrentFile[] = files.map((f) => {
    const file = { path: f.path, length: f.length, offset, pad: !!f.pad };
    offset += f.length;
    return file;
  });
  return { infoHash: Buffer.from('00ff10203040506070809a0b0c0d0e0f7fe0aabb', 'hex'), name: files[0]!.path[0]!, multiFile, files: list, pieceLength, totalLength: offset } as Pick<Metainfo, keyof SeedTorrent>;
}

describe('BEP 19 and BEP 17 URLs', () => {
  const single = torrent([{ path: ['ubuntu 24.04.iso'], length: 100 }], 64, false);
  const multi = torrent([{ path: ['tree', 'a b.txt'], length: 10 }, { path: ['tree', 'sub', 'ü#?%.bin'], length: 10 }], 64);

  it('a single-file seed names the file, or the folder that holds it when it ends in /', () => {
    expect(fileUrl('http://[::1]:8080/dl/ubuntu.iso', single, 0).href).toBe('http://[::1]:8080/dl/ubuntu.iso');
    expect(fileUrl('http://[::1]:8080/dl/', single, 0).href).toBe('http://[::1]:8080/dl/ubuntu%2024.04.iso');
  });

  it("a multi-file seed is a folder holding the torrent's name, whether or not it ends in /, every component encoded", () => {
    expect(fileUrl('https://mirror.example/pub/', multi, 1).href).toBe('https://mirror.example/pub/tree/sub/%C3%BC%23%3F%25.bin');
    expect(fileUrl('https://mirror.example/pub', multi, 0).href).toBe('https://mirror.example/pub/tree/a%20b.txt');
  });

  it('a BEP 17 URL carries the raw info hash, the piece and inclusive ranges (none for a whole piece)', () => {
    const t = torrent([{ path: ['x'], length: 100 }], 64, false);
    expect(pieceUrl('http://h/seed.php', t, 0, 16, 32).href).toBe('http://h/seed.php?info_hash=%00%FF%10%20%30%40%50%60%70%80%9A%0B%0C%0D%0E%0F%7F%E0%AA%BB&piece=0&ranges=16-47');
    expect(pieceUrl('http://h/seed.php?key=1', t, 1, 0, 36).href).toMatch(/seed\.php\?key=1&info_hash=.*&piece=1$/);
  });
});

describe('web seeds in magnet links', () => {
  it('ws= gives BEP 19 web seeds (http and https only, each once); a torrent\'s url-list goes into its magnet', () => {
    const hash = 'ab'.repeat(20);
    const m = parseMagnet(`magnet:?xt=urn:btih:${hash}&ws=${encodeURIComponent('http://[::1]:8080/f.iso')}&ws.1=ftp%3A%2F%2Fx%2Ff&ws=${encodeURIComponent('http://[::1]:8080/f.iso')}&ws=https%3A%2F%2Fm.example%2Fd%2F`);
    expect(m.webSeeds).toEqual(['http://[::1]:8080/f.iso', 'https://m.example/d/']);
    expect(parseMagnet(`magnet:?xt=urn:btih:${hash}`).webSeeds).toBeUndefined();
    const meta = { infoHashHex: hash, v1: true, v2: false, name: 'f.iso', announce: [], urlList: ['http://[::1]:8080/f.iso'] } as unknown as Metainfo;
    expect(toMagnet(meta)).toBe(`magnet:?xt=urn:btih:${hash}&dn=f.iso&ws=${encodeURIComponent('http://[::1]:8080/f.iso')}`);
  });
});

describe('planning the requests of a run', () => {
  it('BEP 19: a range of each file it covers; pad files are zeros made here, never asked for', () => {
    const t = torrent([{ path: ['t', 'a'], length: 100 }, { path: ['t', '.pad', '28'], length: 28, pad: true }, { path: ['t', 'b'], length: 50 }], 64);
    const parts = planParts('bep19', t, 1, 0, 114, [
      { fileIndex: 0, fileOffset: 64, length: 36 },
      { fileIndex: 1, fileOffset: 0, length: 28 },
      { fileIndex: 2, fileOffset: 0, length: 50 },
    ]);
    expect(parts).toEqual([
      { kind: 'file', file: 0, offset: 64, length: 36 },
      { kind: 'zeros', length: 28 },
      { kind: 'file', file: 2, offset: 0, length: 50 },
    ]);
  });

  it('BEP 17: one request per piece the run touches', () => {
    const t = torrent([{ path: ['x'], length: 300 }], 100, false);
    expect(planParts('bep17', t, 0, 50, 200, [])).toEqual([
      { kind: 'piece', piece: 0, begin: 50, length: 50 },
      { kind: 'piece', piece: 1, begin: 0, length: 100 },
      { kind: 'piece', piece: 2, begin: 0, length: 50 },
    ]);
  });
});

describe('what a response says about the bytes asked for', () => {
  const asked: Asked = { start: 1000, length: 500, file: { index: 3, length: 10_000, name: 'tree/a.bin' } };
  const res = (text: string) => parseHead(Buffer.from(`${text}\r\n\r\n`));

  it('takes a 206 for exactly the range of a file of the torrent size, and a 200 only for the whole file', () => {
    expect(interpret(res('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 1000-1499/10000'), asked, false)).toEqual({ kind: 'data' });
    expect(interpret(res('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 1000-1499/*'), asked, false)).toEqual({ kind: 'data' });
    expect(interpret(res('HTTP/1.1 200 OK'), { ...asked, start: 0, length: 10_000 }, false)).toEqual({ kind: 'data' });
    expect(() => interpret(res('HTTP/1.1 200 OK'), asked, false)).toThrow(expect.objectContaining({ kind: 'no-ranges', permanent: true }));
  });

  it('refuses another range, another file size (another version: the file is dropped), several ranges and encodings', () => {
    expect(() => interpret(res('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-499/10000'), asked, false)).toThrow(/sent bytes 0-499 of "tree\/a.bin" for 1000-1499/);
    expect(() => interpret(res('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 1000-1499/12000'), asked, false)).toThrow(expect.objectContaining({ kind: 'mismatch', extra: { file: 3 } }));
    expect(() => interpret(res('HTTP/1.1 206 Partial Content\r\nContent-Type: multipart/byteranges; boundary=x'), asked, false)).toThrow(/no Content-Range/);
    expect(() => interpret(res('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 1000-1499/10000\r\nContent-Encoding: gzip'), asked, false)).toThrow(/encoded \(gzip\)/);
  });

  it('tells redirects, busy servers (their wait honoured), missing files and other errors apart', () => {
    expect(interpret(res('HTTP/1.1 302 Found\r\nLocation: /elsewhere'), asked, false)).toEqual({ kind: 'redirect', location: '/elsewhere' });
    expect(() => interpret(res('HTTP/1.1 301 Moved'), asked, false)).toThrow(/without a Location/);
    expect(() => interpret(res('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120'), asked, false)).toThrow(expect.objectContaining({ kind: 'busy', extra: { retryAfterMs: 120_000 } }));
    expect(() => interpret(res('HTTP/1.1 429 Too Many Requests'), asked, false)).toThrow(expect.objectContaining({ kind: 'busy', extra: {} }));
    expect(() => interpret(res('HTTP/1.1 404 Not Found'), asked, false)).toThrow(expect.objectContaining({ kind: 'missing', message: '"tree/a.bin" is not there (HTTP 404 Not Found)', extra: { file: 3 } }));
    expect(() => interpret(res('HTTP/1.1 416 Range Not Satisfiable'), asked, false)).toThrow(expect.objectContaining({ kind: 'missing' }));
    expect(() => interpret(res('HTTP/1.1 500 Internal Server Error'), asked, false)).toThrow(expect.objectContaining({ kind: 'status', permanent: false }));
  });

  it('BEP 17: a 200 carries the bytes; a 503 without Retry-After says the wait in its body', () => {
    const piece: Asked = { start: 0, length: 64 };
    expect(interpret(res('HTTP/1.1 200 OK\r\nContent-Length: 64'), piece, true)).toEqual({ kind: 'data' });
    expect(interpret(res('HTTP/1.1 503 Service Unavailable'), piece, true)).toEqual({ kind: 'busy-body' });
    expect(() => interpret(res('HTTP/1.1 206 Partial Content'), piece, true)).toThrow(/where BEP 17 answers 200/);
  });

  it('reads a wait in seconds or as a date, within a second and an hour', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter('0', now)).toBe(1000);
    expect(parseRetryAfter('99999999', now)).toBe(MAX_RETRY_MS);
    expect(parseRetryAfter('Tue, 01 Dec 2026 12:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('tomorrow', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseBusyBody(Buffer.from(' 15\n'))).toBe(15_000);
    expect(parseBusyBody(Buffer.from('<html>busy</html>'))).toBeUndefined();
  });
});

describe("the picker's runs for a web seed", () => {
  const PIECE = 4 * BLOCK_SIZE;
  const all = (n: number) => {
    const b = new Bitfield(n);
    b.setAll();
    return b;
  };
  const never = () => false;
  const pieces = (refs: BlockRef[]) => [...new Set(refs.map((r) => r.index))];

  it('takes whole pieces, contiguous, up to its size; what peers started stays theirs', () => {
    const p = new PiecePicker(16, () => PIECE, new Bitfield(16));
    p.sequential = true; // the order is then known: the peer starts piece 0, the seed the next ones
    const peer = all(16);
    p.addPeer(peer);
    const theirs = p.pick(peer, 4, never);
    expect(pieces(theirs)).toEqual([0]);
    const run = p.pickRun(all(16), 3.5 * PIECE, never);
    const got = pieces(run);
    expect(got).toEqual([1, 2, 3]);
    expect(run.length).toBe(12);
    // The next run starts where it ended; rarest first, it would start anywhere and run on from there.
    expect(pieces(p.pickRun(all(16), 2 * PIECE, never))).toEqual([4, 5]);
    // Nobody else asks for the seed's blocks outside endgame.
    expect(p.pick(peer, 1000, never).some((r) => got.includes(r.index))).toBe(false);
  });

  it('prefers the pieces no peer has, and never those the seed lacks', () => {
    const p = new PiecePicker(8, () => PIECE, new Bitfield(8));
    const peer = new Bitfield(8);
    for (let i = 0; i < 8; i++) if (i !== 5) peer.set(i);
    p.addPeer(peer);
    expect(pieces(p.pickRun(all(8), PIECE, never))).toEqual([5]);
    const lacking = { has: (i: number) => i === 2 };
    expect(pieces(p.pickRun(lacking, 8 * PIECE, never))).toEqual([2]);
  });

  it('cuts a piece larger than its size into block runs, and takes the blocks a leaving peer gave back first', () => {
    const p = new PiecePicker(2, () => 8 * BLOCK_SIZE, new Bitfield(2));
    const first = p.pickRun(all(2), 3 * BLOCK_SIZE, never);
    expect(first.map((r) => r.begin / BLOCK_SIZE)).toEqual([0, 1, 2]);
    const peer = all(2);
    const theirs = p.pick(peer, 2, never);
    expect(theirs.map((r) => [r.index, r.begin / BLOCK_SIZE])).toEqual([[first[0]!.index, 3], [first[0]!.index, 4]]);
    for (const r of theirs) p.release(r);
    expect(p.pickRun(all(2), 8 * BLOCK_SIZE, never).map((r) => [r.index, r.begin / BLOCK_SIZE])).toEqual([3, 4, 5, 6, 7].map((b) => [first[0]!.index, b]));
  });

  it('in endgame, joins only blocks one other source fetches, never its own twice', () => {
    const p = new PiecePicker(2, () => PIECE, new Bitfield(2));
    const peer = all(2);
    p.addPeer(peer);
    p.pick(peer, 8, never); // the peer holds every block
    expect(p.inEndgame()).toBe(true);
    const mine = new Set<string>();
    const run = p.pickRun(all(2), 8 * PIECE, (r) => mine.has(`${r.index} ${r.begin}`));
    expect(run.length).toBe(4); // one piece's missing blocks
    for (const r of run) mine.add(`${r.index} ${r.begin}`);
    const again = p.pickRun(all(2), 8 * PIECE, (r) => mine.has(`${r.index} ${r.begin}`));
    expect(pieces(again)).not.toEqual(pieces(run));
    // Now every block has two sources: no third from a web seed.
    for (const r of again) mine.add(`${r.index} ${r.begin}`);
    expect(p.pickRun(all(2), 8 * PIECE, never)).toEqual([]);
  });
});
