/**
 * BEP 7 `ipv6=`: a leecher learns a seed's IPv6 address from an IPv4-only HTTP tracker, and
 * that is the only way the two can meet. Three network namespaces (documentation addresses):
 *
 *     seed ns                        tracker ns                        leech ns
 *     st 192.0.2.2/24   <--veth-->   ts 192.0.2.1/24
 *                                    tl 198.51.100.1/24  <--veth-->    lt 198.51.100.2/24
 *                                                                       192.0.2.1/32 via 198.51.100.1
 *     sl 2001:db8::10/64  <---------------- veth ----------------->   ls 2001:db8::20/64
 *
 * The tracker (the built-in one, --honor-ip-params) listens on 192.0.2.1 only and has no IPv6
 * address at all. The tracker ns does not forward, so the leecher can reach the tracker but not
 * the seed's IPv4 address: the seed's IPv6 address, which reached the tracker only as `ipv6=` in
 * an announce over IPv4, is the one address the leecher can download from.
 */
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../support/build.js';
import { createNetns, netnsUnavailable, veth, type Netns } from '../support/netns.js';
import { since, stopSeed } from '../support/peers.js';
import { builtInTracker, makeTree, removeDir, runCli, sixswarm, stopAll, tempDir, treeDigest } from '../support/sixswarm.js';

const SEED_V6 = '2001:db8::10';
const TRACKER_V4 = '192.0.2.1';
const TREE = { 'a.bin': 1_500_000, 'b.bin': 300_001 };

const unavailable = netnsUnavailable();
let dir: string | undefined;
let spaces: Netns[] = [];

beforeAll(ensureBuilt);
afterEach(async () => {
  await stopAll();
  await Promise.all(spaces.map((ns) => ns.destroy()));
  spaces = [];
  await removeDir(dir);
  dir = undefined;
});

async function topology(): Promise<{ tracker: Netns; seed: Netns; leech: Netns }> {
  const tracker = await createNetns('trk');
  spaces.push(tracker);
  const seed = await createNetns('seed');
  spaces.push(seed);
  const leech = await createNetns('leech');
  spaces.push(leech);
  await veth(tracker, 'ts', seed, 'st');
  await veth(tracker, 'tl', leech, 'lt');
  await veth(seed, 'sl', leech, 'ls');
  await tracker.ip(['addr', 'add', `${TRACKER_V4}/24`, 'dev', 'ts']);
  await tracker.ip(['addr', 'add', '198.51.100.1/24', 'dev', 'tl']);
  await seed.ip(['addr', 'add', '192.0.2.2/24', 'dev', 'st']);
  // nodad: usable at once instead of after duplicate address detection.
  await seed.ip(['addr', 'add', `${SEED_V6}/64`, 'dev', 'sl', 'nodad']);
  await leech.ip(['addr', 'add', '198.51.100.2/24', 'dev', 'lt']);
  await leech.ip(['route', 'add', `${TRACKER_V4}/32`, 'via', '198.51.100.1']);
  await leech.ip(['addr', 'add', '2001:db8::20/64', 'dev', 'ls', 'nodad']);
  return { tracker, seed, leech };
}

const inNs = (ns: Netns) => ['ip', 'netns', 'exec', ns.name];

describe.skipIf(unavailable !== undefined)('ipv6= through an IPv4-only tracker (network namespaces)', () => {
  it("the leecher learns the seed's IPv6 address from the tracker and downloads over it", async () => {
    const net = await topology();
    dir = await tempDir('sixswarm-ipv6-param-');
    const d = dir;
    const tracker = await builtInTracker(['--bind', TRACKER_V4, '--http', '--honor-ip-params'], { wrap: inNs(net.tracker) });
    const url = `http://${TRACKER_V4}:${tracker.port}/announce`;
    await makeTree(join(d, 'seed', 'payload'), TREE);
    const torrent = join(d, 'p.torrent');
    const made = await runCli(['create', join(d, 'seed', 'payload'), '-o', torrent, '-t', url, '-l', '64K']);
    expect(made.code, made.stderr).toBe(0);

    // Default --announce-ip auto: the tracker's URL is an IPv4 literal, so it cannot hear our IPv6
    // address any other way.
    const seed = sixswarm(['seed', torrent, join(d, 'seed'), '--port', '0', '--json', '--state-dir', join(d, 'state-seed')], { wrap: inNs(net.seed), label: 'seed' });
    const seedPort = await seed.port();
    await seed.waitFor((e) => e.event === 'tracker' && e.family === 4 && !e.error, 15_000, 'an IPv4 announce');
    const seedAnnounce = tracker.proc.events.find((e) => e.type === 'announce' && e.peer === `192.0.2.2:${seedPort}`);
    expect(seedAnnounce, JSON.stringify(tracker.proc.events)).toMatchObject({
      family: 4,
      event: 'started',
      claimed: { 6: SEED_V6 },
      extra: [`[${SEED_V6}]:${seedPort}`],
      stored: true,
    });
    // An IPv4-literal tracker is simply not announced to over IPv6: no attempt, no error.
    expect(seed.events.filter((e) => e.event === 'tracker' && e.family === 6)).toEqual([]);

    const t0 = Date.now();
    const leech = sixswarm(['download', torrent, '-o', join(d, 'leech'), '--port', '0', '--exit-on-complete', '--json', '--state-dir', join(d, 'state-leech')], {
      wrap: inNs(net.leech),
      label: 'leech',
    });
    await leech.event('complete', 30_000);
    console.info(`[tracker-ipv6-param] leecher found the seed through ipv6= and completed in ${(since(t0) / 1000).toFixed(2)} s`);
    expect(await leech.exited, leech.stderr).toBe(0);
    expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));

    // Over IPv4 the tracker handed out both of the seed's addresses: its IPv4 source and its ipv6=.
    const got = leech.events.find((e) => e.event === 'tracker' && e.family === 4 && e.announce === 'started');
    expect(got, leech.tail(20)).toMatchObject({ tracker: url, peers4: 1, peers6: 1, dropped: 0 });
    expect(got!.error).toBeUndefined();
    // Only the IPv6 one is reachable from here, and that is the one it downloaded from.
    const connected = leech.events.filter((e) => e.event === 'peer-connected');
    expect(connected, leech.tail(20)).toEqual([expect.objectContaining({ address: `[${SEED_V6}]:${seedPort}`, family: 6, direction: 'out' })]);
    expect(seed.events.find((e) => e.event === 'peer-connected')).toMatchObject({ address: expect.stringMatching(/^\[2001:db8::20\]:\d+$/), family: 6, direction: 'in' });
    expect(await stopSeed(seed)).toBeGreaterThanOrEqual(TREE['a.bin'] + TREE['b.bin']);
  });
});
