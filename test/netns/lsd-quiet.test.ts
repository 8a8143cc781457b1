/**
 * When sixswarm stays silent on the LAN, watched by a bare listener joined to both LSD groups on
 * another host of the segment (namespaces, test/support/lsd-lan.ts):
 *  - a public seed announces (the control: the listener hears it, over each family);
 *  - with --no-lsd, or `no-lsd = true` in the config file, not one datagram and no socket on 6771;
 *  - a private torrent (BEP 27) is never announced while a public one beside it is, says why in
 *    --json, and does not dial a peer announced for it on the LAN (the public one does);
 *  - a magnet that turns out private leaves LSD once its metadata says so, and from then on
 *    dials no peer announced for it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { announceFrom, countDials, lanPerTest, listenLsd, lsdDatagrams, type LanHost } from '../support/lsd-lan.js';
import { netnsUnavailable } from '../support/netns.js';
import { RawPeer } from '../support/raw-peer.js';
import { runCli, seedPayload, sixswarm, type SixswarmProcess } from '../support/sixswarm.js';

const skip = netnsUnavailable();
const { newLan, newDir } = lanPerTest();
let dir = '';

/** A sixswarm process in `host` (LSD on: the suite turns it off everywhere else), no tracker, no DHT. */
function sixswarmIn(host: LanHost, args: string[], port: number, env: NodeJS.ProcessEnv = {}): SixswarmProcess {
  return sixswarm([...args, '--port', String(port), '--no-dht', '--no-trackers', '--json'], {
    wrap: ['ip', 'netns', 'exec', host.ns.name],
    env: { SIXSWARM_LSD: '', SIXSWARM_STATE_DIR: join(dir, `state-${port}`), ...env },
  });
}

function seedIn(host: LanHost, torrent: string, port: number, extra: string[] = [], env: NodeJS.ProcessEnv = {}): SixswarmProcess {
  return sixswarmIn(host, ['seed', torrent, join(dir, 'seed'), ...extra], port, env);
}

/** A public torrent of random data (under DIR/seed) and a private one of the same data (p.torrent), with their info hashes. */
async function publicAndPrivate(size: number) {
  const pub = await seedPayload(dir, { 'a.bin': size }, 16384);
  const privTorrent = join(dir, 'p.torrent');
  const made = await runCli(['create', join(dir, 'seed', 'payload'), '-o', privTorrent, '--private', '--piece-length', '16384']);
  expect(made.code, made.stderr).toBe(0);
  const priv = await readTorrentFile(privTorrent);
  expect(priv.private).toBe(true);
  expect(priv.infoHashHex).not.toBe(pub.meta.infoHashHex);
  return { pub, privTorrent, priv };
}

/** UDP sockets bound to port 6771 in a host. */
async function lsdSockets(host: LanHost): Promise<string> {
  return (await host.ns.must('ss', ['-Hlnu', 'sport = :6771'])).trim();
}

describe.skipIf(skip)('LSD stays quiet when it must', () => {
  it('--no-lsd and `no-lsd = true` in the config file: nothing on the LAN, no socket on 6771; without them the same seed announces over each family', async () => {
    dir = await newDir('sixswarm-lsd-quiet-');
    const lan = await newLan([{ label: 'six' }, { label: 'watch' }]);
    const [six, watch] = lan.hosts as [LanHost, LanHost];
    const { torrent, meta } = await seedPayload(dir, { 'a.bin': 200_000 }, 16384);
    const observer = await listenLsd(watch, [4, 6]);
    const fromSix = () => lsdDatagrams(observer).filter((d) => d.from === six.v4 || d.from === six.v6);

    const off = seedIn(six, torrent, 6881, ['--no-lsd']);
    await off.event('complete', 20_000);
    const config = join(dir, 'config.toml');
    await writeFile(config, 'no-lsd = true\n');
    expect((await runCli(['config', 'seed'], { env: { SIXSWARM_CONFIG: config } })).stdout).toMatch(/^ {2}no-lsd\s+true\s+config file/m);
    const offByConfig = seedIn(six, torrent, 6882, [], { SIXSWARM_CONFIG: config });
    await offByConfig.event('complete', 20_000);
    // Longer than the first announce takes (the next second's round).
    await sleep(4000);
    expect(await lsdSockets(six)).toBe('');
    for (const p of [off, offByConfig]) {
      expect(p.events.filter((e) => e.event.startsWith('lsd'))).toEqual([]);
      p.kill();
      expect(await p.exitCode()).toBe(0);
    }
    expect(fromSix()).toEqual([]);

    // The control: the same seed with LSD on is heard over both families, naming its port and torrent.
    const on = seedIn(six, torrent, 6883);
    await on.event('lsd', 20_000);
    expect(await lsdSockets(six)).not.toBe('');
    await observer.waitForLine((l) => l.includes(`"from":"${six.v6}"`), { timeoutMs: 10_000 });
    await observer.waitForLine((l) => l.includes(`"from":"${six.v4}"`), { timeoutMs: 10_000 });
    for (const d of fromSix()) {
      expect(d.text).toContain('\r\nPort: 6883\r\n');
      expect(d.text).toContain(`\r\nInfohash: ${meta.infoHashHex}\r\n`);
    }
    expect(new Set(fromSix().map((d) => d.family))).toEqual(new Set([4, 6]));
  });

  it('a private torrent is never announced nor dials a peer announced for it; a public one beside it does both', async () => {
    dir = await newDir('sixswarm-lsd-private-');
    const lan = await newLan([{ label: 'six' }, { label: 'watch' }]);
    const [six, watch] = lan.hosts as [LanHost, LanHost];
    const { pub, privTorrent, priv } = await publicAndPrivate(100_000);
    const observer = await listenLsd(watch, [4, 6]);

    const p = seedIn(six, privTorrent, 6881);
    const q = seedIn(six, pub.torrent, 6882);
    expect(await p.event('lsd', 20_000)).toMatchObject({ announcing: false, reason: expect.stringMatching(/private \(BEP 27\)/) });
    expect(await q.event('lsd', 20_000)).toMatchObject({ announcing: true });

    // Peers announced on the LAN for each torrent, where a listener counts who dials.
    const privDials = await countDials(watch, 7001);
    const pubDials = await countDials(watch, 7002);
    await announceFrom(watch, 7001, priv.infoHash);
    await announceFrom(watch, 7002, pub.meta.infoHash);
    await observer.waitForLine((l) => l.includes(pub.meta.infoHashHex) && l.includes(`"from":"${six.v4}"`), { timeoutMs: 10_000 });
    for (let t = 0; t < 50 && pubDials.count() === 0; t++) await sleep(100);
    expect(pubDials.count()).toBeGreaterThan(0);
    await sleep(3000);
    expect(privDials.count()).toBe(0);
    expect(p.events.some((e) => e.event === 'peer-unreachable' || e.event === 'peer-connected')).toBe(false);

    const heard = lsdDatagrams(observer).filter((d) => d.from === six.v4 || d.from === six.v6);
    expect(heard.length).toBeGreaterThan(0);
    expect(heard.filter((d) => d.text.toLowerCase().includes(priv.infoHashHex))).toEqual([]);
    expect(heard.every((d) => d.text.includes(`Infohash: ${pub.meta.infoHashHex}`))).toBe(true);
  });

  it('a magnet whose metadata says private leaves LSD at once and dials no peer announced for it from then on', async () => {
    dir = await newDir('sixswarm-lsd-magnet-');
    const lan = await newLan([{ label: 'six' }, { label: 'watch' }]);
    const [six, watch] = lan.hosts as [LanHost, LanHost];
    const { privTorrent, priv } = await publicAndPrivate(300_000);
    const seed = seedIn(six, privTorrent, 6881);
    await seed.event('complete', 20_000);
    // The private seed keeps its metadata to itself (as libtorrent does): a peer that hands it out is how a magnet turns out private.
    const source = await six.ns.listen('127.0.0.1', 7010);
    source.server.on('connection', (c) => {
      const p = new RawPeer(c);
      void p.readHandshake().then(() => p.serveMetadata(priv.infoHash, priv.infoBuffer), () => p.close());
    });
    const magnet = `magnet:?xt=urn:btih:${priv.infoHashHex}&x.pe=127.0.0.1:7010`;
    const leech = sixswarmIn(six, ['download', magnet, '-o', join(dir, 'dl'), '--peer', '127.0.0.1:6881'], 6882);
    // Nothing said it is private yet: announced, as the DHT would look it up.
    expect(await leech.event('lsd', 20_000)).toMatchObject({ announcing: true });
    await leech.event('metadata', 20_000);
    expect(await leech.waitFor((e) => e.event === 'lsd' && e.announcing === false, 5000, 'leaving LSD')).toMatchObject({ reason: expect.stringMatching(/private \(BEP 27\)/) });
    await leech.event('complete', 30_000);
    const dials = await countDials(watch, 7004);
    await announceFrom(watch, 7004, priv.infoHash);
    await sleep(3000);
    expect(dials.count()).toBe(0);
    expect(leech.events.filter((e) => e.event === 'peer-connected').every((e) => e.source === 'manual' || e.source === 'magnet')).toBe(true);
  });
});
