/**
 * A sixswarm seed and a sixswarm leecher find each other through a tracker only (no --peer):
 * the built-in tracker over IPv6 only, over IPv4 only, over UDP on [::1] (18-byte peers), and
 * Debian's opentracker, whose build serves IPv4 only (the IPv6 side of announcing must fail as
 * clean tracker events while the download completes over IPv4).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { since, stopSeed, waitListening } from '../support/peers.js';
import { builtInTracker, cleanUpAfterEach, freePort, type JsonEvent, makeTree, runCli, sixswarm, type SixswarmProcess, spawnTracked, tempDir, treeDigest } from '../support/sixswarm.js';

const MiB = 1024 * 1024;
/** Two files, neither a whole number of pieces. */
const TREE = { 'a.bin': 2 * MiB + 333, 'sub/b.bin': 700_001 };

let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** A payload under d/seed/payload and its torrent, whose only tier is `trackers` (comma-separated). */
async function payload(trackers: string): Promise<{ d: string; torrent: string; infoHash: string }> {
  dir = await tempDir('sixswarm-tracker-swarm-');
  const d = dir;
  await makeTree(join(d, 'seed', 'payload'), TREE);
  const torrent = join(d, 'p.torrent');
  const made = await runCli(['create', join(d, 'seed', 'payload'), '-o', torrent, '-t', trackers, '-l', '256K']);
  expect(made.code, made.stderr).toBe(0);
  const infoHash = /infohash ([0-9a-f]{40})/.exec(made.stdout)?.[1];
  expect(infoHash, made.stdout).toBeDefined();
  return { d, torrent, infoHash: infoHash! };
}

const trackerEvents = (p: SixswarmProcess, family?: 4 | 6): JsonEvent[] =>
  p.events.filter((e) => e.event === 'tracker' && (family === undefined || e.family === family));

/**
 * Start the seed, wait until it has announced over `family`, then run the leecher to completion.
 * No --peer anywhere: the leecher can only learn the seed from the tracker.
 */
async function seedThenLeech(d: string, torrent: string, family: 4 | 6, flags: string[]) {
  const seed = sixswarm(['seed', torrent, join(d, 'seed'), '--port', '0', '--json', '--state-dir', join(d, 'state-seed'), ...flags], { label: 'sixswarm seed' });
  const seedPort = await seed.port();
  const announced = await seed.waitFor((e) => e.event === 'tracker' && e.family === family && !e.error, 15_000, `an IPv${family} announce`);
  expect(announced.announce).toBe('started');
  const t0 = Date.now();
  const leech = sixswarm(['download', torrent, '-o', join(d, 'leech'), '--port', '0', '--exit-on-complete', '--json', '--state-dir', join(d, 'state-leech'), ...flags], {
    label: 'sixswarm download',
  });
  await leech.event('complete', 30_000);
  const ms = since(t0);
  expect(await leech.exited, leech.stderr).toBe(0);
  expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
  expect(leech.events.filter((e) => e.event === 'piece-failed' || e.event === 'error')).toEqual([]);
  return { seed, seedPort, leech, ms };
}

/** The leecher dialed the seed at exactly `address` and never talked to anyone over the other family. */
function expectConnectedTo(leech: SixswarmProcess, address: string, family: 4 | 6): void {
  const connected = leech.events.filter((e) => e.event === 'peer-connected');
  expect(connected.length, leech.tail(20)).toBeGreaterThan(0);
  expect(connected[0]).toMatchObject({ address, family, direction: 'out' });
  for (const c of connected) expect(c.family, JSON.stringify(c)).toBe(family);
}

function logTime(what: string, ms: number): void {
  console.info(`[tracker-swarm] ${what}: leecher found the seed and completed in ${(ms / 1000).toFixed(2)} s`);
}

describe('seed and leecher find each other through the built-in tracker', () => {
  it('over IPv6 only (http://[::1])', async () => {
    const tracker = await builtInTracker(['--bind', '::1', '--http']);
    const { d, torrent, infoHash } = await payload(`http://[::1]:${tracker.port}/announce`);
    const { seed, seedPort, leech, ms } = await seedThenLeech(d, torrent, 6, ['--no-ipv4']);
    logTime('IPv6 only, HTTP', ms);

    const got = trackerEvents(leech, 6).find((e) => e.announce === 'started');
    expect(got, leech.tail(20)).toMatchObject({ tracker: `http://[::1]:${tracker.port}/announce`, peers4: 0, peers6: 1, dropped: 0 });
    expect(got!.error).toBeUndefined();
    expectConnectedTo(leech, `[::1]:${seedPort}`, 6);
    // --no-ipv4: nothing announces over IPv4 at all.
    expect(trackerEvents(leech, 4)).toEqual([]);
    expect(trackerEvents(seed, 4)).toEqual([]);
    // The tracker heard both over IPv6 and handed the leecher one IPv6 peer.
    const announces = tracker.proc.events.filter((e) => e.type === 'announce' && e.infoHash === infoHash);
    expect(announces.every((e) => e.family === 6 && e.transport === 'http')).toBe(true);
    expect(announces.find((e) => e.peer === `[::1]:${seedPort}` && e.event === 'started')).toMatchObject({ left: 0 });
    expect(announces.find((e) => e.peer !== `[::1]:${seedPort}` && e.event === 'started')).toMatchObject({ returned4: 0, returned6: 1 });
    // The leecher tells the tracker it finished, even though it exits right away (--exit-on-complete).
    expect(trackerEvents(leech, 6).map((e) => [e.announce, e.error])).toEqual([
      ['started', undefined],
      ['completed', undefined],
      ['stopped', undefined],
    ]);
    const leechPeer = announces.find((e) => e.peer !== `[::1]:${seedPort}`)!.peer;
    expect(announces.filter((e) => e.peer === leechPeer && e.event === 'completed').map((e) => e.left)).toContain(0);
    expect(await stopSeed(seed)).toBeGreaterThanOrEqual(TREE['a.bin'] + TREE['sub/b.bin']);
  });

  it('over IPv4 only (http://127.0.0.1)', async () => {
    const tracker = await builtInTracker(['--bind', '127.0.0.1', '--http']);
    const { d, torrent, infoHash } = await payload(`http://127.0.0.1:${tracker.port}/announce`);
    const { seed, seedPort, leech, ms } = await seedThenLeech(d, torrent, 4, ['--no-ipv6']);
    logTime('IPv4 only, HTTP', ms);

    const got = trackerEvents(leech, 4).find((e) => e.announce === 'started');
    expect(got, leech.tail(20)).toMatchObject({ peers4: 1, peers6: 0, dropped: 0 });
    expect(got!.error).toBeUndefined();
    expectConnectedTo(leech, `127.0.0.1:${seedPort}`, 4);
    expect(trackerEvents(leech, 6)).toEqual([]);
    const announces = tracker.proc.events.filter((e) => e.type === 'announce' && e.infoHash === infoHash);
    expect(announces.every((e) => e.family === 4)).toBe(true);
    expect(announces.find((e) => e.peer !== `127.0.0.1:${seedPort}` && e.event === 'started')).toMatchObject({ returned4: 1, returned6: 0 });
    await stopSeed(seed);
  });

  it('over UDP on [::1]: 18-byte peers, dialed over IPv6; the IPv4 side fails cleanly', async () => {
    const tracker = await builtInTracker(['--bind', '::1', '--udp']);
    const url = `udp://[::1]:${tracker.port}`;
    const { d, torrent, infoHash } = await payload(url);
    // Dual-stack on purpose: the IPv4 announcer has nowhere to go and must stay quiet, not fail.
    const { seed, seedPort, leech, ms } = await seedThenLeech(d, torrent, 6, []);
    logTime('UDP [::1]', ms);

    const got = trackerEvents(leech, 6).find((e) => e.announce === 'started' && !e.error);
    // A BEP 15 reply to an IPv6 client carries 18-byte entries only; each parsed into one IPv6 peer.
    expect(got, leech.tail(20)).toMatchObject({ tracker: url, peers4: 0, peers6: 1, dropped: 0 });
    expectConnectedTo(leech, `[::1]:${seedPort}`, 6);
    // The IPv4 announcer has nothing to do: an IPv6-literal tracker is not for it, and that is no error.
    for (const p of [seed, leech]) expect(trackerEvents(p, 4), p.tail(20)).toEqual([]);
    const announces = tracker.proc.events.filter((e) => e.type === 'announce' && e.infoHash === infoHash);
    expect(announces.length).toBeGreaterThanOrEqual(2);
    expect(announces.every((e) => e.transport === 'udp' && e.family === 6)).toBe(true);
    expect(await stopSeed(seed)).toBeGreaterThan(0);
  });
});

describe('opentracker (Debian build: IPv4 only)', () => {
  it('seed and leecher find each other over IPv4; every IPv6 announce is a clean error event', async () => {
    const port = await freePort();
    const { d, torrent, infoHash } = await payload(`http://127.0.0.1:${port}/announce,http://[::1]:${port}/announce`);
    // It chroots into -d and drops to "nobody": the folder must be world-readable and the
    // whitelist path is relative to the chroot.
    const ot = join(d, 'opentracker');
    await mkdir(ot);
    await chmod(ot, 0o755);
    await writeFile(join(ot, 'whitelist.txt'), `${infoHash}\n`, { mode: 0o644 });
    await writeFile(join(ot, 'ot.conf'), 'access.whitelist /whitelist.txt\n', { mode: 0o644 });
    const tracker = spawnTracked('opentracker', ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-f', join(ot, 'ot.conf'), '-d', ot], { label: 'opentracker' });
    await waitListening('127.0.0.1', port, tracker);

    const { seed, seedPort, leech, ms } = await seedThenLeech(d, torrent, 4, []);
    logTime('opentracker, IPv4', ms);

    const got = trackerEvents(leech, 4).find((e) => e.announce === 'started' && !e.error);
    // opentracker lists the announcer back to itself: the leecher drops its own entry.
    expect(got, leech.tail(20)).toMatchObject({ tracker: `http://127.0.0.1:${port}/announce`, peers4: 2, peers6: 0, dropped: 1 });
    expectConnectedTo(leech, `127.0.0.1:${seedPort}`, 4);
    // Nothing answers over IPv6: [::1] refuses (error events, no crash); the IPv4 literal is never
    // tried over IPv6, nor the [::1] one over IPv4: every IPv4 announce worked.
    for (const p of [seed, leech]) {
      const v6 = trackerEvents(p, 6);
      expect(v6.length, p.tail(20)).toBeGreaterThan(0);
      for (const e of v6) expect(e, JSON.stringify(e)).toMatchObject({ tracker: `http://[::1]:${port}/announce`, error: expect.stringMatching(/ECONNREFUSED/) });
      for (const e of trackerEvents(p, 4)) {
        expect(e.tracker).toBe(`http://127.0.0.1:${port}/announce`);
        expect(e.error, JSON.stringify(e)).toBeUndefined();
      }
    }
    expect(await stopSeed(seed)).toBeGreaterThan(0);
    expect(tracker.proc.exitCode, tracker.stderr).toBeNull();
  });
});
