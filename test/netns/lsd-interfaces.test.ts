/**
 * LSD follows the host's interfaces, as a laptop's change: sixswarm started while its only LAN
 * link is down announces nothing (no interface, nowhere to send), and once the link comes up it
 * joins both groups there within a look (10 s) and announces at once; when the link's IPv4
 * address then changes, it joins again under the new one and still hears what is announced on
 * the LAN (it dials the peer named). And when another program holds port 6771 alone, LSD says so
 * per family and the torrent says it is not announced, and runs on.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { announceFrom, countDials, lanPerTest, listenLsd, lsdDatagrams, type LanHost } from '../support/lsd-lan.js';
import { netnsUnavailable } from '../support/netns.js';
import { seedPayload, sixswarm, type JsonEvent } from '../support/sixswarm.js';

const skip = netnsUnavailable();
const { newLan, newDir } = lanPerTest();
type Joined = Record<string, { name: string; address: string }[]>;

describe.skipIf(skip)('LSD and changing interfaces', () => {
  it('nothing while the link is down; joined and announcing within a look once it is up; joined again when its address changes', async () => {
    const dir = await newDir('sixswarm-lsd-ifaces-');
    const lan = await newLan([{ label: 'six' }, { label: 'watch' }]);
    const [six, watch] = lan.hosts as [LanHost, LanHost];
    const { torrent, meta } = await seedPayload(dir, { 'a.bin': 100_000 }, 16384);
    const observer = await listenLsd(watch, [4, 6]);
    await six.ns.ip(['link', 'set', 'eth0', 'down']);

    const seed = sixswarm(['seed', torrent, join(dir, 'seed'), '--port', '6881', '--no-dht', '--no-trackers', '--json'], {
      wrap: ['ip', 'netns', 'exec', six.ns.name],
      env: { SIXSWARM_LSD: '', SIXSWARM_STATE_DIR: join(dir, 'state') },
    });
    expect((await seed.event('lsd-listening', 15_000)).interfaces).toEqual({ 4: [], 6: [] });
    await seed.event('lsd', 15_000);
    await sleep(3000);
    expect(lsdDatagrams(observer)).toEqual([]);

    // Up again, its IPv6 address configured anew (Linux drops static IPv6 addresses with the link, as SLAAC would give one back).
    await six.ns.ip(['link', 'set', 'eth0', 'up']);
    const up = Date.now();
    await six.ns.ip(['-6', 'addr', 'replace', `${six.v6}/64`, 'dev', 'eth0', 'nodad']);
    const joined = (e: JsonEvent) => e.event === 'lsd-listening' && (e.interfaces as Joined)['4']![0]?.address === six.v4 && (e.interfaces as Joined)['6']![0]?.address === six.v6;
    expect((await seed.waitFor(joined, 15_000, 'eth0 joined')).interfaces).toEqual({ 4: [{ name: 'eth0', address: six.v4 }], 6: [{ name: 'eth0', address: six.v6 }] });
    await observer.waitForLine((l) => l.includes(`"from":"${six.v4}"`) && l.includes(meta.infoHashHex), { timeoutMs: 5000 });
    await observer.waitForLine((l) => l.includes(`"from":"${six.v6}"`) && l.includes(meta.infoHashHex), { timeoutMs: 5000 });
    expect(Date.now() - up).toBeLessThan(13_000);

    // Another network: the IPv4 address changes.
    await six.ns.ip(['addr', 'del', `${six.v4}/24`, 'dev', 'eth0']);
    await six.ns.ip(['addr', 'add', '192.168.77.50/24', 'dev', 'eth0']);
    await seed.waitFor((e) => e.event === 'lsd-listening' && (e.interfaces as Joined)['4']![0]?.address === '192.168.77.50', 15_000, 'the new address');
    const dials = await countDials(watch, 7003);
    await announceFrom(watch, 7003, meta.infoHash);
    for (let t = 0; t < 50 && dials.count() === 0; t++) await sleep(100);
    expect(dials.count()).toBeGreaterThan(0);
    expect(await seed.waitFor((e) => e.event === 'peer-unreachable' || e.event === 'peer-connected', 10_000, 'the dial to the announced peer')).toMatchObject({ source: 'lsd', address: `${watch.v4}:7003` });
  });

  it('UDP port 6771 held alone by another program: a warning per family saying what to do, the torrent not announced, and running on', async () => {
    const dir = await newDir('sixswarm-lsd-held-');
    const lan = await newLan([{ label: 'six' }, { label: 'watch' }]);
    const [six] = lan.hosts as [LanHost, LanHost];
    const { torrent } = await seedPayload(dir, { 'a.bin': 100_000 }, 16384);
    const holder = six.ns.spawn(process.execPath, ['-e', `
      const dgram = require('dgram');
      let n = 0;
      for (const type of ['udp4', 'udp6']) dgram.createSocket({ type, ipv6Only: type === 'udp6' }).bind(6771, () => { if (++n === 2) console.log('ready'); });
    `]);
    await holder.waitForLine((l) => l === 'ready');
    const seed = sixswarm(['seed', torrent, join(dir, 'seed'), '--port', '6881', '--no-dht', '--no-trackers', '--json'], {
      wrap: ['ip', 'netns', 'exec', six.ns.name],
      env: { SIXSWARM_LSD: '', SIXSWARM_STATE_DIR: join(dir, 'state') },
    });
    for (const f of [4, 6]) {
      const w = await seed.waitFor((e) => e.event === 'warning' && String(e.message).startsWith(`local peer discovery over IPv${f} off`), 15_000, `the IPv${f} warning`);
      expect(w.message).toMatch(/cannot bind UDP port 6771 over IPv\d: .*EADDRINUSE.*\(--no-lsd turns it off\)$/);
    }
    expect(await seed.event('lsd', 15_000)).toMatchObject({ announcing: false, reason: expect.stringMatching(/could not start on this host/) });
    expect(seed.events.some((e) => e.event === 'lsd-listening')).toBe(false);
    await seed.event('complete', 15_000);
  });
});
