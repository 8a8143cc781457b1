/**
 * A hostile host on the LAN floods both LSD groups as fast as it can: announces naming our
 * torrent at hundreds of ports (with two dozen random info hashes each), garbage, and datagrams
 * far over any announce's size. Meanwhile sixswarm starts a download on the same segment:
 *  - an honest libtorrent seed (which cannot dial out, so only our dial of what we heard counts)
 *    is still found and the download completes, the data verified;
 *  - our own announces still go out (a listener on the honest host hears them);
 *  - the flooder's addresses give at most a few candidates (4 per address), whatever it names;
 *  - memory stays put and the CPU spent is reported, while the flood goes on after completion.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { buildAnnounce } from '../../src/lsd/message.js';
import { lanPerTest, listenLsd, lsdDatagrams, sendLsd, type LanHost } from '../support/lsd-lan.js';
import { netnsUnavailable } from '../support/netns.js';
import { libtorrentPeer } from '../support/peers.js';
import { seedPayload, sixswarm, treeDigest } from '../support/sixswarm.js';

const skip = netnsUnavailable();
const { newLan, newDir } = lanPerTest();

/** UDP datagrams the kernel of a host delivered to sockets, and dropped for a full receive buffer (both families). */
async function udpCounters(host: LanHost): Promise<{ delivered: number; dropped: number }> {
  const snmp = await host.ns.must('cat', ['/proc/net/snmp', '/proc/net/snmp6']);
  const udp = snmp.split('\n').filter((l) => l.startsWith('Udp: '));
  const names = udp[0]!.split(/\s+/);
  const values = udp[1]!.split(/\s+/).map(Number);
  const v4 = (name: string) => values[names.indexOf(name)]!;
  const v6 = (name: string) => Number(new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(snmp)?.[1] ?? 0);
  return { delivered: v4('InDatagrams') + v6('Udp6InDatagrams'), dropped: v4('RcvbufErrors') + v6('Udp6RcvbufErrors') };
}

/** Resident memory and CPU seconds (user + system) of a process. */
async function usage(pid: number): Promise<{ rssMiB: number; cpuS: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  // Fields 14 and 15 of stat (utime, stime), in clock ticks (100 a second on Linux).
  return { rssMiB: Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024, cpuS: (Number(stat[11]) + Number(stat[12])) / 100 };
}

describe.skipIf(skip)('LSD under a flood from one LAN host', () => {
  it('still finds the honest libtorrent seed and downloads, still announces, takes few candidates from the flooder, and keeps its memory', async () => {
    const dir = await newDir('sixswarm-lsd-flood-');
    const lan = await newLan([{ label: 'six' }, { label: 'lt' }, { label: 'evil' }]);
    const [six, lt, evil] = lan.hosts as [LanHost, LanHost, LanHost];
    const { torrent, meta } = await seedPayload(dir, { 'a.bin': 2_000_000 }, 65536);
    const observer = await listenLsd(lt, [4, 6]);

    const texts: string[] = [];
    for (let i = 0; i < 300; i++) {
      const hashes = [meta.infoHash, ...Array.from({ length: 24 }, () => randomBytes(20))];
      texts.push(buildAnnounce({ family: i % 2 ? 6 : 4, port: 1024 + i, infoHashes: hashes, cookie: randomBytes(4).toString('hex') }).toString('latin1'));
    }
    for (let i = 0; i < 30; i++) texts.push(randomBytes(200 + i * 40).toString('latin1'));
    for (let i = 0; i < 5; i++) texts.push(`BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\n${'Infohash: '.padEnd(8000, 'f')}\r\n\r\n`);
    const flood = await sendLsd(evil, { families: [4, 6], texts, repeat: 0 });
    const floodStart = Date.now();
    await sleep(1000);

    const seed = libtorrentPeer({ torrent, save: join(dir, 'seed'), port: 6881, listen: lt.listen, lsd: true, outgoingTcp: false, wrap: ['ip', 'netns', 'exec', lt.ns.name] });
    await seed.event('checked', 20_000);
    const leech = sixswarm(['download', torrent, '-o', join(dir, 'dl'), '--port', '6881', '--no-dht', '--no-trackers', '--json'], {
      wrap: ['ip', 'netns', 'exec', six.ns.name],
      env: { SIXSWARM_LSD: '', SIXSWARM_STATE_DIR: join(dir, 'state') },
    });
    await leech.event('lsd-listening', 15_000);
    const started = await usage(leech.proc.pid!);
    const connected = await leech.waitFor((e) => e.event === 'peer-connected' && (e.address === `${lt.v4}:6881` || e.address === `[${lt.v6}]:6881`), 60_000, 'the libtorrent seed');
    expect(connected).toMatchObject({ source: 'lsd', direction: 'out' });
    await leech.event('complete', 60_000);
    expect(await treeDigest(join(dir, 'dl', 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));

    // The flood goes on for 10 s more with the download done.
    const before = await usage(leech.proc.pid!);
    const udpBefore = await udpCounters(six);
    const t0 = Date.now();
    await sleep(10_000);
    const after = await usage(leech.proc.pid!);
    const udpAfter = await udpCounters(six);
    const seconds = (Date.now() - t0) / 1000;
    expect(leech.proc.exitCode).toBeNull();

    // Our announces went out under the flood, with our port and the torrent.
    const ours = lsdDatagrams(observer).filter((d) => d.from === six.v4 || d.from === six.v6);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.every((d) => d.text.includes('\r\nPort: 6881\r\n') && d.text.includes(`Infohash: ${meta.infoHashHex}`))).toBe(true);

    // What the flooder named became a few candidates at most: 4 per address (it has two), plus the seed's two.
    const progress = leech.events.filter((e) => e.event === 'progress');
    const most = Math.max(...progress.map((e) => e.candidates as number));
    expect(most).toBeLessThanOrEqual(10);
    expect(Math.max(...progress.map((e) => e.refusedCandidates as number))).toBeGreaterThan(0);
    const flooderDials = leech.events.filter((e) => e.event === 'peer-unreachable' && [`${evil.v4}:`, `[${evil.v6}]:`].some((a) => String(e.address).startsWith(a)));

    await flood.stop('SIGTERM');
    const sent = flood.json<{ sent: number }>().find((l) => typeof l.sent === 'number')?.sent ?? 0;
    leech.kill();
    expect(await leech.exitCode()).toBe(0);
    const floodS = (Date.now() - floodStart) / 1000;
    console.log(
      `LSD flood: the flooder sent ${sent} datagrams (about ${Math.round(sent / floodS)}/s over the run); ` +
        `sixswarm RSS ${started.rssMiB.toFixed(1)} MiB at start, ${before.rssMiB.toFixed(1)} after the download, ${after.rssMiB.toFixed(1)} after 10 s more flood; ` +
        `CPU ${(((after.cpuS - before.cpuS) / seconds) * 100).toFixed(0)}% of a core during those 10 s, while its host's kernel delivered ${Math.round((udpAfter.delivered - udpBefore.delivered) / seconds)} UDP datagrams/s ` +
        `to its sockets and dropped ${Math.round((udpAfter.dropped - udpBefore.dropped) / seconds)}/s for a full buffer; ${flooderDials.length} dials to the flooder's ports; at most ${most} candidates`,
    );
    expect(sent).toBeGreaterThan(10_000);
    expect(after.rssMiB - started.rssMiB).toBeLessThan(64);
  });
});
