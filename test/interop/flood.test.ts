/**
 * Flood (npm `flood` 4.11, the last release that runs on Node 20), its server run as a real
 * process with its Transmission connector pointed at `sixswarm daemon` (with a login), driven
 * through Flood's own HTTP API as its web page drives it: add a .torrent, list it, see its
 * peers and files, watch it complete from a libtorrent seed, stop, start, check, add a magnet,
 * remove. Flood connects to nothing but the daemon (checked with strace while writing this).
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toMagnet } from '../../src/metainfo/magnet.js';
import { startDaemon } from '../support/daemon.js';
import { libtorrentPeer, waitOutput, waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, freePort, ROOT, seedPayload, spawnTracked, tempDir, treeDigest } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

interface FloodTorrent {
  hash: string;
  name: string;
  percentComplete: number;
  status: string[];
  directory: string;
  peersConnected: number;
}

/** Flood's HTTP API, logged in (auth none: its configured user). */
class FloodApi {
  private cookie = '';

  constructor(private readonly base: string) {}

  async login(): Promise<void> {
    const res = await fetch(`${this.base}/api/auth/authenticate`, { method: 'POST' });
    expect(res.status).toBe(200);
    this.cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  }

  async get<T>(path: string): Promise<T> {
    const res = await fetch(`${this.base}${path}`, { headers: { Cookie: this.cookie } });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async post(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.base}${path}`, { method: 'POST', headers: { Cookie: this.cookie, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  async torrents(): Promise<Record<string, FloodTorrent>> {
    return (await this.get<{ torrents: Record<string, FloodTorrent> }>('/api/torrents')).torrents;
  }
}

describe('Flood', () => {
  it('adds, lists, completes, stops, starts, checks and removes a torrent through its Transmission connector', async () => {
    dir = await tempDir();
    const { torrent, meta } = await seedPayload(dir, { 'a.bin': 2_000_000, 'docs/b.txt': 300_000 }, 32 * 1024);
    const users = join(dir, 'users');
    await writeFile(users, 'flood:s3cret\n');
    await chmod(users, 0o600);
    const d = await startDaemon(dir, ['--credentials', users, '--max-down', '1M'], { auth: { user: 'flood', password: 's3cret' } });

    const floodPort = await freePort();
    const flood = spawnTracked(
      process.execPath,
      [join(ROOT, 'node_modules', 'flood', 'dist', 'index.js'), '--auth', 'none', '--host', '127.0.0.1', '--port', String(floodPort), '--rundir', join(dir, 'flood'),
        '--trurl', `http://127.0.0.1:${d.port}/transmission/rpc`, '--truser', 'flood', '--trpass', 's3cret'],
      { label: 'flood' },
    );
    await waitOutput(flood, /Flood server 4\.11\.0 starting/, 60_000);
    const api = new FloodApi(`http://127.0.0.1:${floodPort}`);
    await waitUntil(async () => api.login().then(() => true, () => false), 30_000, () => `Flood answering\n${flood.stdoutRaw}${flood.stderr}`);

    const hash = meta.infoHashHex.toUpperCase();
    const added = await api.post('/api/torrents/add-files', { files: [(await readFile(torrent)).toString('base64')], destination: d.dirs.download, start: true });
    expect(added).toEqual({ status: 200, body: [meta.infoHashHex] });
    const listed = (await api.torrents())[hash]!;
    expect(listed).toMatchObject({ name: 'payload', directory: d.dirs.download });

    const seed = libtorrentPeer({ torrent, save: join(dir, 'seed'), port: await freePort(), connect: [`[::1]:${d.peerPort}`] });
    await seed.event('checked');
    const peers = await waitUntil(async () => {
      const list = await api.get<{ address: string; isIncoming: boolean; completedPercent: number }[]>(`/api/torrents/${hash}/peers`);
      return list.length > 0 && list;
    }, 30_000, () => 'Flood listing the seed as a peer');
    expect(peers[0]).toMatchObject({ address: '::1', isIncoming: true, completedPercent: 100 });
    const contents = await api.get<{ path: string; sizeBytes: number }[]>(`/api/torrents/${hash}/contents`);
    expect(contents.map((c) => [c.path, c.sizeBytes])).toEqual([['payload/a.bin', 2_000_000], ['payload/docs/b.txt', 300_000]]);

    await waitUntil(async () => {
      const t = (await api.torrents())[hash]!;
      return t.percentComplete === 100 && t.status.includes('seeding') && t.status.includes('complete');
    }, 60_000, () => 'Flood showing it complete and seeding');
    expect(await treeDigest(join(d.dirs.download, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));

    expect((await api.post('/api/torrents/stop', { hashes: [hash] })).status).toBe(200);
    expect((await api.torrents())[hash]!.status).toContain('stopped');
    expect((await api.post('/api/torrents/start', { hashes: [hash] })).status).toBe(200);
    await waitUntil(async () => (await api.torrents())[hash]!.status.includes('seeding'), 15_000, () => 'seeding after start');
    expect((await api.post('/api/torrents/check-hash', { hashes: [hash] })).status).toBe(200);
    await d.proc.waitFor((e) => e.event === 'checked' && e.hashed === meta.pieceCount, 30_000, 'the check');
    await waitUntil(async () => {
      const t = (await api.torrents())[hash]!;
      return t.status.includes('seeding') && t.percentComplete === 100;
    }, 15_000, () => 'seeding after the check');

    const other = await seedPayload(join(dir, 'other'), { 'c.bin': 50_000 }, 16 * 1024);
    const magnet = await api.post('/api/torrents/add-urls', { urls: [toMagnet(other.meta)], destination: d.dirs.download, start: false });
    expect(magnet).toEqual({ status: 200, body: [other.meta.infoHashHex] });
    expect(Object.keys(await api.torrents()).sort()).toEqual([hash, other.meta.infoHashHex.toUpperCase()].sort());

    expect((await api.post('/api/torrents/delete', { hashes: [hash, other.meta.infoHashHex.toUpperCase()], deleteData: false })).status).toBe(200);
    await waitUntil(async () => Object.keys(await api.torrents()).length === 0, 15_000, () => 'both removed');
    expect(await treeDigest(join(d.dirs.download, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
    const methods = d.proc.events.filter((e) => e.event === 'remote').map((e) => `${e.method} ${e.user}`);
    expect(methods).toEqual(['torrent-add flood', 'torrent-stop flood', 'torrent-start flood', 'torrent-verify flood', 'torrent-add flood', 'torrent-remove flood']);
    expect(d.proc.events.filter((e) => e.event === 'refused')).toEqual([]);
  });
});
