/**
 * The terminal UI end to end, in a real terminal (tmux): the real binary downloading from a local
 * seed over [::1] shows its progress bar advancing and the IPv6 peer, takes a rate limit while it
 * runs (t) and keeps a log (l), and q before the end exits 130 leaving no stale frame; in a
 * session, a refused input is shown in the prompt, a .torrent and a magnet are added from the
 * prompt (Tab completing the path), the list is filtered (/) and sorted (s), pause and resume
 * work, q exits 0 and a restart resumes the session; the demo runs by itself to exit 0, in the UI
 * and headless.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toMagnet } from '../../src/metainfo/magnet.js';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { waitUntil } from '../support/peers.js';
import { builtInTracker, cleanUpAfterEach, makeTree, runCli, sixswarm, tempDir, treeDigest } from '../support/sixswarm.js';
import { percentAfter, Tmux } from '../support/tmux.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);
let tmux: Tmux | undefined;
afterEach(async () => {
  await tmux?.kill();
  tmux = undefined;
});

const MiB = 1024 * 1024;

/** A payload, its torrent (announcing to `tracker` when given) and a `sixswarm seed` of it on [::1] uploading at `rate`. */
async function seeded(root: string, name: string, bytes: number, rate: string, tracker?: number) {
  await makeTree(join(root, 'seed', name), { 'data.bin': bytes });
  const torrent = join(root, `${name}.torrent`);
  const args = ['create', join(root, 'seed', name), '-o', torrent, '--piece-length', '32K', ...(tracker ? ['--tracker', `http://[::1]:${tracker}/announce`] : [])];
  expect((await runCli(args)).code).toBe(0);
  const seed = sixswarm(['seed', torrent, join(root, 'seed'), '--port', '0', '--json', '--no-ipv4', '--max-up', rate, '--announce-ip', 'never', ...(tracker ? [] : ['--no-trackers'])], {
    env: { SIXSWARM_STATE_DIR: join(root, `state-seed-${name}`) },
    label: `seed ${name}`,
  });
  const port = (await seed.waitFor((e) => e.event === 'listening' && e.family === 6)).port as number;
  await seed.event('checked');
  return { torrent, seed, port };
}

describe('terminal UI in tmux', () => {
  it('download on a terminal opens the UI: the bar advances, the IPv6 peer shows, q before the end exits 130 leaving no stale frame; --json stays JSON', async () => {
    dir = await tempDir();
    const { torrent, port } = await seeded(dir, 'payload', 3 * MiB, '256K');
    tmux = new Tmux();
    const env = { SIXSWARM_STATE_DIR: join(dir, 'state') };
    await tmux.start('dl', ['download', torrent, '-o', join(dir, 'dl'), '--port', '0', '--no-trackers', '--peer', `[::1]:${port}`], { env });
    await tmux.waitFor('dl', /download payload/);
    await tmux.waitFor('dl', /payload +downloading/);
    const first = await waitUntil(async () => percentAfter(await tmux!.screen('dl'), /payload +downloading/) || undefined, 20_000, () => 'a percentage above 0');
    const later = await waitUntil(async () => {
      const p = percentAfter(await tmux!.screen('dl'), /payload +downloading/);
      return p !== undefined && p > first ? p : undefined;
    }, 20_000, () => `the percentage rising above ${first}`);
    expect(later).toBeGreaterThan(first);
    expect(await tmux.screen('dl')).toMatch(/█+[▏▎▍▌▋▊▉]?·+/);
    await tmux.keys('dl', 'Enter');
    const peers = await tmux.waitFor('dl', /IPv6 — 1 peer/);
    expect(peers).toContain(`[::1]:${port}`);
    expect(peers).toMatch(/sixswarm/);
    // A wider terminal: redrawn for it, peers beside the trackers.
    await tmux.resize('dl', 160, 40);
    await tmux.waitFor('dl', /Peers 1 +Trackers 0/);
    // q before the end is a download stopped unfinished, as Ctrl-C or SIGINT: 130. The UI is
    // erased (no last frame with rates that no longer hold); what stays is where it got to.
    await tmux.keys('dl', 'q');
    expect(await tmux.exitCode('dl')).toBe(130);
    const after = await tmux.screen('dl');
    expect(after).toMatch(/^payload: \d+\.\d% verified \(.* of 3 MiB\)/m);
    expect(after).not.toMatch(/sixswarm download payload|↓|Enter details/);

    // --json on the same terminal: nothing but JSON lines on stdout (notes go to stderr).
    await tmux.start('json', ['download', torrent, '-o', join(dir, 'dl2'), '--port', '0', '--no-trackers', '--json', '--peer', `[::1]:${port}`], { env, width: 400, stderr: join(dir, 'json.err') });
    await tmux.waitFor('json', /"event":"peer-connected"/);
    await tmux.keys('json', 'C-c');
    // Interrupted before it finished (the seed is rate-limited): 130, as the shell reports SIGINT.
    expect(await tmux.exitCode('json')).toBe(130);
    // The terminal echoes the Ctrl-C as ^C where the cursor is; that is not the program's output.
    const lines = (await tmux.screen('json')).split('\n').map((l) => l.replace(/^\^C/, '')).filter((l) => l.trim() && !l.startsWith('[exit'));
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
  });

  it('download: t changes the rate limit while it runs, the rate follows, l shows the log; Ctrl-C exits 130', async () => {
    dir = await tempDir();
    const { torrent, port } = await seeded(dir, 'payload', 16 * MiB, '1M');
    tmux = new Tmux();
    await tmux.start('dl', ['download', torrent, '-o', join(dir, 'dl'), '--port', '0', '--no-trackers', '--peer', `[::1]:${port}`], { env: { SIXSWARM_STATE_DIR: join(dir, 'state') }, width: 100, height: 30 });
    await waitUntil(async () => (percentAfter(await tmux!.screen('dl'), /payload +downloading/) ?? 0) > 3 || undefined, 20_000, () => 'the download under way');
    await tmux.keys('dl', 't');
    await tmux.waitFor('dl', /Rate limits, all torrents together/);
    await tmux.type('dl', '128k');
    await tmux.keys('dl', 'Enter');
    await tmux.waitFor('dl', /↓ \S+ of 128K\/s/);
    // Requests already sent are still answered: then the limit holds.
    await new Promise((r) => setTimeout(r, 6000));
    const from = percentAfter(await tmux.screen('dl'), /payload +downloading/)!;
    await new Promise((r) => setTimeout(r, 5000));
    const to = percentAfter(await tmux.screen('dl'), /payload +downloading/)!;
    // 5 s at 128 KiB/s is 4% of 16 MiB (at the seed's 1 MiB/s it would be 31%).
    expect(to - from).toBeLessThan(7);
    expect(to - from).toBeGreaterThan(1);
    await tmux.keys('dl', 'l');
    const log = await tmux.waitFor('dl', /Log: \d+ messages? of this run/);
    expect(log).toMatch(/\d\d:\d\d:\d\d · info +rate limits for this run: down 128 KiB\/s, up no limit/);
    await tmux.keys('dl', 'C-c');
    expect(await tmux.exitCode('dl')).toBe(130);
  });

  it('ui: Tab completes a path in the add prompt; / filters and s sorts the list', async () => {
    dir = await tempDir();
    await makeTree(join(dir, 'data', 'alpha'), { 'a.bin': 100_000 });
    await makeTree(join(dir, 'data', 'beta'), { 'b.bin': 300_000 });
    await mkdir(join(dir, 'torrents'));
    for (const name of ['alpha', 'beta']) expect((await runCli(['create', join(dir, 'data', name), '-o', join(dir, 'torrents', `${name}.torrent`)])).code).toBe(0);
    tmux = new Tmux();
    const args = ['ui', '--session', join(dir, 'session'), '-o', join(dir, 'downloads'), '--port', '0', '--no-trackers', '--no-dht'];
    await tmux.start('ui', args, { env: { SIXSWARM_STATE_DIR: join(dir, 'state') }, width: 100, height: 30 });
    await tmux.waitFor('ui', /No torrents yet/);
    await tmux.keys('ui', 'a');
    await tmux.type('ui', `${join(dir, 'torr')}`);
    await tmux.keys('ui', 'Tab');
    await tmux.waitFor('ui', new RegExp(`${join(dir, 'torrents')}/ `.replace(/[/.]/g, '\\$&')));
    await tmux.keys('ui', 'Tab');
    await tmux.waitFor('ui', /alpha\.torrent {2}beta\.torrent/); // both listed
    await tmux.type('ui', 'al');
    await tmux.keys('ui', 'Tab');
    await tmux.waitFor('ui', /torrents\/alpha\.torrent +│/); // the input line, completed
    await tmux.keys('ui', 'Enter');
    await tmux.waitFor('ui', /added alpha/);
    await tmux.keys('ui', 'a');
    await tmux.type('ui', join(dir, 'torrents', 'b'));
    await tmux.keys('ui', 'Tab');
    await tmux.waitFor('ui', /torrents\/beta\.torrent +│/);
    await tmux.keys('ui', 'Enter');
    await tmux.waitFor('ui', /added beta/);
    await tmux.waitFor('ui', /alpha[\s\S]*beta/);

    await tmux.keys('ui', '/');
    await tmux.type('ui', 'bet');
    const filtered = await tmux.waitFor('ui', /filter "bet": 1 of 2/);
    expect(filtered).not.toMatch(/^[> ] alpha/m);
    await tmux.keys('ui', 'Escape');
    await tmux.waitFor('ui', /^[> ] alpha[\s\S]*^[> ] beta/m);
    // s: name, progress, down, up, size: the bigger one first.
    await tmux.keys('ui', 's', 's', 's', 's', 's');
    await tmux.waitFor('ui', /sorted by size[\s\S]*^[> ] beta[\s\S]*^[> ] alpha/m);
    await tmux.keys('ui', 'q');
    expect(await tmux.exitCode('ui')).toBe(0);
    expect(await tmux.screen('ui')).toMatch(/session .*: 2 torrents \(2 downloading, 0 seeding, 0 paused\), resume state saved/);
  });

  it('ui --session: refusals in place, add from the prompt (a .torrent and a magnet), pause, resume, quit, and the session resumed', async () => {
    dir = await tempDir();
    const { proc: tracker, port: trackerPort } = await builtInTracker(['--bind', '::1', '--http']);
    const slow = await seeded(dir, 'slow', 4 * MiB, '256K', trackerPort);
    const quick = await seeded(dir, 'quick', MiB, '4M', trackerPort);
    await tracker.waitFor((e) => e.type === 'announce' && e.left === 0, 15_000, 'seeds announcing');
    tmux = new Tmux();
    const session = join(dir, 'session');
    const args = ['ui', '--session', session, '-o', join(dir, 'downloads'), '--port', '0', '--announce-ip', 'never'];
    const env = { SIXSWARM_STATE_DIR: join(dir, 'state') };
    await tmux.start('ui', args, { env, width: 80, height: 24 });
    await tmux.waitFor('ui', /No torrents yet/);

    await tmux.keys('ui', 'a');
    await tmux.waitFor('ui', /Add a torrent/);
    await tmux.type('ui', join(dir, 'nothing.torrent'));
    await tmux.keys('ui', 'Enter');
    await tmux.waitFor('ui', /✗ no such torrent file/);
    await tmux.keys('ui', 'C-u');
    await tmux.waitFor('ui', /Enter add · Tab complete the path · Esc cancel/);
    await tmux.type('ui', slow.torrent);
    await tmux.keys('ui', 'Enter');
    await tmux.waitFor('ui', /· added slow/);
    const first = await waitUntil(async () => percentAfter(await tmux!.screen('ui'), /slow +downloading/) || undefined, 20_000, () => 'slow downloading');

    await tmux.keys('ui', 'Enter');
    const detail = await tmux.waitFor('ui', /IPv6 — 1 peer/);
    expect(detail).toContain(`[::1]:${slow.port}`);
    await tmux.keys('ui', '2');
    await tmux.waitFor('ui', new RegExp(`http://\\[::1\\]:${trackerPort}/announce +IPv6`));
    await tmux.keys('ui', 'Escape');
    await tmux.waitFor('ui', /Enter details/);

    await tmux.keys('ui', 'p');
    await tmux.waitFor('ui', /slow +paused/);
    await slow.seed.event('peer-disconnected', 10_000);
    const paused = percentAfter(await tmux.screen('ui'), /slow +paused/)!;
    expect(paused).toBeGreaterThanOrEqual(first);
    await new Promise((r) => setTimeout(r, 2000));
    expect(percentAfter(await tmux.screen('ui'), /slow +paused/)).toBe(paused);
    await tmux.keys('ui', 'r');
    await tmux.waitFor('ui', /slow +downloading/);
    await waitUntil(async () => (percentAfter(await tmux!.screen('ui'), /slow +downloading/) ?? 0) > paused || undefined, 20_000, () => 'progress after resuming');
    // Paused again, so that it is still incomplete at the restart however slow this machine is.
    await tmux.keys('ui', 'p');
    await tmux.waitFor('ui', /slow +paused/);

    // A magnet from the prompt: the metadata comes from the quick seed, then the data.
    const magnet = toMagnet(await readTorrentFile(quick.torrent));
    await tmux.keys('ui', 'a');
    // Typed only once the prompt is open: keys before that are the list's (p, r, d...).
    await tmux.waitFor('ui', /Add a torrent/);
    await tmux.type('ui', magnet);
    await tmux.keys('ui', 'Enter');
    await tmux.waitFor('ui', /· added quick/);
    await tmux.waitFor('ui', /quick +seeding/, 30_000);
    expect(await treeDigest(join(dir, 'downloads', 'quick'))).toEqual(await treeDigest(join(dir, 'seed', 'quick')));

    await tmux.keys('ui', 'q');
    expect(await tmux.exitCode('ui')).toBe(0);
    const saved = JSON.parse(await readFile(join(session, 'session.json'), 'utf8'));
    expect(saved.torrents.map((t: { name: string; paused: boolean }) => [t.name, t.paused])).toEqual([
      ['slow', true],
      ['quick', false],
    ]);
    const had = saved.torrents[0].haveBytes as number;
    expect(had).toBeGreaterThan(0);
    expect(had).toBeLessThan(4 * MiB);

    // Restarted: both are back as they were (quick seeding, slow paused at its progress); slow resumes from there.
    await tmux.start('ui2', args, { env });
    const back = await tmux.waitFor('ui2', /slow +paused[\s\S]*quick +seeding/, 20_000);
    const before = percentAfter(back, /slow +paused/)!;
    expect(before).toBeCloseTo((had / (4 * MiB)) * 100, 0); // what was saved, shown without touching the data
    await tmux.keys('ui2', 'r');
    await tmux.waitFor('ui2', /slow +(downloading|seeding)/);
    await waitUntil(async () => (percentAfter(await tmux!.screen('ui2'), /slow +(downloading|seeding)/) ?? 0) > before || undefined, 20_000, () => 'slow going on after the restart');
    await tmux.keys('ui2', 'C-c');
    expect(await tmux.exitCode('ui2')).toBe(0);
  });

  it('ui refuses to run without a terminal, and a damaged session is an error that says what to do', async () => {
    dir = await tempDir();
    const r = await runCli(['ui', '--session', join(dir, 's')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sixswarm ui needs a terminal .*sixswarm download --json/);
    const alone = await runCli([]);
    expect(alone.code).toBe(2); // no terminal: the command list, as before
    expect(alone.stderr).toMatch(/Usage: sixswarm <command>/);
    await mkdir(join(dir, 's'));
    await writeFile(join(dir, 's', 'session.json'), '{"version": 1, "torrents": [');
    tmux = new Tmux();
    await tmux.start('bad', ['ui', '--session', join(dir, 's'), '--port', '0'], { env: { SIXSWARM_STATE_DIR: join(dir, 'state') } });
    expect(await tmux.exitCode('bad')).toBe(2);
    expect(await tmux.screen('bad')).toMatch(/session .*session\.json is damaged .*move it away to start an empty session/s);
  });

  it('sixswarm demo in the UI shows progress and IPv6 peers, and exits 0 by itself', async () => {
    tmux = new Tmux();
    await tmux.start('demo', ['demo', '--size', '6M', '--rate', '1M'], { width: 110, height: 32 });
    const first = await waitUntil(async () => percentAfter(await tmux!.screen('demo'), /leecher, IPv6 only/) || undefined, 30_000, () => 'the IPv6-only leecher downloading');
    await waitUntil(async () => (percentAfter(await tmux!.screen('demo'), /leecher, IPv6 only/) ?? 0) > first || undefined, 20_000, () => 'its progress rising');
    await tmux.keys('demo', 'Down', 'Enter');
    const peers = await tmux.waitFor('demo', /IPv6 — [12] peers?/);
    expect(peers).toMatch(/\[::1\]:\d+/);
    expect(peers).not.toMatch(/IPv4 — /); // the IPv6-only leecher has no IPv4 peer
    await tmux.keys('demo', 'Escape');
    expect(await tmux.exitCode('demo', 90_000)).toBe(0);
    const end = await tmux.screen('demo');
    expect(end).toMatch(/leecher, IPv6 only: every piece verified, and its copy matches/);
    const root = /working in (\S+)/.exec(end)![1]!;
    expect(existsSync(root)).toBe(false);
  });

  it('sixswarm demo --headless completes and exits 0, leaving nothing behind', async () => {
    const r = await runCli(['demo', '--headless', '--size', '3M', '--rate', '2M'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    for (const who of ['IPv6 only', 'IPv4 only', 'dual-stack']) expect(r.stdout).toContain(`leecher, ${who}: every piece verified, and its copy matches the payload byte for byte`);
    expect(r.stdout).toMatch(/leecher, IPv6 only: peer \[::1\]:\d+ connected over IPv6/);
    expect(r.stdout).toMatch(/leecher, IPv4 only: peer 127\.0\.0\.1:\d+ connected over IPv4/);
    expect(r.stdout).not.toMatch(/leecher, IPv6 only: peer 127\./);
    // A flawless swarm shows nothing to worry about: no peer counted unreachable (an IPv6-only
    // leecher is never given IPv4 addresses to try, duplicates of a connected peer are no failure).
    expect(r.stdout).not.toMatch(/unreachable/);
    const root = /working in (\S+)/.exec(r.stdout)![1]!;
    expect(existsSync(root)).toBe(false);
  });
});
