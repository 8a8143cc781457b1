/**
 * Web seeds named by a host name, resolved by a real DNS server (dnsmasq) and connected Happy-
 * Eyeballs style as peers are: IPv6 first when both families answer; an AAAA record for an
 * address nobody has does not hold the download up (IPv4 is tried a moment later, not after the
 * IPv6 attempt gives up); --no-ipv6 never tries IPv6. nginx in its own namespace logs which
 * address every request came from.
 *
 *     cli  192.0.2.2/24, 2001:db8:1::2/64  <--veth-->  192.0.2.1/24, 2001:db8:1::1/64  web (nginx :8080)
 *     seed.test    A 192.0.2.1  AAAA 2001:db8:1::1
 *     broken.test  A 192.0.2.1  AAAA 2001:db8:1::99 (no host: neighbour discovery fails after seconds)
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsmasq, type Dnsmasq } from '../support/dnsmasq.js';
import { createNetns, netnsUnavailable, veth, type Netns } from '../support/netns.js';
import { ensureBuilt, makeTree, removeDir, runCli, sixswarm, stopAll, tempDir } from '../support/sixswarm.js';
import { accessLog, NGINX, nginxArgs, nginxReady, withWebSeeds, writeNginxConfig } from '../support/web-server.js';

const unavailable = netnsUnavailable();
let dir: string | undefined;
let dns: Dnsmasq | undefined;
const spaces: Netns[] = [];
let cli: Netns;
let bare: string;

beforeAll(async () => {
  ensureBuilt();
  if (unavailable) return;
  dir = await tempDir('sixswarm-webseed-ns-');
  cli = await createNetns('wscli');
  spaces.push(cli);
  const web = await createNetns('wsweb');
  spaces.push(web);
  await veth(cli, 'eth0', web, 'eth0');
  await web.ip(['addr', 'add', '192.0.2.1/24', 'dev', 'eth0']);
  await web.ip(['addr', 'add', '2001:db8:1::1/64', 'dev', 'eth0', 'nodad']);
  await cli.ip(['addr', 'add', '192.0.2.2/24', 'dev', 'eth0']);
  await cli.ip(['addr', 'add', '2001:db8:1::2/64', 'dev', 'eth0', 'nodad']);
  dns = await startDnsmasq(cli, dir, { domain: 'test', hosts: { 'seed.test': ['192.0.2.1', '2001:db8:1::1'], 'broken.test': ['192.0.2.1', '2001:db8:1::99'] } });
  await makeTree(join(dir, 'www'), { 'f.bin': 2 * 1024 * 1024 + 5 });
  bare = join(dir, 'bare.torrent');
  expect((await runCli(['create', join(dir, 'www', 'f.bin'), '-o', bare])).code).toBe(0);
  const nginxDir = join(dir, 'nginx');
  const conf = await writeNginxConfig({ root: join(dir, 'www'), dir: nginxDir, listen: ['192.0.2.1:8080', '[2001:db8:1::1]:8080'] });
  const nginx = web.spawn(NGINX, nginxArgs(nginxDir, conf));
  await nginxReady(nginxDir, nginx);
}, 60_000);

afterAll(async () => {
  await dns?.stop();
  await stopAll();
  await Promise.all(spaces.map((ns) => ns.destroy()));
  await removeDir(dir);
});

/** Download from `url` inside the client namespace; the clients nginx saw (new log lines only) and the time it took. */
async function fetchFrom(url: string, name: string, extra: string[] = []) {
  const d = dir!;
  const before = (await accessLog(join(d, 'nginx'))).length;
  const torrent = await withWebSeeds(bare, join(d, `${name}.torrent`), { urlList: [url] });
  const t0 = Date.now();
  const leech = sixswarm(['download', torrent, '-o', join(d, `out-${name}`), '--port', '0', '--no-trackers', '--no-dht', '--json', '--exit-on-complete', ...extra], {
    env: { SIXSWARM_STATE_DIR: join(d, `state-${name}`) },
    wrap: ['ip', 'netns', 'exec', cli.name],
  });
  expect(await leech.exited, leech.stderr).toBe(0);
  const seconds = (Date.now() - t0) / 1000;
  const clients = new Set((await accessLog(join(d, 'nginx'))).slice(before).map((l) => l.split(' ')[0]));
  return { clients, seconds, leech };
}

describe.skipIf(unavailable !== undefined)('web seeds by host name, Happy Eyeballs across families', () => {
  it('a name with A and AAAA records: fetched over IPv6', async () => {
    const { clients } = await fetchFrom('http://seed.test:8080/f.bin', 'both');
    expect(clients).toEqual(new Set(['2001:db8:1::2']));
  });

  it('an AAAA record nobody answers for: IPv4 a moment later, not once IPv6 gives up', async () => {
    expect((await cli.exec('getent', ['ahosts', 'broken.test'])).stdout).toMatch(/2001:db8:1::99/);
    const { clients, seconds, leech } = await fetchFrom('http://broken.test:8080/f.bin', 'broken');
    expect(clients).toEqual(new Set(['192.0.2.2']));
    console.info(`[web-seed-names] broken IPv6: complete in ${seconds.toFixed(2)} s (process start included)`);
    // Neighbour discovery gives up on 2001:db8:1::99 after about 3 s; the download is done well before.
    const complete = leech.events.find((e) => e.event === 'complete')!;
    const listening = leech.events.find((e) => e.event === 'listening')!;
    expect(Date.parse(complete.time as string) - Date.parse(listening.time as string)).toBeLessThan(2500);
    expect(leech.events.filter((e) => e.event === 'web-seed-failed')).toEqual([]);
  });

  it('--no-ipv6: only IPv4 is tried', async () => {
    const { clients } = await fetchFrom('http://seed.test:8080/f.bin', 'v4only', ['--no-ipv6']);
    expect(clients).toEqual(new Set(['192.0.2.2']));
  });
});
