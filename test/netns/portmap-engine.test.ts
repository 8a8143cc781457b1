/**
 * sixswarm behind a home router asks it for its port (issue 22, end to end): sixswarm seeds on
 * the LAN host of the natlab topology (masquerading router, default-deny IPv6 firewall, Debian's
 * miniupnpd), and a libtorrent peer on the WAN side downloads from it through the IPv4 mapping
 * (the router's WAN address) and through the IPv6 pinhole (straight to the host). Before sixswarm
 * runs the port is closed from outside; after it stops cleanly the router's rules are gone.
 * With port mapping off, nothing is asked and the verdict says so.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { LAB, natlabUnavailable, useNatLab, type NatLab } from '../support/natlab.js';
import { libtorrentPeer } from '../support/peers.js';
import { CLI, makeTree, runCli, sixswarm, tempDir, treeDigest, cleanUpAfterEach, type SixswarmProcess } from '../support/sixswarm.js';

const skip = natlabUnavailable({ miniupnpd: true });

let lab: NatLab;
let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** sixswarm seeding on the LAN host; port mapping on (the suite turns it off for every other test). */
function seedOnLan(torrent: string, data: string, port: number, args: string[] = []): SixswarmProcess {
  return sixswarm(['seed', torrent, data, '--port', String(port), '--no-trackers', '--no-dht', '--json', ...args], {
    env: { SIXSWARM_STATE_DIR: join(dir!, 'state'), SIXSWARM_PORT_MAPPING: '' },
    wrap: ['ip', 'netns', 'exec', lab.lan.name],
    label: 'seed on the LAN',
  });
}

describe.skipIf(skip)('sixswarm behind a home router (port mapping, end to end)', () => {
  useNatLab((l) => (lab = l));

  test('a WAN libtorrent peer downloads from a LAN seed through the IPv4 mapping and the IPv6 pinhole; a clean stop deletes both', async () => {
    await lab.startMiniupnpd({});
    dir = await tempDir();
    await makeTree(join(dir, 'seed', 'payload'), { 'a.bin': 1_500_000, 'b.bin': 300_000 });
    const torrent = join(dir, 'p.torrent');
    expect((await runCli(['create', join(dir, 'seed', 'payload'), '-o', torrent, '--piece-length', '64K'])).code).toBe(0);
    const port = 42101;
    expect((await lab.dial(4, port)).split(' ')[0]).toBe('BLOCKED');
    expect((await lab.dial(6, port)).split(' ')[0]).toBe('BLOCKED');

    const seed = seedOnLan(torrent, join(dir, 'seed'), port);
    const mapped = (family: 4 | 6) => seed.waitFor((e) => e.event === 'port-mapping' && e.family === family && e.transport === 'tcp' && e.change === 'granted', 20_000, `the IPv${family} mapping`);
    expect(await mapped(4)).toMatchObject({ external: { address: LAB.routerWan4, port }, protocol: 'pcp' });
    expect(await mapped(6)).toMatchObject({ external: { address: LAB.lan6, port }, protocol: 'pcp' });
    await seed.event('checked');

    for (const [family, target] of [[4, `${LAB.routerWan4}:${port}`], [6, `[${LAB.lan6}]:${port}`]] as const) {
      const save = join(dir, `wan${family}`);
      await mkdir(save, { recursive: true });
      const lt = libtorrentPeer({ torrent, save, port: 42200 + family, listen: ['0.0.0.0', '[::]'], connect: [target], wrap: ['ip', 'netns', 'exec', lab.wan.name] });
      await lt.event('checked', 20_000);
      const done = await lt.event('complete', 60_000);
      expect(done.failed).toBe(0);
      expect(await treeDigest(join(save, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
      // The seed saw it come in over that family, from the WAN peer (NAT keeps IPv6 sources as they are).
      const inbound = seed.events.find((e) => e.event === 'peer-connected' && e.direction === 'in' && e.family === family);
      expect(inbound?.address).toContain(family === 4 ? LAB.wan4 : LAB.wan6);
      lt.kill('SIGTERM');
    }

    seed.kill('SIGTERM');
    expect(await seed.exited).toBe(0);
    expect(seed.events.filter((e) => e.event === 'port-mapping' && e.change === 'deleted')).toHaveLength(4);
    expect(await lab.rules()).not.toContain(`dport ${port}`);
    expect((await lab.dial(4, port)).split(' ')[0]).toBe('BLOCKED');
    expect((await lab.dial(6, port)).split(' ')[0]).toBe('BLOCKED');
  });

  test('a router that answers nothing: the verdict says so, nothing hangs, and the LAN seed still downloads by dialing out', async () => {
    // miniupnpd will not run with every protocol off: the router simply runs none.
    dir = await tempDir();
    await makeTree(join(dir, 'src', 'payload'), { 'a.bin': 400_000 });
    const torrent = join(dir, 'p.torrent');
    expect((await runCli(['create', join(dir, 'src', 'payload'), '-o', torrent, '--piece-length', '32K'])).code).toBe(0);
    // A libtorrent seed on the WAN side; the LAN download dials it (outgoing works through NAT).
    const wanSeed = libtorrentPeer({ torrent, save: join(dir, 'src'), port: 42301, listen: ['0.0.0.0', '[::]'], wrap: ['ip', 'netns', 'exec', lab.wan.name] });
    await wanSeed.event('checked', 20_000);
    const leech = sixswarm(['download', torrent, '-o', join(dir, 'lan'), '--port', '42102', '--no-trackers', '--no-dht', '--json', '--peer', `${LAB.wan4}:42301`], {
      env: { SIXSWARM_STATE_DIR: join(dir, 'state'), SIXSWARM_PORT_MAPPING: '' },
      wrap: ['ip', 'netns', 'exec', lab.lan.name],
      label: 'download on the LAN',
    });
    await leech.event('complete', 60_000);
    expect(await treeDigest(join(dir, 'lan', 'payload'))).toEqual(await treeDigest(join(dir, 'src', 'payload')));
    // Every protocol on each family in turn finds nothing: the verdict names why.
    const failed = await leech.waitFor((e) => e.event === 'port-mapping' && e.change === 'failed' && e.family === 4, 20_000, 'an IPv4 mapping failure');
    expect(String(failed.error)).not.toBe('');
    const progress = await leech.waitFor((e) => e.event === 'progress' && (e.mapping as Record<string, string> | undefined)?.['4'] === 'unreachable', 20_000, 'the IPv4 verdict');
    expect(progress.mapping).toBeDefined();
    const t0 = Date.now();
    leech.kill('SIGTERM');
    expect(await leech.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000); // stopping does not wait on a router that never answered
    wanSeed.kill('SIGTERM');
  });

  test('support --router asks the router now and takes the test mapping back; without it the rows say how', async () => {
    await lab.startMiniupnpd({});
    const run = (args: string[]) => lab.lan.exec(process.execPath, [CLI, 'support', ...args]);
    const rows = Object.fromEntries(
      (await run(['--router', '--json'])).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string; status: string; reason: string })
        .map((r) => [r.id, r]),
    );
    expect(rows['router-ipv4']).toMatchObject({ status: 'yes', reason: expect.stringMatching(new RegExp(`^mapped by PCP: ${LAB.routerWan4.replace(/\./g, '\\.')}:\\d+ .*deleted again\\)$`)) });
    expect(rows['router-ipv6']).toMatchObject({ status: 'yes', reason: expect.stringMatching(new RegExp(`^pinhole opened by PCP: \\[${LAB.lan6}\\]:\\d+`)) });
    expect(await lab.rules()).not.toMatch(/dnat ip to 192\.168\.1\.10:\d+/);
    const plain = Object.fromEntries((await run(['--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; status: string }).map((r) => [r.id, r.status]));
    expect(plain).toMatchObject({ 'router-ipv4': 'partial', 'router-ipv6': 'partial' });
  });

  test('--no-port-mapping asks the router nothing', async () => {
    await lab.startMiniupnpd({});
    dir = await tempDir();
    await makeTree(join(dir, 'seed', 'payload'), { 'a.bin': 100_000 });
    const torrent = join(dir, 'p.torrent');
    expect((await runCli(['create', join(dir, 'seed', 'payload'), '-o', torrent])).code).toBe(0);
    const seed = seedOnLan(torrent, join(dir, 'seed'), 42103, ['--no-port-mapping']);
    await seed.event('checked');
    await new Promise((r) => setTimeout(r, 3000));
    expect(seed.events.filter((e) => e.event === 'port-mapping')).toEqual([]);
    expect(await lab.rules()).not.toContain('dport 42103');
    seed.kill('SIGTERM');
    expect(await seed.exited).toBe(0);
  });
});
