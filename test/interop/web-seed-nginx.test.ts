/**
 * Web seeds against a real web server: Debian's nginx, run by the test on loopback ports (its own
 * config, pid file, logs and temp paths in the test's folder), over [::1] and 127.0.0.1, plain
 * HTTP and HTTPS with a self-signed certificate (trusted through NODE_EXTRA_CA_CERTS). A single-
 * file and a multi-file torrent download and verify with no peer at all; libtorrent's own hybrid
 * torrent (BEP 47 pad files, which no server holds) too; beside a libtorrent seed both are used and
 * nothing is fetched twice beyond what the endgame allows; a file selection never fetches a
 * skipped file's bytes but those a wanted piece holds; the download limit holds web seeds too;
 * --no-web-seeds asks no server anything. What nginx logged is the evidence of what was asked.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { libtorrentCreate, libtorrentPeer } from '../support/peers.js';
import { cleanUpAfterEach, freePort, makeTree, runCli, sixswarm, tempDir, treeDigest, type JsonEvent } from '../support/sixswarm.js';
import { selfSignedCertificate, startNginx, withWebSeeds, type Nginx } from '../support/web-server.js';

const KiB = 1024;
const MiB = 1024 * KiB;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

interface Logged {
  client: string;
  scheme: string;
  path: string;
  status: number;
  bytes: number;
  range?: [number, number];
  /** How many requests its connection had carried, this one included (keep-alive). */
  onConnection: number;
}

/** nginx's access log (the test's format: remote address, scheme, request, status, bytes, Range). */
async function logged(n: Nginx): Promise<Logged[]> {
  return (await n.requests()).map((line) => {
    const m = /^(\S+) (\S+) GET (\S+) HTTP\/1\.1 (\d+) (\d+) "(?:bytes=(\d+)-(\d+))?[^"]*" (\d+)$/.exec(line);
    if (!m) throw new Error(`unexpected log line: ${line}`);
    return {
      client: m[1]!,
      scheme: m[2]!,
      path: decodeURIComponent(m[3]!),
      status: Number(m[4]),
      bytes: Number(m[5]),
      ...(m[6] ? { range: [Number(m[6]), Number(m[7])] as [number, number] } : {}),
      onConnection: Number(m[8]),
    };
  });
}

async function nginx(d: string, root: string, opts: { tls?: boolean; extra?: string } = {}) {
  const tls = opts.tls ? await selfSignedCertificate(join(d, 'cert')) : undefined;
  const n = await startNginx({ root, dir: join(d, 'nginx'), ...(tls ? { tls } : {}), ...(opts.extra ? { extra: opts.extra } : {}) });
  return { n, env: { SIXSWARM_STATE_DIR: join(d, 'state'), ...(tls ? { NODE_EXTRA_CA_CERTS: tls.cert } : {}) } };
}

/** A download with no peer, no tracker and no DHT: web seeds are its only source. */
function download(torrent: string, out: string, env: NodeJS.ProcessEnv, extra: string[] = []) {
  return sixswarm(['download', torrent, '-o', out, '--port', '0', '--no-trackers', '--no-dht', '--json', '--exit-on-complete', ...extra], { env });
}

/** A file's SHA-1 (big buffers are compared by digest: a deep compare of millions of bytes is slow). */
const sha1 = async (path: string) => createHash('sha1').update(await readFile(path)).digest('hex');

const lastProgress = (events: JsonEvent[]) => events.filter((e) => e.event === 'progress').at(-1)!;
type SeedStatus = { url: string; state: string; downloaded: number; failures: number; downRate: number };

/** Bytes of the torrent a log line asked for: [start, end) in the torrent's concatenated data. */
function torrentRange(meta: Metainfo, base: string, l: Logged): [number, number] {
  const rel = l.path.slice(base.length);
  const f = meta.files.find((x) => x.path.join('/') === rel);
  if (!f) throw new Error(`${l.path} is no file of the torrent`);
  const [a, b] = l.range ?? [0, f.length - 1];
  return [f.offset + a, f.offset + b + 1];
}

describe('web seeds from nginx, no peers', () => {
  it('a single-file torrent over HTTPS on [::1] and HTTP on 127.0.0.1 (a folder URL): both used, verified, nothing asked twice', async () => {
    dir = await tempDir('sixswarm-webseed-');
    const d = dir;
    await makeTree(join(d, 'www', 'pub'), { 'disc.iso': 12 * MiB + 12345 });
    const bare = join(d, 'bare.torrent');
    expect((await runCli(['create', join(d, 'www', 'pub', 'disc.iso'), '-o', bare, '--piece-length', String(64 * KiB)])).code).toBe(0);
    const { n, env } = await nginx(d, join(d, 'www'), { tls: true });
    const https6 = `https://[::1]:${n.tlsPort}/pub/disc.iso`;
    const http4 = `http://127.0.0.1:${n.port}/pub/`;
    const torrent = await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [https6, http4] });
    expect((await runCli(['info', torrent])).stdout).toMatch(/^web seeds\n {2}BEP 19 {4}https:\/\/\[::1\]:\d+\/pub\/disc\.iso\n {2}BEP 19 {4}http:\/\/127\.0\.0\.1:\d+\/pub\/$/m);

    const leech = download(torrent, join(d, 'out'), env);
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(await sha1(join(d, 'out', 'disc.iso'))).toBe(await sha1(join(d, 'www', 'pub', 'disc.iso')));
    expect(leech.events.filter((e) => e.event === 'web-seed-failed')).toEqual([]);
    const seeds = lastProgress(leech.events).webSeeds as SeedStatus[];
    expect(seeds.map((s) => s.url)).toEqual([https6, http4]);
    for (const s of seeds) expect(s.downloaded, s.url).toBeGreaterThan(0);

    const log = await logged(n);
    expect(log.every((l) => l.status === 206 && l.path === '/pub/disc.iso')).toBe(true);
    expect(new Set(log.map((l) => `${l.scheme} ${l.client}`))).toEqual(new Set(['https ::1', 'http 127.0.0.1']));
    // Connections kept alive: later requests of each scheme came over a connection that had carried others.
    for (const scheme of ['http', 'https']) expect(Math.max(...log.filter((l) => l.scheme === scheme).map((l) => l.onConnection)), scheme).toBeGreaterThan(1);
    // Every byte asked for once: runs never overlap, outside an endgame between the two seeds.
    const asked = log.reduce((sum, l) => sum + l.bytes, 0);
    const size = 12 * MiB + 12345;
    expect(asked).toBeGreaterThanOrEqual(size);
    expect(asked - size).toBeLessThanOrEqual(Number(lastProgress(leech.events).wasted) + 4 * MiB);
    expect(Number(lastProgress(leech.events).wasted)).toBeLessThanOrEqual(2 * MiB);
  });

  it('a multi-file torrent (nested, unicode, empty and one-byte files) over HTTP on [::1], its URL without the trailing slash', async () => {
    dir = await tempDir('sixswarm-webseed-');
    const d = dir;
    const tree = { 'a.bin': 300 * KiB + 7, 'one': 1, 'empty.txt': 0, 'sub/ü #?%.bin': 2 * MiB + 3, 'sub/deeper/z.dat': 700 * KiB };
    await makeTree(join(d, 'www', 'mirror', 'tree'), tree);
    const bare = join(d, 'bare.torrent');
    expect((await runCli(['create', join(d, 'www', 'mirror', 'tree'), '-o', bare, '--piece-length', String(32 * KiB)])).code).toBe(0);
    const { n, env } = await nginx(d, join(d, 'www'));
    const torrent = await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [`http://[::1]:${n.port}/mirror`] });
    const leech = download(torrent, join(d, 'out'), env);
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(await treeDigest(join(d, 'out', 'tree'))).toEqual(await treeDigest(join(d, 'www', 'mirror', 'tree')));
    const log = await logged(n);
    expect(new Set(log.map((l) => l.path))).toEqual(new Set(['/mirror/tree/a.bin', '/mirror/tree/one', '/mirror/tree/sub/ü #?%.bin', '/mirror/tree/sub/deeper/z.dat']));
    expect(log.every((l) => l.client === '::1' && l.status === 206)).toBe(true);
  });

  it("libtorrent's hybrid torrent: its pad files are zeros made here, never asked of the server", async () => {
    dir = await tempDir('sixswarm-webseed-');
    const d = dir;
    await makeTree(join(d, 'www', 'lt'), { 'x.bin': 100 * KiB + 1, 'y.bin': 50 * KiB, 'z.bin': 10 });
    const bare = join(d, 'bare.torrent');
    await libtorrentCreate(join(d, 'www', 'lt'), bare, 32 * KiB);
    const meta = await readTorrentFile(bare);
    expect(meta.files.some((f) => f.pad)).toBe(true);
    const { n, env } = await nginx(d, join(d, 'www'));
    const torrent = await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [`http://127.0.0.1:${n.port}/`] });
    const leech = download(torrent, join(d, 'out'), env);
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(await treeDigest(join(d, 'out', 'lt'))).toEqual(await treeDigest(join(d, 'www', 'lt')));
    const log = await logged(n);
    expect(log.length).toBeGreaterThan(0);
    expect(log.filter((l) => l.path.includes('.pad'))).toEqual([]);
    expect(log.every((l) => l.status === 206)).toBe(true);
  });

  it('--no-web-seeds asks no server anything', async () => {
    dir = await tempDir('sixswarm-webseed-');
    const d = dir;
    await makeTree(join(d, 'www'), { 'f.bin': 256 * KiB });
    const bare = join(d, 'bare.torrent');
    expect((await runCli(['create', join(d, 'www', 'f.bin'), '-o', bare])).code).toBe(0);
    const { n, env } = await nginx(d, join(d, 'www'));
    const torrent = await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [`http://[::1]:${n.port}/f.bin`] });
    const leech = download(torrent, join(d, 'out'), env, ['--no-web-seeds']);
    await leech.waitFor((e) => e.event === 'progress', 10_000, 'a progress event');
    await new Promise((r) => setTimeout(r, 2500));
    expect(await logged(n)).toEqual([]);
    expect(lastProgress(leech.events).webSeeds).toBeUndefined();
    expect(lastProgress(leech.events).percent).toBe(0);
  });
});

describe('web seeds with other sources and controls', () => {
  it('beside a libtorrent seed: both used, no piece fetched twice beyond what the endgame allows', async () => {
    dir = await tempDir('sixswarm-webseed-');
    const d = dir;
    const size = 24 * MiB;
    await makeTree(join(d, 'www', 'both'), { 'data.bin': size });
    const bare = join(d, 'bare.torrent');
    expect((await runCli(['create', join(d, 'www', 'both', 'data.bin'), '-o', bare, '--piece-length', String(64 * KiB)])).code).toBe(0);
    // A web server slower than the peer (per connection), so that both have a share to give.
    const { n, env } = await nginx(d, join(d, 'www'), { extra: 'limit_rate 3m;' });
    const torrent = await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [`http://[::1]:${n.port}/both/data.bin`] });
    const port = await freePort();
    const lt = libtorrentPeer({ torrent: bare, save: join(d, 'www', 'both'), port, stats: 1 });
    expect((await lt.event('checked')).seeding).toBe(true);

    const leech = download(torrent, join(d, 'out'), env, ['--peer', `[::1]:${port}`, '--max-down', '12M']);
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(await sha1(join(d, 'out', 'data.bin'))).toBe(await sha1(join(d, 'www', 'both', 'data.bin')));
    const last = lastProgress(leech.events);
    const web = (last.webSeeds as SeedStatus[])[0]!;
    const fromPeer = Number(last.downloaded) - web.downloaded;
    console.log(`web seed beside libtorrent: nginx ${(web.downloaded / MiB).toFixed(1)} MiB, libtorrent ${(fromPeer / MiB).toFixed(1)} MiB, wasted ${(Number(last.wasted) / KiB).toFixed(0)} KiB`);
    expect(web.downloaded, 'bytes from nginx').toBeGreaterThan(2 * MiB);
    expect(fromPeer, 'bytes from libtorrent').toBeGreaterThan(2 * MiB);
    // What both sent beyond the torrent's size is the endgame's duplicates: a few pieces at most.
    const wasted = Number(last.wasted);
    expect(Number(last.downloaded) - wasted).toBe(size);
    expect(wasted).toBeLessThanOrEqual(1 * MiB);
    // nginx's own account agrees: bytes it sent (some still in flight when a run was cut short) against the web seed's count.
    const served = (await logged(n)).reduce((sum, l) => sum + l.bytes, 0);
    expect(served).toBeGreaterThanOrEqual(web.downloaded);
    expect(served - web.downloaded).toBeLessThanOrEqual(8 * MiB);
  });

  it("a magnet's ws= web seeds: used once a peer gave the metadata, and kept with it for the next start", async () => {
    dir = await tempDir('sixswarm-webseed-');
    const d = dir;
    await makeTree(join(d, 'www', 'mag'), { 'm.bin': 8 * MiB + 5 });
    const bare = join(d, 'bare.torrent');
    expect((await runCli(['create', join(d, 'www', 'mag', 'm.bin'), '-o', bare, '--piece-length', String(64 * KiB)])).code).toBe(0);
    const meta = await readTorrentFile(bare);
    const { n, env } = await nginx(d, join(d, 'www'), { extra: 'limit_rate 2m;' });
    const ws = `http://[::1]:${n.port}/mag/m.bin`;
    const port = await freePort();
    const lt = libtorrentPeer({ torrent: bare, save: join(d, 'www', 'mag'), port });
    expect((await lt.event('checked')).seeding).toBe(true);
    const magnet = `magnet:?xt=urn:btih:${meta.infoHashHex}&dn=m.bin&ws=${encodeURIComponent(ws)}&x.pe=${encodeURIComponent(`[::1]:${port}`)}`;
    expect(JSON.parse((await runCli(['info', magnet, '--json'])).stdout).webSeeds).toEqual([ws]);
    const leech = download(magnet, join(d, 'out'), env, ['--max-down', '8M']);
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(await sha1(join(d, 'out', 'm.bin'))).toBe(await sha1(join(d, 'www', 'mag', 'm.bin')));
    const web = (lastProgress(leech.events).webSeeds as SeedStatus[])[0]!;
    expect(web.url).toBe(ws);
    expect(web.downloaded).toBeGreaterThan(0);
    expect((await logged(n)).length).toBeGreaterThan(0);
    const saved = await readTorrentFile(join(d, 'state', 'metadata', `${meta.infoHashHex}.torrent`));
    expect(saved.urlList).toEqual([ws]);
    expect(saved.infoHashHex).toBe(meta.infoHashHex);
  });

  it('a file selection asks only for bytes of wanted pieces: a skipped file only where a wanted piece holds it', async () => {
    dir = await tempDir('sixswarm-webseed-');
    const d = dir;
    const tree = { 'a.bin': 300 * KiB + 777, 'b.bin': 200 * KiB + 5, 'c.bin': 500 * KiB + 3 };
    await makeTree(join(d, 'www', 'sel'), tree);
    const bare = join(d, 'bare.torrent');
    expect((await runCli(['create', join(d, 'www', 'sel'), '-o', bare, '--piece-length', String(64 * KiB)])).code).toBe(0);
    const meta = await readTorrentFile(bare);
    const { n, env } = await nginx(d, join(d, 'www'));
    const torrent = await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [`http://[::1]:${n.port}/`] });
    const leech = download(torrent, join(d, 'out'), env, ['--select', '2']);
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(await sha1(join(d, 'out', 'sel', 'b.bin'))).toBe(await sha1(join(d, 'www', 'sel', 'b.bin')));
    const b = meta.files[1]!;
    const first = Math.floor(b.offset / meta.pieceLength) * meta.pieceLength;
    const end = Math.min(meta.totalLength, (Math.floor((b.offset + b.length - 1) / meta.pieceLength) + 1) * meta.pieceLength);
    const log = await logged(n);
    expect(log.length).toBeGreaterThan(0);
    for (const l of log) {
      const [s, e] = torrentRange(meta, '/', l);
      expect(s >= first && e <= end, `${l.path} ${l.range} lies in b.bin's pieces`).toBe(true);
    }
    // a.bin's and c.bin's bytes in those pieces were asked for, and no more.
    const asked = log.reduce((sum, l) => sum + l.bytes, 0);
    expect(asked).toBe(end - first);
  });

  it("the torrent's download limit holds web seeds too", async () => {
    dir = await tempDir('sixswarm-webseed-');
    const d = dir;
    await makeTree(join(d, 'www'), { 'slow.bin': 3 * MiB });
    const bare = join(d, 'bare.torrent');
    expect((await runCli(['create', join(d, 'www', 'slow.bin'), '-o', bare, '--piece-length', String(64 * KiB)])).code).toBe(0);
    const { n, env } = await nginx(d, join(d, 'www'));
    const torrent = await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [`http://127.0.0.1:${n.port}/slow.bin`] });
    const t0 = Date.now();
    const leech = download(torrent, join(d, 'out'), env, ['--max-down', '1M']);
    expect(await leech.exited, leech.stderr).toBe(0);
    const seconds = (Date.now() - t0) / 1000;
    // 3 MiB at 1 MiB/s: a quarter second of burst, then the limit (start-up and exit add a little).
    expect(seconds).toBeGreaterThan(2.4);
    expect(seconds).toBeLessThan(12);
    expect(lastProgress(leech.events).maxDown).toBe(MiB);
  });
});
