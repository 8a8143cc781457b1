/**
 * Web seeds against small HTTP servers of the test's own (real sockets, written by hand so they
 * can misbehave): a BEP 17 `httpseeds` script (its busy reply's body says how long to wait), a
 * BEP 19 server answering 503 with Retry-After (the wait honoured to the second), a server whose
 * files moved to a mirror of the other family (the redirect followed and remembered per file),
 * an HTTPS server with a certificate nobody trusts (a clear failure saying what to do), and one
 * whose response head never ends (bounded, and backed off).
 */
import { createServer as createTlsServer } from 'node:tls';
import { createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { faultWebSeed, type FaultWebSeed } from '../support/fault-web-seed.js';
import { waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, makeTree, runCli, sixswarm, tempDir, treeDigest } from '../support/sixswarm.js';
import { selfSignedCertificate, withWebSeeds } from '../support/web-server.js';

const KiB = 1024;
let dir: string | undefined;
cleanUpAfterEach(() => dir);
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function payload(tree: Record<string, number>) {
  dir = await tempDir('sixswarm-webseed-e2e-');
  const d = dir;
  await makeTree(join(d, 'www', 'tree'), tree);
  const bare = join(d, 'bare.torrent');
  expect((await runCli(['create', join(d, 'www', 'tree'), '-o', bare, '--piece-length', String(32 * KiB)])).code).toBe(0);
  const meta = await readTorrentFile(bare);
  const files = new Map<string, Buffer>();
  for (const name of Object.keys(tree)) files.set(`tree/${name}`, await readFile(join(d, 'www', 'tree', name)));
  return { d, bare, meta, files };
}

async function serve(...args: Parameters<typeof faultWebSeed>): Promise<FaultWebSeed> {
  const s = await faultWebSeed(...args);
  closers.push(() => s.close());
  return s;
}

function download(d: string, torrent: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return sixswarm(['download', torrent, '-o', join(d, 'out'), '--port', '0', '--no-trackers', '--no-dht', '--json', '--exit-on-complete', ...extra], { env: { SIXSWARM_STATE_DIR: join(d, 'state'), ...env } });
}

describe('web seeds against hand-made servers', () => {
  it('a BEP 17 script, busy at first: its wait is honoured, then every piece comes from it', async () => {
    // Larger than two first runs: both of its connections ask at once.
    const { d, bare, meta, files } = await payload({ 'a.bin': 300 * KiB + 5, 'b.bin': 2 * 1024 * KiB });
    const script = await serve({ kind: 'busy', seconds: 2, times: 2, inBody: true }, files, meta);
    const url = `http://[::1]:${script.port}/seed.php`;
    const torrent = await withWebSeeds(bare, join(d, 'seeded.torrent'), { httpSeeds: [url] });
    expect((await runCli(['info', torrent])).stdout).toMatch(/^ {2}BEP 17 {4}http:\/\/\[::1\]:\d+\/seed\.php$/m);
    const leech = download(d, torrent);
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(await treeDigest(join(d, 'out', 'tree'))).toEqual(await treeDigest(join(d, 'www', 'tree')));
    const busy = leech.events.filter((e) => e.event === 'web-seed-failed');
    expect(busy).toEqual([expect.objectContaining({ url, kind: 'busy', action: 'retry', retryIn: 2, reason: 'busy (HTTP 503, retry in 2 s)' })]);
    // Both of its connections asked at once and were told to wait; the next ask came 2 s later.
    const [first, second, ...rest] = script.requests;
    expect([first!.status, second!.status]).toEqual([503, 503]);
    expect(rest.length).toBeGreaterThan(0);
    expect(rest[0]!.at - second!.at).toBeGreaterThanOrEqual(1900);
    // Piece requests: the info hash, a piece, and ranges only for part of one.
    expect(rest.every((r) => r.path.startsWith(`/seed.php?info_hash=${[...meta.infoHash].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('')}&piece=`))).toBe(true);
  });

  it('BEP 19 with 503 and Retry-After: not asked again before the time it said', async () => {
    const { d, bare, files } = await payload({ 'only.bin': 2 * 1024 * KiB + 600 * KiB });
    const busy = await serve({ kind: 'busy', seconds: 3, times: 2 }, files);
    const url = `http://127.0.0.1:${busy.port}/`;
    const leech = download(d, await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [url] }));
    expect(await leech.exited, leech.stderr).toBe(0);
    const refused = busy.requests.filter((r) => r.status === 503);
    const served = busy.requests.filter((r) => r.status === 206);
    expect(refused.length).toBe(2); // both of its connections asked at once, and were told to wait
    expect(served[0]!.at - refused[1]!.at).toBeGreaterThanOrEqual(2900);
    expect(leech.events.filter((e) => e.event === 'web-seed-failed')).toEqual([expect.objectContaining({ kind: 'busy', retryIn: 3, reason: 'busy (HTTP 503, Retry-After 3 s)' })]);
  });

  it('files moved to a mirror of the other family: each redirect followed once, then the mirror asked directly', async () => {
    const { d, bare, files } = await payload({ 'a.bin': 200 * KiB, 'b.bin': 6 * 1024 * KiB + 1 });
    const mirror = await serve({ kind: 'none' }, files);
    const moved = await serve({ kind: 'moved', to: `http://127.0.0.1:${mirror.port}/` }, files);
    const leech = download(d, await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [`http://[::1]:${moved.port}/`] }));
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(await treeDigest(join(d, 'out', 'tree'))).toEqual(await treeDigest(join(d, 'www', 'tree')));
    // One redirect per file and connection at most (two run at once); every byte from the mirror, over IPv4.
    const perFile = new Map<string, number>();
    for (const r of moved.requests) perFile.set(r.path, (perFile.get(r.path) ?? 0) + 1);
    for (const n of perFile.values()) expect(n).toBeLessThanOrEqual(2);
    expect(mirror.requests.length).toBeGreaterThan(moved.requests.length);
    expect(new Set(mirror.requests.map((r) => r.client))).toEqual(new Set(['127.0.0.1']));
  });

  it('HTTPS with a certificate nobody trusts: one clear failure, saying how to trust it', async () => {
    const { d, bare } = await payload({ 'x.bin': 100 * KiB });
    const cert = await selfSignedCertificate(join(d, 'cert'));
    const server = createTlsServer({ cert: await readFile(cert.cert), key: await readFile(cert.key) }, (s) => s.end());
    server.on('tlsClientError', () => {});
    await new Promise<void>((r) => server.listen(0, '::1', r));
    closers.push(() => new Promise((r) => server.close(() => r())));
    const url = `https://[::1]:${(server.address() as { port: number }).port}/x.bin`;
    // NODE_EXTRA_CA_CERTS unset: the machine's own trust store, which does not hold it.
    const leech = download(d, await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [url] }), [], { NODE_EXTRA_CA_CERTS: '' });
    const failed = await leech.waitFor((e) => e.event === 'web-seed-failed', 20_000, 'the TLS failure');
    expect(failed).toMatchObject({ url, kind: 'tls', action: 'retry' });
    expect(failed.reason).toMatch(/TLS with ::1 failed: .*certificate.*set NODE_EXTRA_CA_CERTS to its PEM file/);
  });

  it('without --json: a failure is one line saying what follows, and the progress line counts the web seeds', async () => {
    const { d, bare, files } = await payload({ 'x.bin': 100 * KiB });
    const gone = await serve({ kind: 'missing', path: 'tree/x.bin' }, files);
    const url = `http://[::1]:${gone.port}/x`;
    const torrent = await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [url] });
    const leech = sixswarm(['download', torrent, '-o', join(d, 'out'), '--port', '0', '--no-trackers', '--no-dht'], { env: { SIXSWARM_STATE_DIR: join(d, 'state') } });
    await waitUntil(() => /web seeds 0\/1/.test(leech.stdoutRaw) && /web seed .* not there/.test(leech.stdoutRaw), 20_000, () => leech.stdoutRaw + leech.stderr);
    // A multi-file torrent's only file gone: nothing left to ask it for.
    expect(leech.stdoutRaw).toContain(`web seed ${url}: "tree/x.bin" is not there (HTTP 404 Not Found); not asked again this session`);
    expect(leech.stdoutRaw).toMatch(/^tree: 0\.0% .* peers 0 \(v4 0, v6 0, seeds 0\) web seeds 0\/1/m);
    leech.kill();
    await leech.exited;
  });

  it('a seed that has none of the files is given up after 16 in a row, not asked for every one', async () => {
    const tree = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${String(i).padStart(2, '0')}.bin`, 40 * KiB]));
    const { d, bare } = await payload(tree);
    const empty = await serve({ kind: 'none' }, new Map());
    const url = `http://[::1]:${empty.port}/wrong/`;
    const leech = download(d, await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [url] }));
    const gaveUp = await leech.waitFor((e) => e.event === 'web-seed-failed' && e.action === 'dropped', 20_000, 'the seed given up');
    expect(gaveUp.reason).toMatch(/^16 files in a row are not there \(the last: "tree\/f\d\d\.bin" is not there \(HTTP 404 Not Found\)\): is the URL right\?$/);
    const dropped = leech.events.filter((e) => e.event === 'web-seed-failed' && e.action === 'file-dropped');
    expect(dropped).toHaveLength(15);
    expect(new Set(dropped.map((e) => e.reason)).size).toBe(15);
    await new Promise((r) => setTimeout(r, 200));
    // Each file is asked at most once per connection (two run at once), and nothing after it was given up.
    const asked = empty.requests.length;
    expect(asked).toBeGreaterThanOrEqual(16);
    expect(asked).toBeLessThanOrEqual(32);
    await new Promise((r) => setTimeout(r, 1000));
    expect(empty.requests.length).toBe(asked);
    const status = leech.events.filter((e) => e.event === 'progress').at(-1)!.webSeeds as { state: string }[];
    expect(status[0]!.state).toBe('failed');
  });

  it('a response head that never ends: cut at its bound, reported once, the server backed off', async () => {
    // Enough pieces for both of its connections to have a run at once.
    const { d, bare } = await payload({ 'x.bin': 2 * 1024 * KiB });
    let requests = 0;
    let sentTotal = 0;
    const server = createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => {
        requests++;
        s.write('HTTP/1.1 206 Partial Content\r\n');
        const junk = Buffer.from(`X-Junk: ${'j'.repeat(1000)}\r\n`);
        const more = () => {
          while (!s.destroyed && s.write(junk)) sentTotal += junk.length;
        };
        s.on('drain', more);
        more();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/x.bin`;
    const leech = download(d, await withWebSeeds(bare, join(d, 'seeded.torrent'), { urlList: [url] }));
    const failed = await leech.waitFor((e) => e.event === 'web-seed-failed', 20_000, 'the failure');
    expect(failed).toMatchObject({ kind: 'protocol', action: 'retry', retryIn: 5, reason: 'the response head is larger than 16384 bytes' });
    await new Promise((r) => setTimeout(r, 3000));
    // Its two connections asked once each, and nothing more within the backoff.
    expect(requests).toBe(2);
    expect(leech.events.filter((e) => e.event === 'web-seed-failed')).toHaveLength(1);
    const status = leech.events.filter((e) => e.event === 'progress').at(-1)!.webSeeds as { state: string; failures: number; retryIn?: number }[];
    expect(status[0]).toMatchObject({ state: 'waiting', failures: 2 });
    leech.kill();
    expect(await leech.exited).toBe(143);
  });
});
