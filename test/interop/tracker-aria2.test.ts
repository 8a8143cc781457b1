/**
 * aria2c (1.36) downloads from a sixswarm seed that it found only through the built-in tracker,
 * over IPv6: the torrent's one tracker is http://[::1], the seed listens on IPv6 only, and aria2c
 * has no way to be told a peer (no DHT, LPD or PEX here).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aria2Leech, logTiming, since, stopSeed, waitListening, waitOutput } from '../support/peers.js';
import { builtInTracker, cleanUpAfterEach, freePort, makeTree, runCli, sixswarm, tempDir, treeDigest } from '../support/sixswarm.js';

const MiB = 1024 * 1024;
const TREE = { 'a.bin': 3 * MiB + 4321, 'sub/b.bin': 500_003 };
/** aria2c's peer id prefix ("A2-"), as the tracker prints peer ids: hex. */
const ARIA2_PEER_ID = Buffer.from('A2-').toString('hex');

let dir: string | undefined;
cleanUpAfterEach(() => dir);

describe('aria2c finds a sixswarm seed through the built-in tracker over IPv6', () => {
  it('downloads identical files from it', async () => {
    dir = await tempDir('sixswarm-tracker-aria2-');
    const d = dir;
    const tracker = await builtInTracker(['--bind', '::1', '--http']);
    const url = `http://[::1]:${tracker.port}/announce`;
    await makeTree(join(d, 'seed', 'payload'), TREE);
    const torrent = join(d, 'p.torrent');
    const made = await runCli(['create', join(d, 'seed', 'payload'), '-o', torrent, '-t', url, '-l', '256K']);
    expect(made.code, made.stderr).toBe(0);

    const seed = sixswarm(['seed', torrent, join(d, 'seed'), '--port', '0', '--no-ipv4', '--json', '--state-dir', join(d, 'state')], { label: 'sixswarm seed' });
    const seedPort = await seed.port();
    await seed.waitFor((e) => e.event === 'tracker' && e.family === 6 && !e.error, 15_000, 'an IPv6 announce');

    const t0 = Date.now();
    const ariaPort = await freePort();
    const leech = aria2Leech({ torrent, dir: join(d, 'leech'), port: ariaPort, log: join(d, 'aria2.log') });
    await waitListening('::1', ariaPort, leech);
    await waitOutput(leech, /Download complete/, 30_000);
    logTiming('sixswarm seed -> aria2c, found through the tracker over IPv6', TREE['a.bin'] + TREE['sub/b.bin'], since(t0));
    expect(await leech.exited, `aria2c exit code\n${leech.stdoutRaw.slice(-3000)}`).toBe(0);
    expect(await treeDigest(join(d, 'leech', 'payload'))).toEqual(await treeDigest(join(d, 'seed', 'payload')));

    // The seed was listed as [::1]:port; aria2c announced over IPv6 and got it back in peers6.
    expect(tracker.proc.events.find((e) => e.type === 'announce' && e.peer === `[::1]:${seedPort}`)).toMatchObject({ family: 6, event: 'started', left: 0 });
    const ariaStarted = tracker.proc.events.find((e) => e.type === 'announce' && String(e.peerId).startsWith(ARIA2_PEER_ID) && e.event === 'started');
    expect(ariaStarted, JSON.stringify(tracker.proc.events)).toMatchObject({ family: 6, peer: `[::1]:${ariaPort}`, returned4: 0, returned6: 1 });
    // ... and dialed it: the seed saw exactly one peer, incoming over IPv6 (aria2c is the only other
    // BitTorrent program running here).
    expect(seed.events.filter((e) => e.event === 'listening').map((e) => e.family)).toEqual([6]);
    const connected = seed.events.filter((e) => e.event === 'peer-connected');
    expect(connected, seed.tail(20)).toEqual([expect.objectContaining({ family: 6, direction: 'in', address: expect.stringMatching(/^\[::1\]:\d+$/) })]);
    expect(await stopSeed(seed)).toBeGreaterThanOrEqual(TREE['a.bin'] + TREE['sub/b.bin']);
  });
});
