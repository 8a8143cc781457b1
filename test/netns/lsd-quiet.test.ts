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
import { afterEach, describe, expect, it } from 'vitest';
import { createLan, listenLsd, lsdDatagrams, sendLsd, type Lan, type LanHost } from '../support/lsd-lan.js';
import { netnsUnavailable } from '../support/netns.js';
import { cleanUpAfterEach, runCli, seedPayload, sixswarm, tempDir, type SixswarmProcess } from '../support/sixswarm.js';
import { buildAnnounce } from '../../src/lsd/message.js';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { RawPeer } from '../support/raw-peer.js';

const skip = netnsUnavailable();
let dir: string | undefined;
let lan: Lan | undefined;
cleanUpAfterEach(() => dir);
afterEach(async () => {
  await lan?.destroy();
  lan = undefined;
});

function seedIn(host: LanHost, torrent: string, data: string, port: number, extra: string[] = [], env: NodeJS.ProcessEnv = {}): SixswarmProcess {
  return sixswarm(['seed', torrent, data, '--port', String(port), '--no-dht', '--no-trackers', '--json', ...extra], {
    wrap: ['ip', 'netns', 'exec', host.ns.name],
    env: { SIXSWARM_LSD: '', SIXSWARM_STATE_DIR: join(dir!, `state-${port}`), ...env },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** UDP sockets bound to port 6771 in a host. */
async function lsdSockets(host: LanHost): Promise<string> {
  return (await host.ns.must('ss', ['-Hlnu', 'sport = :6771'])).trim();
}

describe.skipIf(skip)('LSD stays quiet when it must', () => {
  it('--no-lsd and `no-lsd = true` in the config file: nothing on the LAN, no socket on 6771; without them the same seed announces over each family', async () => {
    dir = await tempDir('sixswarm-lsd-quiet-');
    lan = await createLan([{ label: 'six' }, { label: 'watch' }]);
    const [six, watch] = lan.hosts as [LanHost, LanHost];
    const { torrent, meta } = await seedPayload(dir, { 'a.bin': 200_000 }, 16384);
    const observer = await listenLsd(watch, [4, 6]);
    const fromSix = () => lsdDatagrams(observer).filter((d) => d.from === six.v4 || d.from === six.v6);

    const off = seedIn(six, torrent, join(dir, 'seed'), 6881, ['--no-lsd']);
    await off.event('complete', 20_000);
    const config = join(dir, 'config.toml');
    await writeFile(config, 'no-lsd = true\n');
    expect((await runCli(['config', 'seed'], { env: { SIXSWARM_CONFIG: config } })).stdout).toMatch(/^ {2}no-lsd\s+true\s+config file/m);
    const offByConfig = seedIn(six, torrent, join(dir, 'seed'), 6882, [], { SIXSWARM_CONFIG: config });
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
    const on = seedIn(six, torrent, join(dir, 'seed'), 6883);
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
    dir = await tempDir('sixswarm-lsd-private-');
    lan = await createLan([{ label: 'six' }, { label: 'watch' }]);
    const [six, watch] = lan.hosts as [LanHost, LanHost];
    const pub = await seedPayload(dir, { 'a.bin': 100_000 }, 16384);
    const privTorrent = join(dir, 'p.torrent');
    const made = await runCli(['create', join(dir, 'seed', 'payload'), '-o', privTorrent, '--private', '--piece-length', '16384']);
    expect(made.code, made.stderr).toBe(0);
    const priv = (await runCli(['info', privTorrent, '--json'])).stdout;
    const privHash = (JSON.parse(priv) as { infoHash: string }).infoHash;
    expect(privHash).not.toBe(pub.meta.infoHashHex);
    const observer = await listenLsd(watch, [4, 6]);

    const p = seedIn(six, privTorrent, join(dir, 'seed'), 6881);
    const q = seedIn(six, pub.torrent, join(dir, 'seed'), 6882);
    expect(await p.event('lsd', 20_000)).toMatchObject({ announcing: false, reason: expect.stringMatching(/private \(BEP 27\)/) });
    expect(await q.event('lsd', 20_000)).toMatchObject({ announcing: true });

    // Peers announced on the LAN for each torrent, where a listener counts who dials.
    const dialed: Record<number, number> = { 7001: 0, 7002: 0 };
    for (const port of [7001, 7002]) {
      const l = await watch.ns.listen('0.0.0.0', port);
      l.server.on('connection', (s) => {
        dialed[port]!++;
        s.destroy();
      });
    }
    const texts = [buildAnnounce({ family: 4, port: 7001, infoHashes: [Buffer.from(privHash, 'hex')], cookie: 'w' }), buildAnnounce({ family: 4, port: 7002, infoHashes: [pub.meta.infoHash], cookie: 'w' })];
    await (await sendLsd(watch, { families: [4], texts: texts.map((t) => t.toString('latin1')), repeat: 3 })).exited;
    await observer.waitForLine((l) => l.includes(pub.meta.infoHashHex) && l.includes(`"from":"${six.v4}"`), { timeoutMs: 10_000 });
    for (let t = 0; t < 50 && dialed[7002] === 0; t++) await sleep(100);
    expect(dialed[7002]).toBeGreaterThan(0);
    await sleep(3000);
    expect(dialed[7001]).toBe(0);
    expect(p.events.some((e) => e.event === 'peer-unreachable' || e.event === 'peer-connected')).toBe(false);

    const heard = lsdDatagrams(observer).filter((d) => d.from === six.v4 || d.from === six.v6);
    expect(heard.length).toBeGreaterThan(0);
    expect(heard.filter((d) => d.text.toLowerCase().includes(privHash))).toEqual([]);
    expect(heard.every((d) => d.text.includes(`Infohash: ${pub.meta.infoHashHex}`))).toBe(true);
  });

  it('a magnet whose metadata says private leaves LSD at once and dials no peer announced for it from then on', async () => {
    dir = await tempDir('sixswarm-lsd-magnet-');
    lan = await createLan([{ label: 'six' }, { label: 'watch' }]);
    const [six, watch] = lan.hosts as [LanHost, LanHost];
    const pub = await seedPayload(dir, { 'a.bin': 300_000 }, 16384);
    const privTorrent = join(dir, 'p.torrent');
    expect((await runCli(['create', join(dir, 'seed', 'payload'), '-o', privTorrent, '--private', '--piece-length', '16384'])).code).toBe(0);
    const privHash = (JSON.parse((await runCli(['info', privTorrent, '--json'])).stdout) as { infoHash: string }).infoHash;
    expect(privHash).not.toBe(pub.meta.infoHashHex);
    const seed = seedIn(six, privTorrent, join(dir, 'seed'), 6881);
    await seed.event('complete', 20_000);
    // The private seed keeps its metadata to itself (as libtorrent does): a peer that hands it out is how a magnet turns out private.
    const info = (await readTorrentFile(privTorrent)).infoBuffer;
    const source = await six.ns.listen('127.0.0.1', 7010);
    source.server.on('connection', (c) => {
      const p = new RawPeer(c);
      void p.readHandshake().then(() => p.serveMetadata(Buffer.from(privHash, 'hex'), info), () => p.close());
    });
    const magnet = `magnet:?xt=urn:btih:${privHash}&x.pe=127.0.0.1:7010`;
    const leech = sixswarm(['download', magnet, '-o', join(dir, 'dl'), '--port', '6882', '--peer', '127.0.0.1:6881', '--no-dht', '--no-trackers', '--json'], {
      wrap: ['ip', 'netns', 'exec', six.ns.name],
      env: { SIXSWARM_LSD: '', SIXSWARM_STATE_DIR: join(dir, 'state-leech') },
    });
    // Nothing said it is private yet: announced, like the DHT would look it up.
    expect(await leech.event('lsd', 20_000)).toMatchObject({ announcing: true });
    await leech.event('metadata', 20_000);
    expect(await leech.waitFor((e) => e.event === 'lsd' && e.announcing === false, 5000, 'leaving LSD')).toMatchObject({ reason: expect.stringMatching(/private \(BEP 27\)/) });
    await leech.event('complete', 30_000);
    let dialed = 0;
    const l = await watch.ns.listen('0.0.0.0', 7004);
    l.server.on('connection', (c) => {
      dialed++;
      c.destroy();
    });
    await (await sendLsd(watch, { families: [4], texts: [buildAnnounce({ family: 4, port: 7004, infoHashes: [Buffer.from(privHash, 'hex')], cookie: 'w' }).toString('latin1')], repeat: 3 })).exited;
    await sleep(3000);
    expect(dialed).toBe(0);
    expect(leech.events.filter((e) => e.event === 'peer-connected').every((e) => e.source === 'manual' || e.source === 'magnet')).toBe(true);
  });
});
