/**
 * The engine behind `sixswarm ui`: the session list on disk, deleting a torrent's data safely,
 * and a TorrentManager downloading from a real `sixswarm seed` through the built-in tracker on
 * [::1]: pause (peers closed, the tracker told), resume, the session resumed by a new manager,
 * re-check, remove with and without the data, and refused input.
 */
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { SessionStore, type SessionEntry } from '../../src/session/session-store.js';
import { StatusFeed, type EngineEvent } from '../../src/status/feed.js';
import { Session } from '../../src/session/session.js';
import { toMagnet } from '../../src/metainfo/magnet.js';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { deleteTorrentData } from '../../src/storage/delete-data.js';
import { waitUntil } from '../support/peers.js';
import { builtInTracker, cleanUpAfterEach, makeTree, runCli, sixswarm, tempDir, treeDigest } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

const entry = (over: Partial<SessionEntry> = {}): SessionEntry => ({
  infoHash: 'ab'.repeat(20),
  name: 'x',
  dir: '/data',
  paused: false,
  addedAt: '2026-12-01T00:00:00.000Z',
  source: { kind: 'torrent', file: '/s/torrents/x.torrent' },
  have: 0,
  haveBytes: 0,
  ...over,
});

describe('session store', () => {
  it('starts empty, keeps what was saved (the last save wins), and refuses a damaged file without touching it', async () => {
    dir = await tempDir();
    const store = new SessionStore(join(dir, 'session'));
    expect(await store.load()).toEqual([]);
    const a = entry(), b = entry({ infoHash: 'cd'.repeat(20), paused: true, source: { kind: 'magnet', uri: 'magnet:?xt=urn:btih:' + 'cd'.repeat(20) } });
    await Promise.all([store.save([a]), store.save([a, b]), store.save([b])]);
    expect(await store.load()).toEqual([b]);
    expect((await readdir(store.dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    await writeFile(store.file, '{"version":1,"torrents":[{"infoHash":"zz"');
    await expect(store.load()).rejects.toThrow(/session .* is damaged .*move it away to start an empty session/);
    expect(await readFile(store.file, 'utf8')).toBe('{"version":1,"torrents":[{"infoHash":"zz"');
    await writeFile(store.file, JSON.stringify({ version: 2, torrents: [a] }));
    await expect(store.load()).rejects.toThrow(/not a version 1 session/);
  });

  it('one unusable entry costs only itself: the others load, it is kept in a file beside the session with a message naming it', async () => {
    dir = await tempDir();
    const store = new SessionStore(join(dir, 'session'));
    const a = entry(), b = entry({ infoHash: 'cd'.repeat(20), name: 'b' });
    const bad = [{ ...a, infoHash: 'ef'.repeat(20), dir: 'relative/dir' }, 'not even an object', { ...b, paused: 'yes' }, a];
    await store.save([a, b]);
    const text = await readFile(store.file, 'utf8');
    const doc = JSON.parse(text) as { torrents: unknown[] };
    doc.torrents.splice(1, 0, ...bad);
    await writeFile(store.file, JSON.stringify(doc));
    const problems: string[] = [];
    expect(await store.load((p) => problems.push(p))).toEqual([a, b]);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/entry 2: dir is not an absolute path; it is left out and kept in .*session\.set-aside-.*\.json \(fix it there and add the torrent again\)/);
    expect(problems[1]).toMatch(/entry 3: not an object/);
    expect(problems[2]).toMatch(/entry 4: paused is not true or false/);
    expect(problems[3]).toMatch(/entry 5: (ab){20} is listed twice/);
    const aside = (await readdir(store.dir)).filter((f) => f.startsWith('session.set-aside-'));
    expect(aside).toHaveLength(1);
    const kept = JSON.parse(await readFile(join(store.dir, aside[0]!), 'utf8')) as { from: string; torrents: { entry: unknown; why: string }[] };
    expect(kept.from).toBe(store.file);
    expect(kept.torrents.map((t) => t.entry)).toEqual(bad);
    // Saving the valid list afterwards loses nothing: the set-aside file stays.
    await store.save([a, b]);
    expect((await readdir(store.dir)).filter((f) => f.startsWith('session.set-aside-'))).toEqual(aside);

    // The manager (what `sixswarm ui` opens) runs the rest of the session and reports the entry set aside.
    const magnet = (h: string) => ({ kind: 'magnet' as const, uri: `magnet:?xt=urn:btih:${h}` });
    const good = [entry({ paused: true, source: magnet(a.infoHash) }), entry({ infoHash: b.infoHash, name: 'b', paused: true, source: magnet(b.infoHash) })];
    await writeFile(store.file, JSON.stringify({ version: 1, torrents: [good[0], { ...good[1], have: -1 }, good[1]] }));
    const engine = new Engine({ port: 0, ipv4: true, ipv6: false, stateDir: join(dir, 'state') });
    const manager = new Session({ engine, feed: new StatusFeed(engine), store, downloadDir: join(dir, 'downloads') });
    const opened = await manager.open();
    expect(opened).toEqual([expect.stringMatching(/entry 2: have\/haveBytes are not counts; it is left out and kept in/)]);
    expect(manager.summaries().map((t) => t.infoHash)).toEqual([a.infoHash, b.infoHash]);
    await manager.close();
  });
});

describe('deleting a torrent\'s data', () => {
  it('removes only the torrent\'s own files and the folders left empty; never follows a symlink', async () => {
    dir = await tempDir();
    const src = join(dir, 'make', 'pack');
    await makeTree(src, { 'a.bin': 5000, 'sub/b.bin': 3000, 'sub/deep/c.bin': 2000, 'other/d.bin': 100 });
    const torrent = join(dir, 'pack.torrent');
    expect((await runCli(['create', src, '-o', torrent, '--piece-length', '16K'])).code).toBe(0);
    const meta = await readTorrentFile(torrent);
    const data = join(dir, 'data');
    await makeTree(join(data, 'pack'), { 'a.bin': 5000, 'sub/b.bin': 3000, 'mine.txt': 10 });
    // sub/deep is a symlink to a folder outside: c.bin "inside" it is someone else's file.
    await makeTree(join(dir, 'outside'), { 'c.bin': 7 });
    await symlink(join(dir, 'outside'), join(data, 'pack', 'sub', 'deep'));
    // other/d.bin is a symlink to a file outside.
    await mkdir(join(data, 'pack', 'other'));
    await makeTree(join(dir, 'elsewhere'), { 'target.bin': 9 });
    await symlink(join(dir, 'elsewhere', 'target.bin'), join(data, 'pack', 'other', 'd.bin'));

    const r = await deleteTorrentData(meta, data);
    expect(r.deleted).toBe(2); // a.bin and sub/b.bin
    expect(r.kept.join('\n')).toMatch(/c\.bin: its folder leads outside/);
    expect(r.kept.join('\n')).toMatch(/d\.bin: not a regular file \(a symlink\)/);
    expect(Object.keys(await treeDigest(join(dir, 'outside')))).toEqual(['c.bin']);
    expect(Object.keys(await treeDigest(join(dir, 'elsewhere')))).toEqual(['target.bin']);
    expect(await readdir(join(data, 'pack'))).toEqual(expect.arrayContaining(['mine.txt', 'sub', 'other']));
    await expect(stat(join(data, 'pack', 'a.bin'))).rejects.toThrow();
    // Nothing there at all: nothing deleted, nothing refused.
    expect(await deleteTorrentData(meta, join(dir, 'nowhere'))).toEqual({ deleted: 0, missing: 4, kept: [] });
  });
});

describe('torrent manager', () => {
  it('adds, pauses, resumes, re-checks and removes torrents of a session kept on disk', async () => {
    dir = await tempDir();
    const MiB = 1024 * 1024;
    const { proc: tracker, port: trackerPort } = await builtInTracker(['--bind', '::1', '--http']);
    await makeTree(join(dir, 'seed', 'payload'), { 'one.bin': 3 * MiB, 'two/three.bin': MiB });
    const torrent = join(dir, 'payload.torrent');
    const made = await runCli(['create', join(dir, 'seed', 'payload'), '-o', torrent, '--piece-length', '64K', '--tracker', `http://[::1]:${trackerPort}/announce`]);
    expect(made.code, made.stderr).toBe(0);
    const seed = sixswarm(['seed', torrent, join(dir, 'seed'), '--port', '0', '--json', '--no-ipv4', '--max-up', '1M', '--announce-ip', 'never'], {
      env: { SIXSWARM_STATE_DIR: join(dir, 'seed-state') },
      label: 'seed',
    });
    await seed.event('checked');
    await tracker.waitFor((e) => e.type === 'announce' && e.left === 0, 15_000, 'the seed announcing');

    const open = () => {
      const engine = new Engine({ port: 0, ipv4: true, ipv6: true, stateDir: join(dir!, 'state'), trackers: { announceIp: 'never' } });
      const feed = new StatusFeed(engine);
      const events: EngineEvent[] = [];
      feed.on('event', (e) => events.push(e));
      const store = new SessionStore(join(dir!, 'session'));
      return { engine, feed, events, store, manager: new Session({ engine, feed, store, downloadDir: join(dir!, 'downloads') }) };
    };
    let s = open();
    await s.engine.listen();
    expect(await s.manager.open()).toEqual([]);
    await expect(s.manager.add('magnet:?xt=urn:btih:nothex')).rejects.toThrow(/bad magnet link/);
    await expect(s.manager.add(join(dir, 'missing.torrent'))).rejects.toThrow(/no such torrent file/);
    await expect(s.manager.add('  ')).rejects.toThrow(/type the path of a \.torrent file or a magnet link/);

    const added = await s.manager.add(torrent);
    const hash = added.infoHash;
    await expect(s.manager.add(torrent)).rejects.toThrow(/already in the session/);
    const one = () => s.manager.summaries().find((t) => t.infoHash === hash)!;
    // Mid-download (the seed gives 1 MiB/s), pause: peers go, the tracker hears `stopped`.
    await waitUntil(() => one().haveBytes > MiB / 2 && one().state === 'downloading', 30_000, () => JSON.stringify(one()));
    expect(one().peers6).toBe(1);
    await s.manager.pause(hash);
    expect(one()).toMatchObject({ state: 'paused', peers: 0, downRate: 0 });
    const pausedAt = one().haveBytes;
    expect(pausedAt).toBeLessThan(4 * MiB);
    await tracker.waitFor((e) => e.type === 'announce' && e.event === 'stopped' && e.left !== 0, 10_000, 'a stopped announce');
    await seed.event('peer-disconnected', 10_000);
    const saved = JSON.parse(await readFile(join(dir, 'session', 'session.json'), 'utf8'));
    expect(saved.torrents).toEqual([expect.objectContaining({ infoHash: hash, paused: true, haveBytes: pausedAt })]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(one().haveBytes).toBe(pausedAt); // nothing moves while paused

    await s.manager.resume(hash);
    await waitUntil(() => one().state === 'seeding', 30_000, () => JSON.stringify(one()));
    expect(await treeDigest(join(dir, 'downloads', 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
    await s.manager.close();

    // A new manager on the same session: the torrent comes back running, its data trusted (not hashed).
    s = open();
    await s.engine.listen();
    expect(await s.manager.open()).toEqual([]);
    await waitUntil(() => s.events.find((e) => e.event === 'checked'), 15_000, () => 'checked after resuming the session');
    expect(s.events.find((e) => e.event === 'checked')).toMatchObject({ hashed: 0, have: 64 });
    await waitUntil(() => one().state === 'seeding', 10_000, () => JSON.stringify(one()));

    await s.manager.recheck(hash);
    await waitUntil(() => s.events.filter((e) => e.event === 'checked').length === 2, 15_000, () => 'a second check');
    expect(s.events.filter((e) => e.event === 'checked')[1]).toMatchObject({ hashed: 64, valid: 64 });

    expect(await s.manager.remove(hash, false)).toBeUndefined();
    expect(s.manager.summaries()).toEqual([]);
    expect(await treeDigest(join(dir, 'downloads', 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
    expect(JSON.parse(await readFile(join(dir, 'session', 'session.json'), 'utf8')).torrents).toEqual([]);
    expect(await readdir(join(dir, 'session', 'torrents'))).toEqual([]);

    await s.manager.add(torrent);
    await waitUntil(() => one()?.state === 'seeding', 15_000, () => JSON.stringify(s.manager.summaries()));
    await writeFile(join(dir, 'downloads', 'payload', 'my-notes.txt'), 'mine');
    const r = await s.manager.remove(hash, true);
    expect(r).toEqual({ deleted: 2, missing: 0, kept: [] });
    expect(await readdir(join(dir, 'downloads', 'payload'))).toEqual(['my-notes.txt']);

    // A magnet: the metadata comes from the seed, then the data; the name follows the metadata.
    const magnet = toMagnet(await readTorrentFile(torrent)).replace(/&dn=[^&]*/, '');
    const fromMagnet = await s.manager.add(magnet);
    expect(fromMagnet).toMatchObject({ infoHash: hash, name: hash });
    await expect(s.manager.add(magnet)).rejects.toThrow(/already in the session/);
    await waitUntil(() => one()?.state === 'seeding', 30_000, () => JSON.stringify(s.manager.summaries()));
    expect(one().name).toBe('payload');
    expect(await treeDigest(join(dir, 'downloads', 'payload'))).toEqual({ ...(await treeDigest(join(dir, 'seed', 'payload'))), 'my-notes.txt': expect.any(String) });
    await s.manager.close();
    // Reopened, it starts from the metadata kept in the state folder: no fetching again.
    s = open();
    await s.engine.listen();
    expect(await s.manager.open()).toEqual([]);
    expect(one().state).toBe('checking');
    await waitUntil(() => one().state === 'seeding', 15_000, () => JSON.stringify(one()));
    expect(s.events.some((e) => e.event === 'metadata')).toBe(false);
    await s.manager.close();
  });

  it('obeys the rules download and seed obey: the torrent lock names the other process, and a seed goal pauses the torrent', async () => {
    dir = await tempDir();
    await makeTree(join(dir, 'data', 'p'), { 'a.bin': 300_000 });
    const torrent = join(dir, 'p.torrent');
    expect((await runCli(['create', join(dir, 'data', 'p'), '-o', torrent, '--piece-length', '64K'])).code).toBe(0);
    const stateDir = join(dir, 'state');
    // Another sixswarm seeds this torrent from the very folder the session downloads into.
    const other = sixswarm(['seed', torrent, join(dir, 'data'), '--port', '0', '--json', '--no-trackers', '--no-dht'], { env: { SIXSWARM_STATE_DIR: stateDir } });
    await other.event('checked');
    const engine = new Engine({ port: 0, ipv4: false, ipv6: true, listenHost: { 6: '::1' }, stateDir, seedGoal: { seconds: 1 } });
    const feed = new StatusFeed(engine);
    const events: EngineEvent[] = [];
    feed.on('event', (e) => events.push(e));
    const session = new Session({ engine, feed, store: new SessionStore(join(dir, 'session')), downloadDir: join(dir, 'data') });
    await engine.listen();
    expect(await session.open()).toEqual([]);
    const hash = (await session.add(torrent)).infoHash;
    const one = () => session.summaries().find((t) => t.infoHash === hash)!;
    await waitUntil(() => one().state === 'error', 10_000, () => JSON.stringify(one()));
    expect(one().error).toMatch(new RegExp(`another sixswarm is already running this torrent in .*: pid ${other.proc.pid}, .*Stop it first \\(kill ${other.proc.pid}\\)`));
    other.proc.kill();
    expect(await other.exited).toBe(0);

    // The other one gone, the torrent runs; it seeds for its second and is paused.
    await session.resume(hash);
    await waitUntil(() => one().state === 'seeding', 10_000, () => JSON.stringify(one()));
    await waitUntil(() => one().state === 'paused', 10_000, () => JSON.stringify(one()));
    expect(events).toContainEqual(expect.objectContaining({ event: 'seed-goal', torrent: hash, reason: 'seeded for 1 s since completion (--seed-time)' }));
    await session.close();
    expect(JSON.parse(await readFile(join(dir, 'session', 'session.json'), 'utf8')).torrents).toEqual([expect.objectContaining({ infoHash: hash, paused: true })]);
  });

  it('--max-up holds a seed to its rate', async () => {
    dir = await tempDir();
    const MiB = 1024 * 1024;
    await makeTree(join(dir, 'seed', 'p'), { 'a.bin': 3 * MiB });
    const torrent = join(dir, 'p.torrent');
    expect((await runCli(['create', join(dir, 'seed', 'p'), '-o', torrent, '--piece-length', '64K'])).code).toBe(0);
    const seed = sixswarm(['seed', torrent, join(dir, 'seed'), '--port', '0', '--json', '--no-trackers', '--max-up', '1M'], { env: { SIXSWARM_STATE_DIR: join(dir, 's1') } });
    const port = (await seed.waitFor((e) => e.event === 'listening' && e.family === 6)).port as number;
    await seed.event('checked');
    const leech = sixswarm(['download', torrent, '-o', join(dir, 'l'), '--port', '0', '--json', '--no-trackers', '--peer', `[::1]:${port}`, '--exit-on-complete'], { env: { SIXSWARM_STATE_DIR: join(dir, 's2') } });
    const connected = Date.parse((await leech.event('peer-connected')).time as string);
    const done = Date.parse((await leech.event('complete', 30_000)).time as string);
    expect(await leech.exited).toBe(0);
    // 3 MiB at 1 MiB/s, less the first burst (a quarter of a second's worth): at least 2.5 s.
    expect(done - connected).toBeGreaterThanOrEqual(2500);
    expect(done - connected).toBeLessThan(8000);
  });
});
