/**
 * The engine over the built-in tunnel, in network namespaces (test/support/netns.ts): a sixswarm
 * on an IPv4-only host with `--tunnel` downloads from native IPv6 peers (sixswarm and aria2c),
 * seeds to a native IPv6 peer that connects in (both encrypted: `--encryption require`), rides out a tunnel-server crash mid-transfer,
 * and refuses cleanly without the privileges the tunnel needs.
 *
 *     client ns (IPv4 only)  --192.0.2.0/24-->  broker ns (tunnel server)  --2001:db8:ffff::/64-->  peer ns (IPv6 only)
 */
import { execFileSync } from 'node:child_process';
import { chmod, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../support/build.js';
import { createTunnelTopology, destroyAfterAll, netnsUnavailable, type Netns, type NsProcess, type TunnelTopology, NOBODY, nobodyCanRunCli } from '../support/netns.js';
import { waitUntil } from '../support/peers.js';
import { CLI, makeTree, runCli, sixswarm, spawnTracked, stopAll, tempDir, treeDigest, type JsonEvent, type SixswarmProcess } from '../support/sixswarm.js';

const unavailable = netnsUnavailable();
/** The tunnel server's port on the broker (namespaces have ports of their own). */
const TUNNEL_PORT = 14630;
/** The first /64 of the topology's tunnel range: every client here has the same Id (its uplink MAC). */
const PREFIX = '2001:db8:100::/64';
const TUNNEL_ADDRESS = '2001:db8:100::1';
const PIECE = 256 * 1024;

describe.skipIf(unavailable !== undefined)('the engine over the tunnel (network namespaces)', () => {
  let topo: TunnelTopology;
  let work: string;
  let server: NsProcess;
  /** Payloads by file name: the torrent, the folder that holds the file, its digest and piece count. */
  const payloads = new Map<string, { torrent: string; dir: string; digest: Record<string, string>; pieces: number }>();

  function startServer(extra: string[] = []): NsProcess {
    return topo.broker.spawn(process.execPath, [
      CLI, 'tunnel-server', '--json',
      '--listen', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`,
      '--prefix-range', topo.addresses.tunnelRange,
      '--assignments', join(work, 'assignments.json'),
      ...extra,
    ]);
  }

  async function restartServer(extra: string[] = []): Promise<void> {
    await server?.stop('SIGTERM');
    server = startServer(extra);
    await server.waitForLine((l) => l.includes('"listening"'));
  }

  /** sixswarm running inside `ns`, reporting --json events. */
  function inNs(ns: Netns, args: string[], label: string): SixswarmProcess {
    return sixswarm([...args, '--json', '--no-trackers', '--state-dir', join(work, `state-${label}`)], { wrap: ['ip', 'netns', 'exec', ns.name], label });
  }

  /** A random payload and its torrent (PIECE-sized pieces), made once per name. */
  async function payload(name: string, bytes: number) {
    const have = payloads.get(name);
    if (have) return have;
    const dir = join(work, `data-${name}`);
    await makeTree(dir, { [name]: bytes });
    const torrent = join(work, `${name}.torrent`);
    const made = await runCli(['create', join(dir, name), '-o', torrent, '--piece-length', String(PIECE)]);
    expect(made.code, made.stderr).toBe(0);
    const p = { torrent, dir, digest: await treeDigest(dir), pieces: Math.ceil(bytes / PIECE) };
    payloads.set(name, p);
    return p;
  }

  /** Every piece verified exactly once, none failed, no error, exit 0, and the files are the seed's. */
  async function expectCompleteDownload(leech: SixswarmProcess, out: string, p: { digest: Record<string, string>; pieces: number }): Promise<void> {
    expect(await leech.exited, `${leech.stderr}\n${leech.tail()}`).toBe(0);
    const verified = leech.events.filter((e) => e.event === 'piece-verified').map((e) => e.index as number);
    expect(verified.length).toBe(p.pieces);
    expect(new Set(verified).size).toBe(p.pieces);
    expect(leech.events.filter((e) => e.event === 'piece-failed' || e.event === 'error')).toEqual([]);
    expect(await treeDigest(out)).toEqual(p.digest);
  }

  const tunnelEvents = (p: SixswarmProcess) => p.events.filter((e) => e.event === 'tunnel');
  const isUp = (e: JsonEvent) => e.event === 'tunnel' && e.state === 'up';
  const connected = (p: SixswarmProcess) => p.events.filter((e) => e.event === 'peer-connected');

  async function noTunnelLeft(): Promise<void> {
    expect((await topo.client.exec('ip', ['link', 'show', 'sixtun0'])).code).not.toBe(0);
    expect(await topo.client.ip(['-6', 'route', 'show'])).toBe('');
  }

  beforeAll(async () => {
    ensureBuilt();
    topo = await createTunnelTopology();
    work = await tempDir('sixswarm-tunnel-swarm-');
    await restartServer();
  });

  afterEach(async () => {
    await stopAll();
  });

  destroyAfterAll(() => topo, () => work, stopAll);

  it('an IPv4-only sixswarm with --tunnel downloads from a sixswarm seed on native IPv6, dialing it as soon as the tunnel is up', async () => {
    const p = await payload('a.bin', 6 * 1024 * 1024 + 12345);
    const seed = inNs(topo.peer, ['seed', p.torrent, p.dir, '--port', '0', '--no-ipv4'], 'seed-v6');
    const port = (await seed.waitFor((e) => e.event === 'listening' && e.family === 6, 15_000)).port as number;
    await seed.event('checked');

    // The tunnel server is away when the leecher starts: its first dials of the seed find no
    // IPv6 route and fail. Once the tunnel is up the seed must be dialed again at once, not
    // after the failed peer's backoff.
    await server.stop('SIGTERM');
    const out = join(work, 'out-1');
    const leech = inNs(topo.client, ['download', p.torrent, '-o', out, '--port', '0', '--exit-on-complete', '--encryption', 'require', '--tunnel', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`, '--peer', `[${topo.addresses.peerV6}]:${port}`], 'leech-tunneled');
    await leech.event('checked');
    const refused = (e: JsonEvent) => e.event === 'tunnel' && e.state === 'down' && /ECONNREFUSED/.test(String(e.lastError));
    await leech.waitFor((e) => refused(e) && leech.events.filter(refused).length >= 2, 10_000, 'two refused tunnel attempts');
    expect(connected(leech)).toEqual([]);
    await restartServer();
    const up = await leech.waitFor(isUp, 10_000, 'tunnel up');
    expect(up).toMatchObject({ prefix: PREFIX, address: TUNNEL_ADDRESS, routing: 'default', ifname: 'sixtun0' });
    const first = await leech.event('peer-connected', 10_000);
    expect(Date.parse(first.time as string) - Date.parse(up.time as string), 'from tunnel up to connected').toBeLessThan(1000);
    await leech.event('complete', 60_000);
    await expectCompleteDownload(leech, out, p);

    expect(connected(leech).length).toBeGreaterThan(0);
    // Encrypted through the tunnel (--encryption require on our side, the seed's default prefer).
    for (const c of connected(leech)) expect(c).toMatchObject({ family: 6, address: `[${topo.addresses.peerV6}]:${port}`, direction: 'out', encrypted: true });
    // The seed saw us come from the tunnel's address.
    const seen = await seed.waitFor((e) => e.event === 'peer-connected', 5000);
    expect(seen.address).toMatch(new RegExp(`^\\[${TUNNEL_ADDRESS}\\]:\\d+$`));
    // The tunnel carried the transfer and was taken down on exit, device and routes too.
    const last = leech.events.filter((e) => e.event === 'progress').at(-1)!;
    expect((last.tunnel as { bytesIn: number }).bytesIn).toBeGreaterThan(p.pieces * PIECE * 0.9);
    expect(tunnelEvents(leech).at(-1)).toMatchObject({ state: 'stopped' });
    await noTunnelLeft();
  });

  it('an IPv4-only sixswarm with --tunnel downloads from an aria2c seed on native IPv6 (dialing it)', async () => {
    const p = await payload('a.bin', 6 * 1024 * 1024 + 12345);
    const ariaPort = 6881; // the peer namespace's ports are all free
    const aria = spawnTracked('ip', [
      'netns', 'exec', topo.peer.name, 'aria2c',
      `--dir=${p.dir}`, `--listen-port=${ariaPort}`, '--check-integrity=true', '--seed-ratio=0.0',
      '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
      '--summary-interval=0', '--console-log-level=notice', `--log=${join(work, 'aria2-seed.log')}`, '--log-level=info',
      p.torrent,
    ], { label: 'aria2c seed' });
    // It listens once its data is verified.
    await waitUntil(
      async () => {
        if (aria.proc.exitCode !== null) throw new Error(`aria2c exited (${aria.proc.exitCode}): ${aria.stderr}${aria.stdoutRaw}`);
        return (await topo.peer.exec('ss', ['-Hltn', `sport = :${ariaPort}`])).stdout.includes(`:${ariaPort}`);
      },
      30_000,
      () => `aria2c listening on ${ariaPort}\n${aria.stdoutRaw}${aria.stderr}`,
    );

    const out = join(work, 'out-2');
    const leech = inNs(topo.client, ['download', p.torrent, '-o', out, '--port', '0', '--exit-on-complete', '--tunnel', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`, '--peer', `[${topo.addresses.peerV6}]:${ariaPort}`], 'leech-aria2');
    await leech.waitFor(isUp, 10_000, 'tunnel up');
    await leech.event('complete', 60_000);
    await expectCompleteDownload(leech, out, p);
    expect(connected(leech).length).toBeGreaterThan(0);
    for (const c of connected(leech)) expect(c).toMatchObject({ family: 6, address: `[${topo.addresses.peerV6}]:${ariaPort}` });
    // aria2c took the connection from the tunnel's address.
    expect(await readFile(join(work, 'aria2-seed.log'), 'latin1')).toMatch(new RegExp(`From: ${TUNNEL_ADDRESS}:\\d+ handshake`));
    await noTunnelLeft();
  });

  it('a tunneled sixswarm seeds to a native IPv6 peer that connects in to its tunnel address', async () => {
    const p = await payload('a.bin', 6 * 1024 * 1024 + 12345);
    const seedPort = 51413;
    const seed = inNs(topo.client, ['seed', p.torrent, p.dir, '--port', String(seedPort), '--encryption', 'require', '--tunnel', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`], 'seed-tunneled');
    await seed.event('checked');
    expect(await seed.waitFor(isUp, 10_000, 'tunnel up')).toMatchObject({ prefix: PREFIX, address: TUNNEL_ADDRESS });

    const out = join(work, 'out-3');
    const leech = inNs(topo.peer, ['download', p.torrent, '-o', out, '--port', '0', '--no-ipv4', '--exit-on-complete', '--peer', `[${TUNNEL_ADDRESS}]:${seedPort}`], 'leech-native');
    await leech.event('complete', 60_000);
    await expectCompleteDownload(leech, out, p);
    for (const c of connected(leech)) expect(c).toMatchObject({ family: 6, address: `[${TUNNEL_ADDRESS}]:${seedPort}`, direction: 'out' });

    const incoming = await seed.waitFor((e) => e.event === 'peer-connected', 5000);
    expect(incoming).toMatchObject({ family: 6, direction: 'in', encrypted: true });
    expect(incoming.address).toMatch(new RegExp(`^\\[${topo.addresses.peerV6}\\]:\\d+$`));
    seed.kill('SIGTERM');
    expect(await seed.exited, seed.stderr).toBe(0);
    const last = seed.events.filter((e) => e.event === 'progress').at(-1)!;
    expect(last.uploaded).toBeGreaterThanOrEqual(6 * 1024 * 1024);
    await noTunnelLeft();
  });

  it('survives the tunnel server being killed mid-transfer: back within 3 s on the same prefix, every piece verified', async () => {
    // A per-client rate limit on the server keeps the transfer in flight long enough to cut it.
    await restartServer(['--client-rate', '3M']);
    const p = await payload('b.bin', 20 * 1024 * 1024);
    const seed = inNs(topo.peer, ['seed', p.torrent, p.dir, '--port', '0', '--no-ipv4'], 'seed-crash');
    const port = (await seed.waitFor((e) => e.event === 'listening' && e.family === 6, 15_000)).port as number;
    await seed.event('checked');

    const out = join(work, 'out-4');
    const leech = inNs(topo.client, ['download', p.torrent, '-o', out, '--port', '0', '--exit-on-complete', '--tunnel', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`, '--peer', `[${topo.addresses.peerV6}]:${port}`], 'leech-crash');
    await leech.waitFor(isUp, 10_000, 'tunnel up');
    // Well into the transfer, far from its end.
    await leech.waitFor(() => leech.events.filter((e) => e.event === 'piece-verified').length >= p.pieces / 5, 30_000, 'a fifth of the pieces');
    const haveAtCrash = leech.events.filter((e) => e.event === 'piece-verified').length;
    expect(haveAtCrash).toBeLessThan(p.pieces / 2);

    expect((await server.stop('SIGKILL')).signal).toBe('SIGKILL');
    await leech.waitFor((e) => e.event === 'tunnel' && e.state === 'down', 5000, 'tunnel down');
    server = startServer(['--client-rate', '3M']);
    await server.waitForLine((l) => l.includes('"listening"'), { timeoutMs: 15_000 });
    // From the moment the server can take it back (its own start-up time is not the client's).
    const listeningAt = Date.now();
    const back = await leech.waitFor((e) => isUp(e) && e.reconnects === 1, 5000, 'tunnel up again');
    expect(Date.parse(back.time as string) - listeningAt).toBeLessThan(3000);
    expect(back).toMatchObject({ prefix: PREFIX, address: TUNNEL_ADDRESS });
    expect(leech.events.filter((e) => e.event === 'piece-verified').length, 'still in flight when the tunnel came back').toBeLessThan(p.pieces);

    await leech.event('complete', 60_000);
    await expectCompleteDownload(leech, out, p);
    for (const c of connected(leech)) expect(c.family).toBe(6);
    expect(tunnelEvents(leech).filter(isUp).map((e) => e.prefix)).toEqual([PREFIX, PREFIX]);
    await noTunnelLeft();
  }, 90_000);

  describe('without root', () => {
    const nobodyCanRun = nobodyCanRunCli();

    it.skipIf(!nobodyCanRun)('download --tunnel-mode tun says root is needed, exits 1 and leaves no device, route or data behind (auto takes the stream mode: tunnel-stream.test.ts)', async () => {
      const p = await payload('a.bin', 6 * 1024 * 1024 + 12345);
      const mine = join(work, 'nobody');
      await rm(mine, { recursive: true, force: true });
      execFileSync('install', ['-d', '-o', '65534', '-g', '65534', mine]);
      await chmod(work, 0o755);
      await chmod(p.torrent, 0o644);
      const out = join(mine, 'out');
      const r = await topo.client.exec('setpriv', [
        ...NOBODY, process.execPath, CLI, 'download', p.torrent, '-o', out, '--no-trackers', '--state-dir', join(mine, 'state'),
        '--tunnel', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`, '--tunnel-mode', 'tun', '--peer', `[${topo.addresses.peerV6}]:6881`,
      ]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('cannot create the tunnel device: no permission to open /dev/net/tun: run as root (sudo) or with the CAP_NET_ADMIN capability');
      expect(r.stdout).toBe('');
      await noTunnelLeft();
      expect(await topo.client.ip(['-6', 'rule', 'show'])).not.toMatch(/lookup 2\d{4}/);
      // Nothing was downloaded or recorded: the tunnel is set up before anything else.
      expect(await readdir(out).catch(() => [])).toEqual([]);
      expect(await readdir(join(mine, 'state')).catch(() => [])).toEqual([]);
    });
  });
});

