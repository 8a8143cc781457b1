/**
 * Local service discovery (BEP 14) against libtorrent 2.0 (python3-libtorrent, LSD on and
 * nothing else: no tracker, no DHT, no peer given to either side) on one LAN segment in
 * namespaces, over IPv4 alone, IPv6 alone and both, in both directions, the data verified:
 *
 *  - sixswarm downloads from a libtorrent seed that cannot dial out: the connection can only be
 *    sixswarm's dial of the address it heard announced (source `lsd` in --json);
 *  - libtorrent downloads from a sixswarm seed while taking no incoming connection: it can only
 *    have dialed the address sixswarm announced (libtorrent lists the peer as learned by LSD).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lanPerTest, type LanHost } from '../support/lsd-lan.js';
import { netnsUnavailable } from '../support/netns.js';
import { libtorrentPeer, PYTHON } from '../support/peers.js';
import { seedPayload, sixswarm, treeDigest, type JsonEvent } from '../support/sixswarm.js';

function libtorrentMissing(): string | undefined {
  try {
    execFileSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'python3-libtorrent is not installed';
  }
}

const skip = netnsUnavailable() ?? libtorrentMissing();
const { newLan, newDir } = lanPerTest();

type Variant = 'ipv4' | 'ipv6' | 'dual';
const FAMILIES: Record<Variant, (4 | 6)[]> = { ipv4: [4], ipv6: [6], dual: [4, 6] };

async function setUp(variant: Variant) {
  const d = await newDir('sixswarm-lsd-');
  const families = FAMILIES[variant];
  const lan = await newLan(['six', 'lt'].map((label) => ({ label, ipv4: families.includes(4), ipv6: families.includes(6) })));
  const [six, lt] = lan.hosts as [LanHost, LanHost];
  const { torrent } = await seedPayload(d, { 'a.bin': 3_000_000, 'sub/b.bin': 700_001 }, 65536);
  return { six, lt, torrent, families, d };
}

/** sixswarm in `host`, LSD on (the suite turns it off everywhere else), no tracker, no DHT, no --peer. */
function sixswarmIn(host: LanHost, args: string[], d: string) {
  return sixswarm([...args, '--port', '6881', '--no-dht', '--no-trackers', '--json'], {
    wrap: ['ip', 'netns', 'exec', host.ns.name],
    env: { SIXSWARM_LSD: '', SIXSWARM_STATE_DIR: join(d, `state-${host.ns.name}`) },
  });
}

/** The interfaces its `lsd-listening` names per family: eth0 where the LAN has that family, none elsewhere. */
function expectJoined(e: JsonEvent, families: (4 | 6)[], host: LanHost): void {
  const interfaces = e.interfaces as Record<string, { name: string; address: string }[]>;
  expect(interfaces['4']).toEqual(families.includes(4) ? [{ name: 'eth0', address: host.v4 }] : []);
  expect(interfaces['6']).toEqual(families.includes(6) ? [{ name: 'eth0', address: host.v6 }] : []);
}

describe.skipIf(skip)('LSD with libtorrent on one LAN segment', () => {
  for (const variant of ['ipv4', 'ipv6', 'dual'] as const) {
    it(`${variant}: sixswarm hears a libtorrent seed that cannot dial out, dials it and downloads`, async () => {
      const { six, lt, torrent, families, d } = await setUp(variant);
      const seed = libtorrentPeer({ torrent, save: join(d, 'seed'), port: 6881, listen: lt.listen, lsd: true, outgoingTcp: false, wrap: ['ip', 'netns', 'exec', lt.ns.name] });
      await seed.event('checked', 20_000);
      const leech = sixswarmIn(six, ['download', torrent, '-o', join(d, 'dl'), '--exit-on-complete'], d);
      expectJoined(await leech.event('lsd-listening', 15_000), families, six);
      expect(await leech.event('lsd', 15_000)).toMatchObject({ announcing: true });
      const connected = await leech.waitFor((e) => e.event === 'peer-connected', 45_000, 'a peer');
      expect(connected).toMatchObject({ source: 'lsd', direction: 'out', client: expect.stringMatching(/^-LT20/) });
      expect(families).toContain(connected.family);
      expect(connected.address).toBe(connected.family === 6 ? `[${lt.v6}]:6881` : `${lt.v4}:6881`);
      await leech.event('complete', 60_000);
      expect(await leech.exitCode(15_000)).toBe(0);
      expect(await treeDigest(join(d, 'dl', 'payload'))).toEqual(await treeDigest(join(d, 'seed', 'payload')));
      // Only what LSD found was ever a candidate.
      expect(leech.events.filter((e) => e.event === 'peer-connected' || e.event === 'peer-unreachable').every((e) => e.source === 'lsd')).toBe(true);
    });

    it(`${variant}: libtorrent taking no incoming connection hears a sixswarm seed, dials it and downloads`, async () => {
      const { six, lt, torrent, families, d } = await setUp(variant);
      const leech = libtorrentPeer({ torrent, save: join(d, 'dl'), port: 6881, listen: lt.listen, lsd: true, incomingTcp: false, wrap: ['ip', 'netns', 'exec', lt.ns.name] });
      await leech.event('checked', 20_000);
      const seed = sixswarmIn(six, ['seed', torrent, join(d, 'seed')], d);
      expectJoined(await seed.event('lsd-listening', 15_000), families, six);
      const done = await leech.event('complete', 60_000);
      expect(done.failed).toBe(0);
      expect(await treeDigest(join(d, 'dl', 'payload'))).toEqual(await treeDigest(join(d, 'seed', 'payload')));
      // libtorrent dialed out, to an address it learned by LSD: ours.
      const ours = new Set(families.map((f) => (f === 6 ? `${six.v6}:6881` : `${six.v4}:6881`)));
      const peers = leech.events.filter((e) => e.event === 'peers');
      expect(peers.flatMap((e) => e.lsd as string[]).some((a) => ours.has(a)), JSON.stringify(peers)).toBe(true);
      expect(peers.flatMap((e) => e.peers as string[]).some((p) => /^out \S+ sixswarm /.test(p))).toBe(true);
      const incoming = await seed.waitFor((e) => e.event === 'peer-connected', 5000, 'the libtorrent peer');
      expect(incoming).toMatchObject({ direction: 'in', source: 'incoming' });
      seed.kill();
      expect(await seed.exitCode()).toBe(0);
    });
  }
});
