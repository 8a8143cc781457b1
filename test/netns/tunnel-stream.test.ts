/**
 * The tunnel's stream mode end to end, in the tunnel tests' namespaces (test/support/netns.ts),
 * with sixswarm run as user nobody in the IPv4-only client namespace (no root, no TUN device):
 *   - it downloads from a native IPv6 libtorrent seed, and a native libtorrent leecher dials in
 *     to its prefix::1 and downloads from it; data verified both ways;
 *   - the server killed with -9 and restarted mid-transfer: back within 3 s on the same prefix,
 *     the download resumes and completes, every piece verified once;
 *   - one server serving a TUN-mode sixswarm, a stream-mode sixswarm and a client written like the
 *     original (test/support/original-tunnel-client.py), all downloading at once.
 *
 *     client ns (IPv4 only)  --192.0.2.0/24-->  broker ns (tunnel server)  --2001:db8:ffff::/64-->  peer ns (IPv6 only)
 *     ref ns (IPv4 only)     --198.51.100.0/24-->  broker ns                                     (the mixed case)
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../support/build.js';
import { createNetns, createTunnelTopology, destroyAfterAll, netnsUnavailable, NOBODY, nobodyCanRunCli, veth, type Netns, type NsProcess, type TunnelTopology } from '../support/netns.js';
import { libtorrentPeer, libtorrentPeers, PYTHON } from '../support/peers.js';
import { builtInTracker, CLI, makeTree, ROOT, runCli, sixswarm, stopAll, tempDir, treeDigest, type JsonEvent, type SixswarmProcess } from '../support/sixswarm.js';

const unavailable = netnsUnavailable() ?? (nobodyCanRunCli() ? undefined : 'user nobody cannot read dist/bin/sixswarm.js here');
const TUNNEL_PORT = 14632;
const PIECE = 256 * 1024;
const REF_CLIENT = join(ROOT, 'test', 'support', 'original-tunnel-client.py');

describe.skipIf(unavailable !== undefined)('the tunnel\'s stream mode, without root (network namespaces)', () => {
  let topo: TunnelTopology;
  let work: string;
  /** Owned by nobody: outputs and state folders of the runs without root. */
  let mine: string;
  let server: NsProcess;
  const payloads = new Map<string, { torrent: string; dir: string; digest: Record<string, string>; pieces: number }>();

  function startServer(extra: string[] = []): NsProcess {
    return topo.broker.spawn(process.execPath, [
      CLI, 'tunnel-server', '--json',
      '--listen', `0.0.0.0:${TUNNEL_PORT}`,
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

  /** sixswarm as user nobody in the client namespace, with the tunnel. */
  function asNobody(args: string[], label: string): SixswarmProcess {
    return sixswarm([...args, '--json', '--no-trackers', '--no-dht', '--state-dir', join(mine, `state-${label}`), '--tunnel', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`], {
      wrap: ['ip', 'netns', 'exec', topo.client.name, 'setpriv', ...NOBODY],
      label,
    });
  }

  function inNs(ns: Netns, args: string[], label: string): SixswarmProcess {
    return sixswarm([...args, '--json', '--no-trackers', '--no-dht', '--state-dir', join(work, `state-${label}`)], { wrap: ['ip', 'netns', 'exec', ns.name], label });
  }

  async function payload(name: string, bytes: number) {
    const have = payloads.get(name);
    if (have) return have;
    const dir = join(work, `data-${name}`);
    await makeTree(dir, { [name]: bytes });
    const torrent = join(work, `${name}.torrent`);
    const made = await runCli(['create', join(dir, name), '-o', torrent, '--piece-length', String(PIECE)]);
    expect(made.code, made.stderr).toBe(0);
    execFileSync('chmod', ['-R', 'a+rX', dir, torrent]);
    const p = { torrent, dir, digest: await treeDigest(dir), pieces: Math.ceil(bytes / PIECE) };
    payloads.set(name, p);
    return p;
  }

  async function expectCompleteDownload(leech: SixswarmProcess, out: string, p: { digest: Record<string, string>; pieces: number }): Promise<void> {
    expect(await leech.exitCode(60_000), `${leech.stderr}\n${leech.tail()}`).toBe(0);
    const verified = leech.events.filter((e) => e.event === 'piece-verified').map((e) => e.index as number);
    expect(new Set(verified).size).toBe(p.pieces);
    expect(verified.length).toBe(p.pieces);
    expect(leech.events.filter((e) => e.event === 'piece-failed' || e.event === 'error')).toEqual([]);
    expect(await treeDigest(out)).toEqual(p.digest);
  }

  const isUp = (e: JsonEvent) => e.event === 'tunnel' && e.state === 'up';
  const v6 = (host: string, port: number) => `[${host}]:${port}`;

  beforeAll(async () => {
    ensureBuilt();
    topo = await createTunnelTopology();
    work = await tempDir('sixswarm-tunnel-stream-');
    await chmod(work, 0o755);
    mine = join(work, 'nobody');
    execFileSync('install', ['-d', '-o', '65534', '-g', '65534', mine]);
    await restartServer();
  });

  afterEach(async () => {
    await stopAll();
  });

  destroyAfterAll(() => topo, () => work, stopAll);

  it('downloads from a native IPv6 libtorrent seed, and seeds to a native libtorrent leecher that dials in to its prefix::1', async () => {
    const p = await payload('a.bin', 8 * 1024 * 1024 + 777);
    const seed = libtorrentPeer({ torrent: p.torrent, save: p.dir, port: 6881, listen: [`[${topo.addresses.peerV6}]`], wrap: ['ip', 'netns', 'exec', topo.peer.name] });
    await seed.waitFor((e) => e.event === 'checked' && e.seeding === true, 30_000, 'libtorrent seed checked');

    const out = join(mine, 'out-a');
    const leech = asNobody(['download', p.torrent, '-o', out, '--port', '0', '--exit-on-complete', '--peer', v6(topo.addresses.peerV6, 6881)], 'leech-nobody');
    const up = await leech.waitFor(isUp, 15_000, 'tunnel up');
    expect(up).toMatchObject({ mode: 'stream', prefix: '2001:db8:100::/64', address: '2001:db8:100::1' });
    expect(up.modeReason).toMatch(/^stream mode: no root/);
    await leech.event('complete', 60_000);
    await expectCompleteDownload(leech, out, p);
    for (const c of leech.events.filter((e) => e.event === 'peer-connected')) expect(c).toMatchObject({ family: 6, address: v6(topo.addresses.peerV6, 6881), direction: 'out' });
    // libtorrent saw us come from our prefix::1: the server dialed from there.
    expect(libtorrentPeers(seed).some((l) => l.startsWith('in 2001:db8:100::1:'))).toBe(true);
    const last = leech.events.filter((e) => e.event === 'progress').at(-1)!;
    expect((last.tunnel as { bytesIn: number }).bytesIn).toBeGreaterThan(8 * 1024 * 1024);
    expect(server.json().find((e) => e.event === 'session-up')).toMatchObject({ mode: 'streams', prefix: '2001:db8:100::/64' });
    seed.kill();

    // Now the other way: our download is the seed, and libtorrent dials in to prefix::1.
    const ours = asNobody(['seed', p.torrent, out, '--port', '51413'], 'seed-nobody');
    await ours.waitFor(isUp, 15_000, 'tunnel up');
    await ours.event('checked');
    const peerOut = join(work, 'peer-out');
    const lt = libtorrentPeer({ torrent: p.torrent, save: peerOut, port: 6882, listen: [`[${topo.addresses.peerV6}]`], connect: [v6('2001:db8:100::1', 51413)], wrap: ['ip', 'netns', 'exec', topo.peer.name] });
    await lt.event('complete', 60_000);
    expect(await treeDigest(peerOut)).toEqual(p.digest);
    expect(lt.events.filter((e) => e.event === 'hash-failed')).toEqual([]);
    const incoming = await ours.waitFor((e) => e.event === 'peer-connected', 5000, 'libtorrent at our seed');
    expect(incoming).toMatchObject({ family: 6, direction: 'in' });
    expect(incoming.address).toMatch(new RegExp(`^\\[${topo.addresses.peerV6}\\]:\\d+$`));
    ours.kill('SIGTERM');
    expect(await ours.exitCode(), ours.stderr).toBe(0);
    const sent = ours.events.filter((e) => e.event === 'progress').at(-1)!;
    expect(sent.uploaded).toBeGreaterThanOrEqual(8 * 1024 * 1024);
  });

  it('survives the tunnel server being killed with -9 mid-transfer: back within 3 s on the same prefix, the download resumes', async () => {
    // The server paces each client: the transfer stays in flight long enough to cut it.
    await restartServer(['--client-rate', '2M']);
    const p = await payload('b.bin', 24 * 1024 * 1024);
    const seed = inNs(topo.peer, ['seed', p.torrent, p.dir, '--port', '0', '--no-ipv4'], 'seed-crash');
    const port = (await seed.waitFor((e) => e.event === 'listening' && e.family === 6, 15_000)).port as number;
    await seed.event('checked');

    const out = join(mine, 'out-b');
    // Over TCP: its relayed streams close with the tunnel connection. (A uTP connection, which may
    // win the dial on a loaded machine, rides a relayed UDP flow that is bound again on the next
    // session: it waits out the drop instead, as over a lost link.)
    const leech = asNobody(['download', p.torrent, '-o', out, '--port', '0', '--exit-on-complete', '--transports', 'tcp', '--peer', v6(topo.addresses.peerV6, port)], 'leech-crash');
    await leech.waitFor(isUp, 15_000, 'tunnel up');
    await leech.waitFor(() => leech.events.filter((e) => e.event === 'piece-verified').length >= p.pieces / 5, 30_000, 'a fifth of the pieces');

    expect((await server.stop('SIGKILL')).signal).toBe('SIGKILL');
    await leech.waitFor((e) => e.event === 'tunnel' && e.state === 'down', 5000, 'tunnel down');
    // Its streams closed with the connection, as TCP through a lost link would.
    await leech.waitFor((e) => e.event === 'peer-disconnected' && /tunnel connection was lost/.test(String(e.reason)), 5000, 'peer lost with the tunnel');
    const haveAtCrash = leech.events.filter((e) => e.event === 'piece-verified').length;
    expect(haveAtCrash).toBeLessThan(p.pieces * 0.8);

    server = startServer(['--client-rate', '2M']);
    await server.waitForLine((l) => l.includes('"listening"'), { timeoutMs: 15_000 });
    const listeningAt = Date.now();
    const back = await leech.waitFor((e) => isUp(e) && e.reconnects === 1, 5000, 'tunnel up again');
    expect(Date.parse(back.time as string) - listeningAt).toBeLessThan(3000);
    expect(back).toMatchObject({ mode: 'stream', prefix: '2001:db8:100::/64', address: '2001:db8:100::1' });
    // The seed is dialed again at once, and the rest comes.
    const again = await leech.waitFor((e) => e.event === 'peer-connected' && Date.parse(e.time as string) >= Date.parse(back.time as string), 5000, 'reconnected to the seed');
    expect(Date.parse(again.time as string) - Date.parse(back.time as string)).toBeLessThan(1500);
    await leech.event('complete', 60_000);
    await expectCompleteDownload(leech, out, p);
  }, 120_000);

  it('announces to HTTP and UDP trackers over IPv6 through the relay, from its prefix::1, and finds its seed there', async () => {
    const p = await payload('a.bin', 8 * 1024 * 1024 + 777);
    const { proc: tracker, port } = await builtInTracker(['--http', '--udp', '--bind', topo.addresses.peerV6], { wrap: ['ip', 'netns', 'exec', topo.peer.name] });
    const http = `http://[${topo.addresses.peerV6}]:${port}/announce`;
    const udp = `udp://[${topo.addresses.peerV6}]:${port}`;
    // The seed is known to the tracker only.
    const seed = sixswarm(['seed', p.torrent, p.dir, '--port', '0', '--no-ipv4', '--json', '--no-dht', '--tracker', http, '--state-dir', join(work, 'state-tracked-seed')], {
      wrap: ['ip', 'netns', 'exec', topo.peer.name],
      label: 'tracked seed',
    });
    await tracker.waitFor((e) => e.type === 'announce' && e.transport === 'http', 15_000, 'the seed announced');
    const tracked = (args: string[], label: string) =>
      sixswarm([...args, '--port', '0', '--json', '--no-dht', '--state-dir', join(mine, `state-${label}`), '--tunnel', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`], {
        wrap: ['ip', 'netns', 'exec', topo.client.name, 'setpriv', ...NOBODY],
        label,
      });
    const fromUs = (transport: string) => (e: JsonEvent) => e.type === 'announce' && e.transport === transport && String(e.peer).startsWith('[2001:db8:100::1]:');
    // Over UDP (a flow through the relay): the tracker is where it learns of the seed.
    const out = join(mine, 'out-tracked');
    const leech = tracked(['download', p.torrent, '-o', out, '--exit-on-complete', '--tracker', udp], 'tracked-leech');
    await leech.waitFor(isUp, 15_000, 'tunnel up');
    await tracker.waitFor(fromUs('udp'), 15_000, 'our UDP announce over IPv6');
    await leech.event('complete', 60_000);
    await expectCompleteDownload(leech, out, p);
    expect(leech.events.find((e) => e.event === 'peer-connected')).toMatchObject({ source: 'tracker', family: 6 });
    // Over HTTP (a stream through the relay), as the seed it has become.
    const reseed = tracked(['seed', p.torrent, out, '--tracker', http], 'tracked-reseed');
    await tracker.waitFor(fromUs('http'), 15_000, 'our HTTP announce over IPv6');
    reseed.kill();
    seed.kill();
  });

  it('the UDP socket on its port works both ways through the relay (what uTP over IPv6 uses)', async () => {
    // A UDP echo in the peer namespace, and one unsolicited datagram to our prefix::1.
    const echo = topo.peer.spawn(process.execPath, ['-e', `
      const s = require('node:dgram').createSocket('udp6');
      s.on('message', (m, r) => { s.send(m, r.port, r.address); s.send(Buffer.from('hello ' + r.address), r.port, r.address); });
      s.bind(9999, '${topo.addresses.peerV6}', () => console.log('ready'));`]);
    await echo.waitForLine((l) => l === 'ready');
    const dist = pathToFileURL(join(ROOT, 'dist', 'src')).href;
    const probe = topo.client.spawn('setpriv', [...NOBODY, process.execPath, '--input-type=module', '-e', `
      const { TunnelClient } = await import('${dist}/tunnel/client.js');
      const client = new TunnelClient({ server: '${topo.addresses.brokerV4}:${TUNNEL_PORT}', id: 'udp-probe', mode: 'stream' });
      await client.start();
      const net = client.network;
      await net.listen({ port: 6881, ipv4: false, ipv6: true }, (t) => t.close());
      const ch = await net.datagrams(6);
      ch.receive('krpc', (b, from) => console.log(JSON.stringify({ got: b.toString(), from })));
      client.on('up', async ({ address }) => {
        console.log(JSON.stringify({ address }));
        await new Promise((r) => setTimeout(r, 300)); // the socket is bound again on the new session
        ch.send(Buffer.from('d1:ad2:id20:xxxxxxxxxxxxxxxxxxxxe1:q4:ping1:t2:aa1:y1:qe'), 9999, '${topo.addresses.peerV6}', (e) => console.log(JSON.stringify({ sent: e ? e.message : 'ok' })));
      });
      `]);
    const got = (what: RegExp) => probe.waitForLine((l) => what.test(l), { timeoutMs: 15_000 });
    expect(JSON.parse(await got(/"sent"/))).toEqual({ sent: 'ok' });
    expect(JSON.parse(await got(/"got":"d1:ad2/))).toEqual({ got: 'd1:ad2:id20:xxxxxxxxxxxxxxxxxxxxe1:q4:ping1:t2:aa1:y1:qe', from: { host: topo.addresses.peerV6, port: 9999 } });
    // The echo saw us at our prefix::1: the server's socket for us is bound there.
    const { address } = JSON.parse(await got(/"address"/)) as { address: string };
    expect(JSON.parse(await got(/"got":"hello/))).toMatchObject({ got: `hello ${address}` });
    await probe.stop('SIGKILL');
  });

  it('an engine bound to a tunnel that came up before it (the stream mode connects during start) still takes its address', async () => {
    const dist = pathToFileURL(join(ROOT, 'dist', 'src')).href;
    const probe = topo.client.spawn('setpriv', [...NOBODY, process.execPath, '--input-type=module', '-e', `
      const { once } = await import('node:events');
      const { TunnelClient } = await import('${dist}/tunnel/client.js');
      const { Engine } = await import('${dist}/engine/engine.js');
      const { bindTunnel, networkFor } = await import('${dist}/engine/tunnel-binding.js');
      const client = new TunnelClient({ server: '${topo.addresses.brokerV4}:${TUNNEL_PORT}', id: 'late-bind', mode: 'stream' });
      await client.start();
      await once(client, 'up');
      const engine = new Engine({ port: 0, ipv4: true, ipv6: true, stateDir: '${join(mine, 'state-late-bind')}' }, networkFor(client, undefined));
      const reported = [];
      bindTunnel(engine, client, (st) => reported.push(st.state));
      console.log(JSON.stringify({ own: engine.ownAddresses.get(), reported, address: client.status().address }));
      await engine.close();
      await client.stop();
      `]);
    const line = JSON.parse(await probe.waitForLine((l) => l.startsWith('{"own"'), { timeoutMs: 15_000 })) as { own: Record<string, string>; reported: string[]; address: string };
    expect(line.address).toMatch(/^2001:db8:100:/);
    expect(line.own[6]).toBe(line.address);
    expect(line.reported).toEqual(['up']);
    await probe.stop('SIGKILL');
  });

  it('tunnel up as nobody: the stream mode, a SOCKS5 proxy to IPv6 and a port of this host forwarded from prefix::1', async () => {
    await restartServer();
    const www = join(work, 'www');
    await makeTree(www, { 'peer.txt': 1000, 'client.txt': 2000 });
    execFileSync('chmod', ['-R', 'a+rX', www]);
    topo.peer.spawn(PYTHON, ['-m', 'http.server', '8000', '--bind', topo.addresses.peerV6, '--directory', www]);
    topo.client.spawn(PYTHON, ['-m', 'http.server', '8080', '--bind', '127.0.0.1', '--directory', www]);
    const up = topo.client.spawn('setpriv', [...NOBODY, process.execPath, CLI, 'tunnel', 'up', '--json', '--server', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`, '--socks', '127.0.0.1:1081', '--forward', '8081:8080']);
    const starting = JSON.parse(await up.waitForLine((l) => l.includes('"starting"'))) as JsonEvent;
    expect(starting).toMatchObject({ mode: 'stream', socks: '127.0.0.1:1081', forwards: [{ port: 8081, to: 8080 }] });
    expect(String(starting.modeReason)).toMatch(/^stream mode: no root/);
    expect(JSON.parse(await up.waitForLine((l) => l.includes('"up"')))).toMatchObject({ prefix: '2001:db8:100::/64', address: '2001:db8:100::1', mode: 'stream' });
    const digest = await treeDigest(www);
    /** The sha1 of what curl fetched in `ns`. */
    const fetch = async (ns: Netns, args: string[]) => {
      const file = join(work, `fetched-${Math.random().toString(36).slice(2)}`);
      const r = await ns.exec('curl', ['-sS', '-m', '10', '-o', file, ...args]);
      expect(r.code, r.stderr).toBe(0);
      return createHash('sha1').update(await readFile(file)).digest('hex');
    };
    // Out through the proxy: the peer's web server.
    expect(await fetch(topo.client, ['--socks5-hostname', '127.0.0.1:1081', `http://[${topo.addresses.peerV6}]:8000/peer.txt`])).toBe(digest['peer.txt']);
    // In through the forward: the peer fetches from the client's own loopback web server at prefix::1.
    expect(await fetch(topo.peer, ['http://[2001:db8:100::1]:8081/client.txt'])).toBe(digest['client.txt']);
    // A port nobody forwards is refused there.
    expect((await topo.peer.exec('curl', ['-sS', '-m', '5', 'http://[2001:db8:100::1]:8082/'])).code).not.toBe(0);
    expect((await up.stop('SIGTERM')).code).toBe(0);
  });

  it('against a server that does not offer the stream mode (the original, or --no-streams): says so and keeps trying', async () => {
    await restartServer(['--no-streams']);
    const up = topo.client.spawn('setpriv', [...NOBODY, process.execPath, CLI, 'tunnel', 'up', '--json', '--server', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`, '--socks', '127.0.0.1:1082']);
    const status = (l: string) => l.includes('"status"') && l.includes('does not offer the stream mode');
    const first = JSON.parse(await up.waitForLine(status, { timeoutMs: 10_000 })) as JsonEvent;
    expect(first).toMatchObject({ state: 'down', mode: 'stream' });
    expect(String(first.lastError)).toMatch(/^the server does not offer the stream mode, which this host needs \(stream mode: no root.*\): use a sixswarm tunnel-server, or run as root for the TUN mode$/);
    // It keeps trying, every 2 s.
    await up.waitForLine((l) => l.includes('"connecting"'), { timeoutMs: 5000, from: up.lines.indexOf(up.lines.find(status)!) + 1 });
    // The server never agreed: each attempt got a plain packet session, which the client left at once.
    const ups = server.json().filter((e) => e.event === 'session-up');
    expect(ups.length).toBeGreaterThanOrEqual(1);
    for (const e of ups) expect(e).toMatchObject({ mode: 'packets' });
    await up.stop('SIGTERM');
    await restartServer();
  });

  it('serves a TUN-mode client, a stream-mode client and a client like the original at once', async () => {
    await restartServer();
    // A fourth host, IPv4 only, for the original-style client (its TUN device takes the default route there).
    const ref = await createNetns('ref');
    try {
      await veth(topo.broker, 'down1', ref, 'up0');
      await ref.must('sysctl', ['-qw', 'net.ipv6.conf.up0.disable_ipv6=1']);
      await ref.ip(['addr', 'add', '198.51.100.2/24', 'dev', 'up0']);
      await ref.ip(['route', 'add', 'default', 'via', '198.51.100.1']);
      await topo.broker.ip(['addr', 'add', '198.51.100.1/24', 'dev', 'down1']);
      const refClient = ref.spawn(PYTHON, [REF_CLIENT, '198.51.100.1', String(TUNNEL_PORT), 'reftun0']);
      const refUp = JSON.parse(await refClient.waitForLine((l) => l.includes('"up"'), { timeoutMs: 15_000 })) as { prefix: string };

      const p = await payload('c.bin', 6 * 1024 * 1024 + 5);
      const seed = libtorrentPeer({ torrent: p.torrent, save: p.dir, port: 6881, listen: [`[${topo.addresses.peerV6}]`], wrap: ['ip', 'netns', 'exec', topo.peer.name] });
      await seed.waitFor((e) => e.event === 'checked' && e.seeding === true, 30_000, 'libtorrent seed checked');
      const at = v6(topo.addresses.peerV6, 6881);
      const outs = { tun: join(work, 'out-tun'), stream: join(mine, 'out-stream'), ref: join(work, 'out-ref') };
      const leeches = {
        tun: inNs(topo.client, ['download', p.torrent, '-o', outs.tun, '--port', '0', '--exit-on-complete', '--peer', at, '--tunnel', `${topo.addresses.brokerV4}:${TUNNEL_PORT}`, '--tunnel-mode', 'tun'], 'leech-tun'),
        stream: asNobody(['download', p.torrent, '-o', outs.stream, '--port', '0', '--exit-on-complete', '--peer', at, '--tunnel-id', 'stream-client'], 'leech-stream'),
        // The reference host has IPv6 through its own device: a plain sixswarm uses it.
        ref: inNs(ref, ['download', p.torrent, '-o', outs.ref, '--port', '0', '--exit-on-complete', '--peer', at], 'leech-ref'),
      };
      const upTun = await leeches.tun.waitFor(isUp, 15_000, 'TUN-mode tunnel up');
      const upStream = await leeches.stream.waitFor(isUp, 15_000, 'stream-mode tunnel up');
      expect(upTun).toMatchObject({ mode: 'tun', offload: true });
      expect(upStream).toMatchObject({ mode: 'stream' });
      expect(new Set([upTun.prefix, upStream.prefix, refUp.prefix]).size).toBe(3);
      for (const [name, leech] of Object.entries(leeches)) {
        await leech.event('complete', 60_000);
        await expectCompleteDownload(leech, outs[name as keyof typeof outs], p);
      }
      // libtorrent saw each of them from its own prefix.
      const seen = libtorrentPeers(seed).filter((l) => l.startsWith('in '));
      for (const prefix of [upTun.prefix, upStream.prefix, refUp.prefix]) {
        const base = String(prefix).replace(/::\/64$/, '::1:');
        expect(seen.some((l) => l.startsWith(`in ${base}`)), `${prefix} in ${seen.join(', ')}`).toBe(true);
      }
      const ups = server.json().filter((e) => e.event === 'session-up');
      expect(new Set(ups.map((e) => e.mode)), JSON.stringify(ups)).toEqual(new Set(['offload', 'packets', 'streams']));
    } finally {
      await ref.destroy();
    }
  }, 120_000);
});
