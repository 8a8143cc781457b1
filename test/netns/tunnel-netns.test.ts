/**
 * The tunnel end to end, our client and our server as the CLI runs them, in network namespaces
 * (test/support/netns.ts): an IPv4-only client reaches a native IPv6 peer and is reached by
 * it, survives a server crash, routes only its own traffic on a host that has IPv6 already,
 * and refuses cleanly without the privileges it needs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../support/peers.js';
import { createTunnelTopology, destroyAfterAll, netnsUnavailable, type NsProcess, type TunnelTopology, NOBODY, nobodyCanRunCli } from '../support/netns.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'bin', 'sixswarm.js');
const PORT = 14629;

const unavailable = netnsUnavailable() ?? (existsSync(CLI) ? undefined : 'dist/bin/sixswarm.js is missing: run `npm run build` first');

describe.skipIf(unavailable !== undefined)('tunnel end to end (network namespaces)', () => {
  let topo: TunnelTopology;
  let dir: string;
  let server: NsProcess;
  let client: NsProcess;

  function startServer(): NsProcess {
    return topo.broker.spawn(process.execPath, [
      CLI, 'tunnel-server', '--json',
      '--listen', `${topo.addresses.brokerV4}:${PORT}`,
      '--prefix-range', topo.addresses.tunnelRange,
      '--assignments', join(dir, 'assignments.json'),
    ]);
  }

  /** Without `id` the client introduces itself with its uplink's MAC, as the original does. */
  function startClient(id?: string, extra: string[] = []): NsProcess {
    return topo.client.spawn(process.execPath, [CLI, 'tunnel', 'up', '--json', '--server', `${topo.addresses.brokerV4}:${PORT}`, ...(id ? ['--id', id] : []), ...extra]);
  }

  /** Sends `bytes` each way at once between the client and the peer; resolves with what each side received. */
  async function streamBothWays(bytes: Buffer, port: number): Promise<{ atClient: Buffer; atPeer: Buffer }> {
    const listener = await topo.peer.listen(topo.addresses.peerV6, port);
    try {
      const accepted = new Promise<Socket>((resolve) => listener.server.once('connection', resolve));
      const atClientSide = await topo.client.connect(topo.addresses.peerV6, port);
      const atPeerSide = await accepted;
      const receive = (s: Socket) =>
        new Promise<Buffer>((resolve, reject) => {
          const parts: Buffer[] = [];
          let got = 0;
          s.on('data', (d: Buffer) => {
            parts.push(d);
            got += d.length;
            if (got >= bytes.length) resolve(Buffer.concat(parts));
          });
          s.once('error', reject);
          s.once('close', () => reject(new Error(`connection closed after ${got} of ${bytes.length} bytes`)));
        });
      const received = Promise.all([receive(atClientSide), receive(atPeerSide)]);
      atPeerSide.write(bytes);
      atClientSide.write(bytes);
      const [atClient, atPeer] = await received;
      atClientSide.destroy();
      atPeerSide.destroy();
      return { atClient, atPeer };
    } finally {
      await listener.close();
    }
  }

  /** hostHasGlobalIPv6() as seen from inside a namespace. */
  async function hasGlobalIPv6(ns: TunnelTopology['client']): Promise<boolean> {
    const mod = JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src', 'tunnel', 'client.js')).href);
    const out = await ns.must(process.execPath, ['--input-type=module', '-e', `const m = await import(${mod}); console.log(m.hostHasGlobalIPv6())`]);
    return JSON.parse(out) as boolean;
  }

  const ups = (p: NsProcess) => p.json().filter((e) => e.event === 'up');

  beforeAll(async () => {
    topo = await createTunnelTopology();
    dir = await mkdtemp(join(tmpdir(), 'sixswarm-tunnel-e2e-'));
  });

  destroyAfterAll(() => topo, () => dir);

  it('gives an IPv4-only client a /64 and carries pings both ways to a native IPv6 peer', async () => {
    expect(await hasGlobalIPv6(topo.client)).toBe(false);
    expect(await hasGlobalIPv6(topo.peer)).toBe(true);
    server = startServer();
    await server.waitForLine((l) => l.includes('"listening"'));
    client = startClient();
    const up = JSON.parse(await client.waitForLine((l) => l.includes('"up"')));
    expect(up).toMatchObject({ prefix: '2001:db8:100::/64', address: '2001:db8:100::1', ifname: 'sixtun0', routing: 'default', offload: true });
    const mac = (JSON.parse(await topo.client.ip(['-j', 'link', 'show', 'up0'])) as Array<{ address: string }>)[0]!.address;
    expect(JSON.parse(await server.waitForLine((l) => l.includes('"session-up"')))).toMatchObject({ id: mac, prefix: up.prefix, offload: true });
    expect(await hasGlobalIPv6(topo.client)).toBe(true);

    const link = await topo.client.ip(['link', 'show', 'sixtun0']);
    expect(link).toMatch(/mtu 1280/);
    expect(await topo.client.ip(['-6', 'route', 'show', 'default'])).toMatch(/default dev sixtun0/);

    const out = await topo.client.exec('ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', topo.addresses.peerV6]);
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toContain(`from ${topo.addresses.peerV6}`);
    const back = await topo.peer.exec('ping', ['-6', '-c', '3', '-i', '0.2', '-W', '2', up.address]);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'assignments.json'), 'utf8'))).toEqual({
      [mac]: { Prefix: '2001:db8:100::/64', LastSeen: expect.any(String), Source: topo.addresses.clientV4 },
    });
  });

  it('comes back within 3 s on the same prefix when the server is killed mid-ping-stream and restarted', async () => {
    const ping = topo.client.spawn('ping', ['-6', '-n', '-i', '0.1', '-c', '70', '-W', '1', topo.addresses.peerV6]);
    await ping.waitForLine((l) => /icmp_seq=5 /.test(l));
    const mark = client.lines.length;
    expect((await server.stop('SIGKILL')).signal).toBe('SIGKILL');
    await client.waitForLine((l) => l.includes('"down"'), { from: mark });
    // Kept while away: the device and its address.
    expect(await topo.client.ip(['-6', 'addr', 'show', 'dev', 'sixtun0'])).toContain('2001:db8:100::1/64');

    const restartedAt = Date.now();
    server = startServer();
    const up = JSON.parse(await client.waitForLine((l) => l.includes('"up"'), { from: mark, timeoutMs: 5000 }));
    const backAfter = Date.now() - restartedAt;
    expect(backAfter).toBeLessThan(3000);
    expect(up.prefix).toBe('2001:db8:100::/64');
    expect(client.json().filter((e) => e.event === 'status').at(-1)).toMatchObject({ state: 'up', reconnects: 1 });

    await ping.exited;
    const seqs = ping.lines.flatMap((l) => /icmp_seq=(\d+) /.exec(l)?.[1] ?? []).map(Number);
    // Replies before the crash, and replies again once the tunnel was back.
    expect(seqs.some((s) => s <= 5)).toBe(true);
    expect(Math.max(...seqs)).toBeGreaterThanOrEqual(65);
    expect(seqs.length).toBeLessThan(70); // the outage did lose some
  }, 30_000);

  it('stops on SIGTERM, removing its device and routes', async () => {
    expect((await client.stop('SIGTERM')).code).toBe(0);
    expect(ups(client)).toHaveLength(2);
    expect((await topo.client.exec('ip', ['link', 'show', 'sixtun0'])).code).not.toBe(0);
    expect(await topo.client.ip(['-6', 'route', 'show', 'default'])).toBe('');
  });

  it('on a host with its own IPv6 default route, sends only traffic from the tunnel prefix through the tunnel', async () => {
    // A stand-in native uplink (a veth pair: the dummy driver may be missing) with a default
    // route that leads nowhere.
    await topo.client.ip(['link', 'add', 'native0', 'type', 'veth', 'peer', 'name', 'native1']);
    await topo.client.ip(['link', 'set', 'native0', 'up']);
    await topo.client.ip(['-6', 'addr', 'add', '2001:db8:eeee::2/64', 'dev', 'native0', 'nodad']);
    await topo.client.ip(['-6', 'route', 'add', 'default', 'via', '2001:db8:eeee::1', 'dev', 'native0']);
    try {
      const c = startClient('dual-stack-host');
      const up = JSON.parse(await c.waitForLine((l) => l.includes('"up"')));
      expect(up).toMatchObject({ prefix: '2001:db8:100:1::/64', routing: 'source' });
      const defaults = await topo.client.ip(['-6', 'route', 'show', 'default']);
      expect(defaults).toContain('native0');
      expect(defaults).not.toContain('sixtun0');
      const rules = await topo.client.ip(['-6', 'rule', 'show']);
      expect(rules).toMatch(/from 2001:db8:100:1::\/64 lookup \d+/);

      const viaTunnel = await topo.client.exec('ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', '-I', up.address, topo.addresses.peerV6]);
      expect(viaTunnel.code, viaTunnel.stdout + viaTunnel.stderr).toBe(0);
      // Without the tunnel's source address the native route is used (and leads nowhere here).
      const native = await topo.client.exec('ping', ['-6', '-c', '1', '-W', '1', topo.addresses.peerV6]);
      expect(native.code).not.toBe(0);

      expect((await c.stop('SIGTERM')).code).toBe(0);
      expect(await topo.client.ip(['-6', 'rule', 'show'])).not.toMatch(/2001:db8:100:1::/);
      expect((await topo.client.exec('ip', ['link', 'show', 'sixtun0'])).code).not.toBe(0);
    } finally {
      await topo.client.ip(['link', 'del', 'native0']);
    }
  });

  it('with offload, TCP crosses in segments larger than the MTU; without (the original framing), in MTU-sized packets; intact either way', async () => {
    const payload = randomBytes(8 << 20);
    const digest = createHash('sha1').update(payload).digest('hex');
    for (const offload of [true, false]) {
      const id = offload ? 'offload-on' : 'offload-off';
      const mark = server.lines.length;
      const c = startClient(id, offload ? [] : ['--no-offload']);
      const up = JSON.parse(await c.waitForLine((l) => l.includes('"up"')));
      expect(up.offload).toBe(offload);
      expect(JSON.parse(await server.waitForLine((l) => l.includes('"session-up"') && l.includes(id), { from: mark })).offload).toBe(offload);
      // While connected, an offload client's /64 is routed to the offload device.
      const routed = () => topo.broker.ip(['-6', 'route', 'show', up.prefix]);
      if (offload) await waitUntil(async () => (await routed()).includes('dev sixsrv0-o'), 5000, () => 'the route to the offload device');

      const { atClient, atPeer } = await streamBothWays(payload, offload ? 15001 : 15002);
      expect(createHash('sha1').update(atClient).digest('hex')).toBe(digest);
      expect(createHash('sha1').update(atPeer).digest('hex')).toBe(digest);

      expect((await c.stop('SIGTERM')).code).toBe(0);
      const down = JSON.parse(await server.waitForLine((l) => l.includes('"session-down"') && l.includes(id), { from: mark }));
      expect(down.bytesIn).toBeGreaterThan(payload.length);
      expect(down.bytesOut).toBeGreaterThan(payload.length);
      const meanIn = down.bytesIn / down.packetsIn;
      const meanOut = down.bytesOut / down.packetsOut;
      if (offload) {
        // No packet on a 1280-byte link can be larger: these were carried as segments.
        expect(meanIn).toBeGreaterThan(1280);
        expect(meanOut).toBeGreaterThan(1280);
        await waitUntil(async () => !(await routed()).includes('sixsrv0-o'), 5000, () => 'the offload route to go with the session');
      } else {
        expect(Math.max(meanIn, meanOut)).toBeLessThanOrEqual(1280);
      }
      expect(down).toMatchObject({ droppedSpoofed: 0, droppedInvalid: 0, droppedOffload: 0 });
    }
  }, 60_000);

  it('with offload, carries segments that GRO merged from a NIC-like link: the peer checksums in software, the broker merges', async () => {
    // Like a real uplink: the peer's veth computes checksums itself (so no partial ones, no TSO),
    // and the broker's side merges received segments (GRO), marking them verified.
    await topo.peer.must('ethtool', ['-K', 'eth0', 'tx', 'off']);
    await topo.broker.must('ethtool', ['-K', 'side0', 'gro', 'on']);
    try {
      const payload = randomBytes(8 << 20);
      const mark = server.lines.length;
      const c = startClient('offload-gro');
      expect(JSON.parse(await c.waitForLine((l) => l.includes('"up"'))).offload).toBe(true);
      const prefix = JSON.parse(await server.waitForLine((l) => l.includes('"session-up"') && l.includes('offload-gro'), { from: mark })).prefix as string;
      await waitUntil(async () => (await topo.broker.ip(['-6', 'route', 'show', prefix])).includes('dev sixsrv0-o'), 5000, () => 'the route to the offload device');
      const { atClient, atPeer } = await streamBothWays(payload, 15003);
      expect(atClient.equals(payload)).toBe(true);
      expect(atPeer.equals(payload)).toBe(true);
      expect((await c.stop('SIGTERM')).code).toBe(0);
      const down = JSON.parse(await server.waitForLine((l) => l.includes('"session-down"') && l.includes('offload-gro'), { from: mark }));
      // Merged on the way to the client: more than one MTU per packet on average.
      expect(down.bytesOut / down.packetsOut).toBeGreaterThan(1280);
    } finally {
      await topo.peer.must('ethtool', ['-K', 'eth0', 'tx', 'on']);
      await topo.broker.must('ethtool', ['-K', 'side0', 'gro', 'off']);
    }
  }, 60_000);

  it('the server exits 1 with a message when its device fails under it, instead of hanging', async () => {
    const srv = topo.broker.spawn(process.execPath, [
      CLI, 'tunnel-server', '--json', '--listen', `${topo.addresses.brokerV4}:${PORT + 10}`, '--prefix-range', '2001:db8:500::/56', '--ifname', 'sxfail0',
    ]);
    try {
      await srv.waitForLine((l) => l.includes('"listening"'));
      await topo.broker.ip(['link', 'del', 'sxfail0']);
      const exited = await Promise.race([srv.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
      expect(exited, 'still running 5 s after its device was removed').toEqual({ code: 1, signal: null });
      expect(srv.stderr).toMatch(/^sixswarm tunnel-server: stopped: reading the tunnel device sxfail0 failed: /);
      expect(srv.json().at(-1)).toMatchObject({ event: 'stopped' });
    } finally {
      await srv.stop('SIGKILL');
    }
  });

  describe('without the privileges or the device it needs', () => {
    async function assertNothingLeft(ifname: string): Promise<void> {
      expect((await topo.client.exec('ip', ['link', 'show', ifname])).code).not.toBe(0);
      expect(await topo.client.ip(['-6', 'rule', 'show'])).not.toMatch(/lookup 2\d{4}/);
    }

    const nobodyCanRun = nobodyCanRunCli();

    it.skipIf(!nobodyCanRun)('as an unprivileged user: the client in TUN mode and the server say root is needed, exit 1, leave nothing', async () => {
      const up = await topo.client.exec('setpriv', [...NOBODY, process.execPath, CLI, 'tunnel', 'up', '--mode', 'tun', '--server', `${topo.addresses.brokerV4}:${PORT}`, '--id', 'x', '--ifname', 'sxnobody0']);
      expect(up.code).toBe(1);
      expect(up.stderr).toContain('sixswarm tunnel: cannot create the tunnel device: no permission to open /dev/net/tun: run as root (sudo) or with the CAP_NET_ADMIN capability');
      await assertNothingLeft('sxnobody0');

      const srv = await topo.client.exec('setpriv', [...NOBODY, process.execPath, CLI, 'tunnel-server', '--prefix-range', '2001:db8:300::/56', '--ifname', 'sxnobody1']);
      expect(srv.code).toBe(1);
      expect(srv.stderr).toMatch(/no permission to open \/dev\/net\/tun: run as root/);
      await assertNothingLeft('sxnobody1');
    });

    it('as root without capabilities (a locked-down container), in TUN mode: says CAP_NET_ADMIN is needed, exit 1, leaves nothing', async () => {
      const r = await topo.client.exec('setpriv', ['--bounding-set=-all', process.execPath, CLI, 'tunnel', 'up', '--mode', 'tun', '--server', `${topo.addresses.brokerV4}:${PORT}`, '--id', 'x', '--ifname', 'sxnocap0']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('not allowed to create the network device "sxnocap0": run as root (sudo) or with the CAP_NET_ADMIN capability');
      await assertNothingLeft('sxnocap0');
    });

    it('without /dev/net/tun, in TUN mode: says to load the tun module, exit 1, leaves nothing', async () => {
      // A private mount namespace where /dev/net is an empty tmpfs.
      const r = await topo.client.exec('unshare', [
        '-m', 'sh', '-c', 'mount -t tmpfs none /dev/net && exec "$0" "$@"',
        process.execPath, CLI, 'tunnel', 'up', '--mode', 'tun', '--server', `${topo.addresses.brokerV4}:${PORT}`, '--id', 'x', '--ifname', 'sxnotun0',
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('/dev/net/tun does not exist: load the tun kernel module (modprobe tun)');
      await assertNothingLeft('sxnotun0');
    });

    it('rejects bad options with exit 2', async () => {
      const r = await topo.client.exec(process.execPath, [CLI, 'tunnel', 'up', '--server', `${topo.addresses.brokerV4}:${PORT}`, '--mtu', '9000']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--mtu must be a whole number from 1280 to 1400, got "9000"');
      const s = await topo.client.exec(process.execPath, [CLI, 'tunnel-server', '--prefix-range', '2001:db8::/96']);
      expect(s.code).toBe(2);
      expect(s.stderr).toContain('smaller than one /64');
      const long = await topo.client.exec(process.execPath, [CLI, 'tunnel-server', '--prefix-range', '2001:db8:100::/56', '--ifname', 'abcdefghijklmn']);
      expect(long.code).toBe(2);
      expect(long.stderr).toContain('at most 13 characters (its offload device adds "-o")');
    });
  });
});
