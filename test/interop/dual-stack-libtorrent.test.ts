/**
 * One peer, one connection, against a real dual-stack client: a python3-libtorrent seed listens
 * on 127.0.0.1 and [::1] and announces both to one tracker (a name with an A and an AAAA record),
 * so sixswarm hears of it at both addresses, from two replies. sixswarm connects once, over IPv6
 * (Happy Eyeballs' preference), recognises the IPv4 address as the same peer, and never churns
 * the working connection (libtorrent drops the older connection of a peer that dials it twice).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { privateHosts } from '../support/hosts.js';
import { libtorrentPeer, waitUntil } from '../support/peers.js';
import { builtInTracker, cleanUpAfterEach, makeTree, runCli, sixswarm, tempDir, treeDigest } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

describe('a dual-stack libtorrent seed known at both its addresses', () => {
  it('gets one connection, over IPv6, kept for the whole download', async () => {
    dir = await tempDir();
    await makeTree(join(dir, 'seed', 'payload'), { 'a.bin': 3_000_000 });
    const { proc: tracker, port: trackerPort } = await builtInTracker(['--bind', '127.0.0.1', '--bind', '::1', '--http']);
    const torrent = join(dir, 'p.torrent');
    expect((await runCli(['create', join(dir, 'seed', 'payload'), '-o', torrent, '--tracker', `http://dual.test:${trackerPort}/announce`])).code).toBe(0);
    const wrap = await privateHosts(dir, ['127.0.0.1 dual.test', '::1 dual.test']);
    const lt = libtorrentPeer({ torrent, save: join(dir, 'seed'), port: 46881, listen: ['127.0.0.1', '[::1]'], wrap });
    expect((await lt.event('checked', 20_000)).seeding).toBe(true);
    // The tracker has it at both addresses.
    await tracker.waitFor((e) => e.type === 'announce' && e.peer === '127.0.0.1:46881', 30_000, 'the seed announcing over IPv4');
    await tracker.waitFor((e) => e.type === 'announce' && e.peer === '[::1]:46881', 30_000, 'the seed announcing over IPv6');

    // A slow download (2 MiB/s): the connection has to hold for more than a second.
    const leech = sixswarm(['download', torrent, '-o', join(dir, 'leech'), '--port', '0', '--no-dht', '--json', '--max-down', '2M', '--exit-on-complete'], {
      env: { SIXSWARM_STATE_DIR: join(dir, 'state') },
      wrap,
      label: 'leech',
    });
    await leech.event('complete', 60_000);
    expect(await leech.exited).toBe(0);
    const connected = leech.events.filter((e) => e.event === 'peer-connected');
    expect(connected).toEqual([expect.objectContaining({ address: '[::1]:46881', family: 6, direction: 'out' })]);
    expect(leech.events.filter((e) => e.event === 'peer-disconnected' && /duplicate/.test(String(e.reason)))).toEqual([]);
    // Nothing the user needs to worry about: its IPv4 address is the same peer, not an unreachable one.
    const last = leech.events.filter((e) => e.event === 'progress').at(-1)!;
    expect(last.unreachable).toBe(0);
    // libtorrent saw one peer come in, and never dropped it for a duplicate.
    await waitUntil(() => lt.events.some((e) => e.event === 'peers'), 5000, () => 'libtorrent lists its peers');
    expect(lt.events.filter((e) => e.event === 'peer-disconnected' && /duplicate/i.test(String(e.message)))).toEqual([]);
    expect(await treeDigest(join(dir, 'leech', 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
    lt.kill('SIGTERM');
  });
});
