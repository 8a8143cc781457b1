/**
 * `sixswarm support` run in network namespaces built to be different hosts: IPv4 only; a
 * documentation-range global IPv6 address (counted as global, as the suite does everywhere) and
 * the same host when it is not counted, or without a default route; a 6to4 host; hosts whose
 * IPv6 comes through a tunnel (another VPN's TUN device, sixswarm's own); as user nobody (no
 * root, no /dev/net/tun); as root with /dev/net/tun missing; and a build without native addons.
 */
import { execFile } from 'node:child_process';
import { cp, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SupportRow } from '../../src/support/matrix.js';
import { createNetns, netnsUnavailable, nobodyCanRunCli, NOBODY, type Netns } from '../support/netns.js';
import { CLI, ensureBuilt, removeDir, ROOT, runCli, tempDir } from '../support/sixswarm.js';

const skip = netnsUnavailable();
const namespaces: Netns[] = [];
let dir: string | undefined;

beforeAll(ensureBuilt);
afterEach(async () => {
  await Promise.all(namespaces.splice(0).map((n) => n.destroy()));
  await removeDir(dir);
  dir = undefined;
});

/**
 * A host: a namespace whose uplink eth0 (a veth whose other end, eth1, stays in the namespace
 * without addresses: no module beyond veth is needed) carries 192.0.2.10/24 with a default
 * route, and the IPv6 addresses and routes given; without any, IPv6 is off on every interface.
 */
async function host(label: string, o: { ipv6?: string[]; routes6?: string[][] }): Promise<Netns> {
  const ns = await createNetns(label);
  namespaces.push(ns);
  await ns.ip(['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
  await ns.must('sysctl', ['-qw', 'net.ipv6.conf.eth1.disable_ipv6=1']);
  for (const dev of ['eth1', 'eth0']) await ns.ip(['link', 'set', dev, 'up']);
  await ns.ip(['addr', 'add', '192.0.2.10/24', 'dev', 'eth0']);
  await ns.ip(['route', 'add', 'default', 'via', '192.0.2.1']);
  if (!o.ipv6) await ns.must('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.lo.disable_ipv6=1', 'net.ipv6.conf.eth0.disable_ipv6=1']);
  for (const a of o.ipv6 ?? []) await ns.ip(['-6', 'addr', 'add', a, 'dev', 'eth0', 'nodad']);
  for (const r of o.routes6 ?? []) await ns.ip(['-6', 'route', 'add', ...r]);
  return ns;
}

/** `sixswarm support --json` inside `ns` (optionally wrapped: setpriv, unshare), as rows by id. */
async function support(ns: Netns, opts: { env?: Record<string, string>; wrap?: string[]; cli?: string } = {}): Promise<Record<string, SupportRow>> {
  const env = Object.entries({ SIXSWARM_TUNNEL_SERVER: '', SIXSWARM_LSD: '', ...opts.env }).map(([k, v]) => `${k}=${v}`);
  const r = await ns.exec('env', [...env, ...(opts.wrap ?? []), process.execPath, opts.cli ?? CLI, 'support', '--json'], 30_000);
  expect(r.code, r.stderr).toBe(0);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as SupportRow);
  expect(rows.map((x) => x.id)).toEqual(['ipv6-bind', 'ipv6-connections', 'wire', 'http-tracker', 'udp-tracker-ipv6', 'pex', 'dht', 'lsd', 'router-ipv4', 'router-ipv6', 'tunnel', 'utp', 'holepunch', 'encryption']);
  for (const x of rows) expect(x.reason.length, x.id).toBeGreaterThan(10);
  return Object.fromEntries(rows.map((x) => [x.id, x]));
}

/** An IPv4 host whose IPv6 (address and default route) is on the TUN device `name`, held open by a process in it. */
async function withTun(label: string, name: string, address: string): Promise<Netns> {
  const ns = await host(label, {});
  await ns.must('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0']);
  const tunModule = pathToFileURL(join(ROOT, 'dist', 'src', 'tunnel', 'tun.js')).href;
  const holder = ns.spawn(process.execPath, ['--input-type=module', '-e', `const { TunDevice } = await import(${JSON.stringify(tunModule)}); TunDevice.open(${JSON.stringify(name)}); console.log('ready'); setInterval(() => {}, 1000);`]);
  await holder.waitForLine((l) => l === 'ready');
  await ns.ip(['link', 'set', name, 'up']);
  await ns.ip(['-6', 'addr', 'add', address, 'dev', name, 'nodad']);
  await ns.ip(['-6', 'route', 'add', 'default', 'dev', name]);
  return ns;
}

const status = (rows: Record<string, SupportRow>) => Object.fromEntries(Object.entries(rows).map(([id, r]) => [id, r.status]));

describe('sixswarm support on this host', () => {
  it('prints the matrix as a table, or one JSON object per row, and exits 0', async () => {
    const text = await runCli(['support']);
    expect(text.code).toBe(0);
    for (const c of ['Network: binding to IPv6', 'Network: IPv6 connections', 'Torrent: wire protocol', 'Torrent: HTTP tracker', 'Torrent: UDP tracker over IPv6', 'Torrent: peer exchange (PEX)', 'Torrent: DHT', 'Torrent: local peer discovery (LSD)', 'Network: IPv6 tunnel', 'Torrent: encryption (MSE)']) {
      expect(text.stdout).toMatch(new RegExp(`^\\| ${c.replace(/[()]/g, '\\$&')} +\\| (yes|partial|no) +\\| `, 'm'));
    }
    // Every line of the box is as wide as the others.
    expect(new Set(text.stdout.trim().split('\n').map((l) => l.length)).size).toBe(1);
    const json = await runCli(['support', '--json']);
    const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as SupportRow);
    expect(rows.find((r) => r.id === 'dht')).toMatchObject({ status: 'partial', reason: expect.stringMatching(/IPv4 only, by design/) });
    expect((await runCli(['support', '--frobnicate'])).code).toBe(2);
  });
});

describe.skipIf(skip)('sixswarm support in namespaces that are different hosts', () => {
  it('an IPv4-only host: IPv6 sockets bind, but no IPv6 connection; trackers over IPv4 only; the tunnel is the way out', async () => {
    const rows = await support(await host('sup4', {}));
    expect(status(rows)).toEqual({
      'ipv6-bind': 'yes',
      'ipv6-connections': 'no',
      wire: 'yes',
      'http-tracker': 'partial',
      'udp-tracker-ipv6': 'no',
      pex: 'partial',
      dht: 'partial',
      lsd: 'partial',
      'router-ipv4': 'partial',
      'router-ipv6': 'partial',
      tunnel: 'partial',
      utp: 'yes',
      holepunch: 'yes',
      encryption: 'yes',
    });
    // The way out, where a tunnel server comes from, and what still works without one.
    expect(rows['ipv6-connections']!.reason).toMatch(/^no global IPv6 address: use the built-in tunnel: run `sixswarm tunnel-server` on a host with a routed IPv6 prefix .* then --tunnel HOST:PORT \(or SIXSWARM_TUNNEL_SERVER\); without one, sixswarm still downloads and seeds over IPv4/);
    expect(rows['router-ipv4']!.reason).toMatch(/^not asked: sixswarm asks the router to open its port whenever it runs .*`sixswarm support --router` asks it now$/);
    expect(rows['ipv6-connections']!.addresses).toEqual([]);
    expect(rows['http-tracker']!.reason).toMatch(/IPv4 only/);
    expect(rows.pex!.reason).toMatch(/IPv6 ones cannot be dialed from here: use the built-in tunnel/);
    expect(rows.tunnel!.reason).toMatch(/no server is configured: give --tunnel HOST:PORT or set SIXSWARM_TUNNEL_SERVER/);
    expect(rows.lsd!.reason).toMatch(/^IPv4 on eth0 \(239\.192\.152\.143:6771\), but no LAN interface with IPv6 \(up, multicast, not loopback or point-to-point\): public torrents are announced there/);
    expect((await support(namespaces[0]!, { env: { SIXSWARM_LSD: 'off' } })).lsd).toMatchObject({ status: 'no', reason: expect.stringMatching(/^off: \$SIXSWARM_LSD is "off"/) });
    // A configured server: --tunnel auto would bring the tunnel up on this host.
    const configured = await support(namespaces[0]!, { env: { SIXSWARM_TUNNEL_SERVER: '192.0.2.1:4000' } });
    expect(configured.tunnel).toMatchObject({ status: 'yes', reason: 'ready: --tunnel auto with 192.0.2.1:4000 comes up (this host has no IPv6 of its own)' });
    expect((await support(namespaces[0]!, { env: { SIXSWARM_TUNNEL_SERVER: 'nonsense' } })).tunnel).toMatchObject({ status: 'partial', reason: expect.stringMatching(/^SIXSWARM_TUNNEL_SERVER: bad/) });
  });

  it('a host with a global IPv6 address (2001:db8::/32, counted as global) and a default route: native IPv6 everywhere', async () => {
    const ns = await host('sup6', { ipv6: ['2001:db8:1::2/64'], routes6: [['default', 'via', '2001:db8:1::1', 'dev', 'eth0']] });
    const rows = await support(ns, { env: { SIXSWARM_TUNNEL_SERVER: '192.0.2.1:4000' } });
    expect(status(rows)).toMatchObject({ 'ipv6-bind': 'yes', 'ipv6-connections': 'yes', wire: 'yes', 'http-tracker': 'yes', 'udp-tracker-ipv6': 'yes', pex: 'yes', dht: 'partial', lsd: 'yes', tunnel: 'yes' });
    expect(rows.lsd!.reason).toMatch(/^IPv4 on eth0 \(239\.192\.152\.143:6771\), IPv6 on eth0 \(\[ff15::efc0:988f\]:6771\): /);
    expect(rows['ipv6-connections']).toMatchObject({ reason: 'native IPv6: 2001:db8:1::2 on eth0', addresses: [{ address: '2001:db8:1::2', device: 'eth0', class: 'native' }] });
    expect(rows.tunnel!.reason).toBe('ready: --tunnel auto with 192.0.2.1:4000 stays off (this host has IPv6)');

    // The same host as a real one sees it: a documentation address is no global address.
    const real = await support(ns, { env: { SIXSWARM_TREAT_DOCUMENTATION_RANGES_AS_GLOBAL: '0' } });
    expect(real['ipv6-connections']).toMatchObject({ status: 'no', reason: expect.stringMatching(/^no global IPv6 address \(2001:db8:1::2 is documentation, fe80::[0-9a-f:]+ is link-local\): use the built-in tunnel/) });
    expect(real['udp-tracker-ipv6']!.status).toBe('no');

    // Without a default route the address alone does not connect.
    await ns.ip(['-6', 'route', 'del', 'default']);
    const unrouted = await support(ns);
    expect(unrouted['ipv6-connections']).toMatchObject({ status: 'partial', reason: expect.stringMatching(/^native address 2001:db8:1::2 on eth0 but no IPv6 default route: add one, or use the built-in tunnel/) });
    expect(status(unrouted)).toMatchObject({ 'http-tracker': 'partial', 'udp-tracker-ipv6': 'partial', pex: 'partial' });
  });

  it("a 6to4 host is partly connected; a host whose IPv6 comes through another VPN's TUN device or sixswarm's tunnel is connected", async () => {
    const sixToFour = await support(await host('sup6to4', { ipv6: ['2002:c000:20a::1/16'], routes6: [['default', 'via', '2002:c000:201::1', 'dev', 'eth0']] }));
    expect(sixToFour['ipv6-connections']).toMatchObject({ status: 'partial', addresses: [{ address: '2002:c000:20a::1', class: '6to4' }], reason: expect.stringMatching(/^only a 6to4 address/) });

    // Another VPN's TUN device, and then sixswarm's own (each held open, as `sixswarm tunnel up` holds its own).
    const vpn = await withTun('supvpn', 'vpn0', '2001:db8:200::2/64');
    // A VPN is no LAN: local peer discovery runs on the Ethernet links (IPv6 link-local is enough there), never on vpn0.
    expect((await support(vpn)).lsd).toMatchObject({ status: 'yes', reason: expect.stringMatching(/^IPv4 on eth0 \(239\.192\.152\.143:6771\), IPv6 on eth0, eth1 \(/) });
    expect((await support(vpn))['ipv6-connections']).toMatchObject({ status: 'yes', reason: 'through a tunnel: 2001:db8:200::2 on vpn0', addresses: [{ address: '2001:db8:200::2', device: 'vpn0', class: 'tunnel' }] });

    const tun = await withTun('suptun', 'sixtun0', '2001:db8:100::1/64');
    const viaTun = await support(tun);
    expect(viaTun['ipv6-connections']).toMatchObject({ status: 'yes', reason: "through a tunnel: 2001:db8:100::1 on sixtun0 (sixswarm's tunnel prefix)", addresses: [{ class: 'tunnel', device: 'sixtun0' }] });
    expect(viaTun.tunnel).toMatchObject({ status: 'yes', reason: 'up: 2001:db8:100::1 on sixtun0' });
  });

  it.skipIf(!nobodyCanRunCli())('as user nobody: the tunnel in its stream mode (no root, /dev/net/tun closed to it); everything else as for root', async () => {
    const ns = await host('supnobody', { ipv6: ['2001:db8:1::2/64'], routes6: [['default', 'via', '2001:db8:1::1', 'dev', 'eth0']] });
    const asRoot = await support(ns);
    const asNobody = await support(ns, { wrap: ['setpriv', ...NOBODY] });
    expect(asNobody.tunnel).toEqual({
      id: 'tunnel',
      component: 'Network: IPv6 tunnel',
      status: 'partial',
      reason: 'can run here in the stream mode (relayed by a sixswarm tunnel-server; no root (CAP_NET_ADMIN) for a TUN device: run as root for the TUN mode), but no server is configured: give --tunnel HOST:PORT or set SIXSWARM_TUNNEL_SERVER',
    });
    const configured = await support(ns, { wrap: ['setpriv', ...NOBODY], env: { SIXSWARM_TUNNEL_SERVER: '192.0.2.1:4000' } });
    expect(configured.tunnel).toMatchObject({ status: 'yes', reason: expect.stringMatching(/^ready in the stream mode \(relayed by a sixswarm tunnel-server; no root .*\): --tunnel auto with 192\.0\.2\.1:4000 stays off \(this host has IPv6\)$/) });
    const { tunnel: _a, ...restNobody } = asNobody;
    const { tunnel: _b, ...restRoot } = asRoot;
    expect(restNobody).toEqual(restRoot);
  });

  it('as root where /dev/net/tun does not exist (a container without the device)', async () => {
    const ns = await host('supnotun', {});
    // A private mount namespace hides /dev/net under an empty tmpfs; the host's /dev is untouched.
    const rows = await support(ns, { wrap: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /dev/net && exec "$@"', 'sh'] });
    expect(rows.tunnel).toMatchObject({ status: 'partial', reason: expect.stringContaining('in the stream mode (relayed by a sixswarm tunnel-server; /dev/net/tun cannot be opened (ENOENT): modprobe tun (in a container: --device /dev/net/tun) for the TUN mode)') });
  });

  it('a build without its native addons: the tunnel cannot run and RC4 runs in JavaScript, each row saying how to build them', async () => {
    dir = await tempDir('sixswarm-support-');
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'sixswarm', type: 'module' }));
    await cp(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const rows = await support(await host('supjs', {}), { cli: join(dir, 'dist', 'bin', 'sixswarm.js') });
    expect(rows.tunnel).toMatchObject({ status: 'partial', reason: expect.stringMatching(/in the stream mode .*native TUN addon, which is not built .*npm run build:native/) });
    expect(rows.holepunch).toMatchObject({ status: 'yes', reason: expect.stringMatching(/^IPv4 and IPv6: .*public torrents only/) });
    expect(rows.utp).toMatchObject({ status: 'partial', reason: expect.stringMatching(/each datagram sent on its own, slower \(.*sixswarm_udp\.node is not built \(`npm run build:native` builds it\)\)$/) });
    expect(rows.encryption).toMatchObject({ status: 'partial', reason: expect.stringMatching(/^RC4 in JavaScript, a third slower \(.*sixswarm_rc4\.node is not built \(`npm run build:native` builds it\)\)$/) });
  });
});

// The command's own help, so `sixswarm support --help` is complete.
describe('sixswarm support --help', () => {
  it('describes every row and --json', async () => {
    const { stdout, code } = await promisify(execFile)(process.execPath, [CLI, 'support', '--help']).then((r) => ({ ...r, code: 0 }));
    expect(code).toBe(0);
    expect(stdout).toMatch(/--json/);
    expect(stdout).toMatch(/DHT \(IPv4 only, and why\)/);
  });
});
