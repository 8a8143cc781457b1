/**
 * TCP and uTP together (--transports), over real sockets on loopback: the network that listens on
 * TCP and accepts uTP on the same port's UDP sockets, its dial (the transport known to work
 * first, TCP first for a stranger, the other at once when the first is refused, the working one
 * remembered), and two in-process engines with every pairing of transports moving a torrent over
 * the one both speak, verified; one connection kept when both dial each other over different
 * transports; `tcp` alone never sends a uTP packet.
 */
import dgram from 'node:dgram';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_UTP_REASON } from '../../src/ext/ut-holepunch/index.js';
import type { Family } from '../../src/net/address.js';
import { KernelNetwork } from '../../src/transport/kernel/kernel-network.js';
import type { Network } from '../../src/transport/network.js';
import type { Transport } from '../../src/transport/transport.js';
import { TcpAndUtpNetwork, type TransportSet } from '../../src/utp/tcp-and-utp-network.js';
import { UtpNetwork } from '../../src/utp/utp-network.js';
import { pcapRecords, startCapture } from '../support/capture.js';
import { startDaemon } from '../support/daemon.js';
import { ensureBuilt, runCli, seedPayload, sixswarm, stopAll, tempDir } from '../support/sixswarm.js';
import { LOOPBACK, sha1, transportsEngine, type TestEngine } from '../support/utp.js';

const closing: Array<{ close(): Promise<void> }> = [];
let dir: string | undefined;
afterEach(async () => {
  await stopAll();
  for (const c of closing.splice(0).reverse()) await c.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A network listening on loopback of `family` (port 0); what it accepts is kept open. */
async function listening<N extends Network>(network: N, family: Family): Promise<{ network: N; port: number; accepted: Transport[] }> {
  const accepted: Transport[] = [];
  const [l] = await network.listen({ port: 0, ipv4: family === 4, ipv6: family === 6, host4: LOOPBACK[4], host6: LOOPBACK[6] }, (t) => accepted.push(t));
  closing.push(network);
  return { network, port: l!.port, accepted };
}

const signal = () => AbortSignal.timeout(10_000);

describe('a network that speaks TCP and uTP', () => {
  it('listens on both on one port, dials a stranger over TCP, and over uTP a peer said to speak it, remembered after', async () => {
    const server = await listening(new TcpAndUtpNetwork(new KernelNetwork()), 6);
    const client = await listening(new TcpAndUtpNetwork(new KernelNetwork()), 6);
    const target = { host: '::1', port: server.port };
    // TCP and UDP on the same port: the UDP socket is the one uTP runs on.
    expect((await server.network.datagrams(6)).address().port).toBe(server.port);
    const first = await client.network.dial(target, { signal: signal() });
    expect(first.kind).toBe('tcp');
    first.close();
    const hinted = await client.network.dial(target, { signal: signal(), prefer: 'utp' });
    expect(hinted.kind).toBe('utp');
    hinted.close();
    // Remembered: the next dial, with no hint, goes over uTP first (TCP first would win on loopback).
    const again = await client.network.dial(target, { signal: signal() });
    expect(again.kind).toBe('utp');
    again.close();
    // The server learned it too: the peer reached it over uTP from the port it listens on.
    const back = await server.network.dial({ host: '::1', port: client.port }, { signal: signal() });
    expect(back.kind).toBe('utp');
    back.close();
    // `only` dials one transport whatever is known.
    const tcp = await client.network.dial(target, { signal: signal(), only: 'tcp' });
    expect(tcp.kind).toBe('tcp');
    tcp.close();
  });

  it('reaches a uTP-only peer at once (TCP refused starts uTP without waiting), and a TCP-only peer over TCP', async () => {
    const utpOnly = await listening(new UtpNetwork(new KernelNetwork()), 4);
    const tcpOnly = await listening(new KernelNetwork(), 4);
    const client = await listening(new TcpAndUtpNetwork(new KernelNetwork()), 4);
    const t0 = performance.now();
    const viaUtp = await client.network.dial({ host: '127.0.0.1', port: utpOnly.port }, { signal: signal() });
    expect(viaUtp.kind).toBe('utp');
    expect(performance.now() - t0).toBeLessThan(400); // not the 500 ms stagger
    viaUtp.close();
    const viaTcp = await client.network.dial({ host: '127.0.0.1', port: tcpOnly.port }, { signal: signal() });
    expect(viaTcp.kind).toBe('tcp');
    viaTcp.close();
    // A uTP-only network refuses to dial TCP, the kernel's refuses uTP.
    await expect(utpOnly.network.dial({ host: '127.0.0.1', port: tcpOnly.port }, { signal: signal(), only: 'tcp' })).rejects.toThrow(/does not speak TCP/);
    await expect(tcpOnly.network.dial({ host: '127.0.0.1', port: utpOnly.port }, { signal: signal(), only: 'utp' })).rejects.toThrow(/does not speak uTP/);
  });

  it('says why neither transport reached an address, keeping the refusal recognisable', async () => {
    const client = await listening(new TcpAndUtpNetwork(new KernelNetwork()), 4);
    const nobody = await boundUdpPort(); // held, silent: nothing answers uTP there, TCP is refused
    try {
      // uTP waits a bounded time once TCP is refused (an address the peer left), not the dial's 10 s.
      const t0 = performance.now();
      const e = await client.network.dial({ host: '127.0.0.1', port: nobody.port }, { signal: signal() }).then(() => undefined, (err: Error) => err);
      expect(e?.message).toMatch(/ECONNREFUSED.*\(TCP\); no answer to the uTP SYN within 1 s \(uTP\)/);
      expect((e as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      expect(performance.now() - t0).toBeLessThan(2_000);
    } finally {
      nobody.socket.close();
    }
  });

  it('gives uTP the whole dial when it went first (the peer is known to speak it), though TCP is refused', async () => {
    const client = await listening(new TcpAndUtpNetwork(new KernelNetwork(), { staggerMs: 50 }), 4);
    const nobody = await boundUdpPort(); // silent over uTP, TCP refused: a peer whose uTP answers late
    try {
      const t0 = performance.now();
      const e = await client.network.dial({ host: '127.0.0.1', port: nobody.port }, { signal: AbortSignal.timeout(2_500), prefer: 'utp' }).then(() => undefined, (err: Error) => err);
      expect(e?.message).not.toMatch(/within 1 s/);
      expect(performance.now() - t0).toBeGreaterThan(2_000);
    } finally {
      nobody.socket.close();
    }
  });

  it('across a NAT a stranger gets uTP first, and a refused TCP dial still ends it within a second or so (a peer that left)', async () => {
    const asked: string[] = [];
    const across = (t: { host: string }) => (asked.push(t.host), true);
    const client = await listening(new TcpAndUtpNetwork(new KernelNetwork(), { staggerMs: 50, acrossNat: across }), 4);
    const direct = await listening(new TcpAndUtpNetwork(new KernelNetwork(), { staggerMs: 50, acrossNat: () => false }), 4);
    const server = await listening(new TcpAndUtpNetwork(new KernelNetwork()), 4);
    // A peer speaking both: uTP, tried first, wins across the NAT; TCP, tried first, wins otherwise.
    for (const [network, kind] of [[client.network, 'utp'], [direct.network, 'tcp']] as const) {
      const t = await network.dial({ host: '127.0.0.1', port: server.port }, { signal: signal() });
      expect(t.kind).toBe(kind);
      t.close();
    }
    asked.length = 0;
    const nobody = await boundUdpPort(); // silent over uTP, TCP refused
    try {
      const t0 = performance.now();
      const e = await client.network.dial({ host: '127.0.0.1', port: nobody.port }, { signal: AbortSignal.timeout(8_000) }).then(() => undefined, (err: Error) => err);
      expect(asked).toEqual(['127.0.0.1']);
      expect(e?.message).toMatch(/ECONNREFUSED.*\(TCP\); no answer to the uTP SYN within 1 s \(uTP\)/);
      expect((e as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      expect(performance.now() - t0).toBeLessThan(3_000);
    } finally {
      nobody.socket.close();
    }
  });

  it('refuses a port whose UDP half is taken, and port 0 finds one free for both', async () => {
    const taken = await boundUdpPort('::');
    try {
      const network = new TcpAndUtpNetwork(new KernelNetwork());
      closing.push(network);
      const e = await network.listen({ port: taken.port, ipv4: false, ipv6: true }, (t) => t.close()).then(() => undefined, (err: Error) => err);
      expect(e?.message).toBe(`UDP port ${taken.port} is already in use; pick another with --port`);
      expect((e as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
      expect(network.listening()).toEqual([]); // nothing half-open on TCP
      const got = await network.listen({ port: 0, ipv4: true, ipv6: true, host4: LOOPBACK[4], host6: LOOPBACK[6] }, (t) => t.close());
      expect(got.map((l) => l.port)).toEqual([got[0]!.port, got[0]!.port]);
      for (const family of [4, 6] as const) expect((await network.datagrams(family)).address().port).toBe(got[0]!.port);
    } finally {
      taken.socket.close();
    }
  });
});

/** A UDP socket bound to a free port on loopback (or `host`): silent, it answers nothing. */
function boundUdpPort(host = '127.0.0.1'): Promise<{ socket: dgram.Socket; port: number }> {
  const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: host.includes(':') });
  return new Promise((resolve) => socket.bind(0, host, () => resolve({ socket, port: socket.address().port })));
}

const BOTH: TransportSet = { tcp: true, utp: true };
const TCP: TransportSet = { tcp: true, utp: false };
const UTP: TransportSet = { tcp: false, utp: true };
const name = (t: TransportSet) => [t.tcp && 'tcp', t.utp && 'utp'].filter(Boolean).join(',');

/** A seed and a leecher of a fresh 2 MiB torrent over loopback of `family`, with their transports. */
async function swarmOf(family: Family, seedTransports: TransportSet, leechTransports: TransportSet, size = 2 * 1024 * 1024 + 99, seedUp?: number) {
  dir = await tempDir('sixswarm-transports-');
  const { torrent, payload } = await seedPayload(dir, { 'data.bin': size }, 64 * 1024);
  const seed = await transportsEngine({ family, torrent, dir: join(dir, 'seed'), stateDir: join(dir, 'seed-state'), transports: seedTransports, ...(seedUp ? { rates: { up: seedUp } } : {}) });
  closing.push(seed);
  await seed.event((e) => e.event === 'complete', 20_000, 'the seed checked its data');
  const leech = await transportsEngine({ family, torrent, dir: join(dir, 'leech'), stateDir: join(dir, 'leech-state'), transports: leechTransports });
  closing.push(leech);
  return { seed, leech, payload, dir };
}

/** The uTP datagrams a network has received on each family (0 when it has no uTP socket). */
async function utpDatagramsIn(e: TestEngine): Promise<number> {
  const n = e.network;
  if (!(n instanceof TcpAndUtpNetwork || n instanceof UtpNetwork)) return 0;
  return Object.values(await n.stats()).reduce((sum, s) => sum + (s?.datagramsIn ?? 0), 0);
}

describe('two engines, each with its --transports', () => {
  const pairings = [
    { family: 6, seed: UTP, leech: BOTH, over: 'utp' },
    { family: 4, seed: UTP, leech: BOTH, over: 'utp' },
    { family: 6, seed: TCP, leech: BOTH, over: 'tcp' },
    { family: 6, seed: BOTH, leech: UTP, over: 'utp' },
    { family: 4, seed: BOTH, leech: BOTH, over: 'tcp' },
    { family: 4, seed: UTP, leech: UTP, over: 'utp' },
  ].map((p) => ({ ...p, label: `seed ${name(p.seed)}, leecher ${name(p.leech)}` })) as Array<{ family: Family; seed: TransportSet; leech: TransportSet; over: 'tcp' | 'utp'; label: string }>;
  it.each(pairings)('$label, over IPv$family: the torrent moves over $over', async ({ family, seed: st, leech: lt, over }) => {
    const { seed, leech, payload } = await swarmOf(family, st, lt);
    leech.torrent.swarm!.addPeers([{ host: LOOPBACK[family], port: seed.port }], { kind: 'manual' });
    await leech.event((e) => e.event === 'complete', 30_000, `the download (seed ${name(st)}, leecher ${name(lt)})`);
    expect(sha1(await readFile(join(dir!, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
    const connected = leech.events.filter((e) => e.event === 'peer-connected');
    expect(connected).toHaveLength(1);
    expect(connected[0]).toMatchObject({ direction: 'out', transport: over, family });
    expect(seed.events.find((e) => e.event === 'peer-connected')).toMatchObject({ direction: 'in', transport: over });
    expect(leech.events.filter((e) => e.event === 'peer-unreachable')).toEqual([]);
  });

  it('a leecher with --transports tcp sends no uTP: it reaches a seed on both over TCP, and a uTP-only seed not at all', async () => {
    const { seed, leech, payload } = await swarmOf(6, BOTH, TCP);
    await cp(join(dir!, 'seed'), join(dir!, 'seed2'), { recursive: true });
    const utpOnly = await transportsEngine({ family: 6, torrent: join(dir!, 't.torrent'), dir: join(dir!, 'seed2'), stateDir: join(dir!, 'utp-seed-state'), transports: UTP });
    closing.push(utpOnly);
    await utpOnly.event((e) => e.event === 'complete', 20_000, 'the uTP-only seed checked its data');
    leech.torrent.swarm!.addPeers([{ host: '::1', port: utpOnly.port }], { kind: 'manual' });
    await leech.event((e) => e.event === 'peer-unreachable', 10_000, 'the uTP-only seed found unreachable');
    leech.torrent.swarm!.addPeers([{ host: '::1', port: seed.port, utp: true }], { kind: 'manual' });
    await leech.event((e) => e.event === 'complete', 30_000, 'the download over TCP');
    expect(sha1(await readFile(join(dir!, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
    expect(leech.events.filter((e) => e.event === 'peer-connected')).toEqual([expect.objectContaining({ transport: 'tcp', address: `[::1]:${seed.port}` })]);
    // Neither seed's uTP socket ever heard from it, even for the peer said to speak uTP.
    expect(await utpDatagramsIn(seed)).toBe(0);
    expect(await utpDatagramsIn(utpOnly)).toBe(0);
    expect(leech.network).toBeInstanceOf(KernelNetwork);
    // Holepunches need uTP: the leecher says why it has none; the seeds (uTP on) can punch.
    expect(leech.torrent.holepunch!.off).toBe(NO_UTP_REASON);
    expect(seed.torrent.holepunch!.off).toBeUndefined();
    expect(utpOnly.torrent.holepunch!.off).toBeUndefined();
  });

  it('keeps one connection, the same at both ends, when each dials the other at once, one over uTP and one over TCP', async () => {
    // A seed slowed to 2 MiB/s: the download is still running when the connections are counted.
    const { seed, leech } = await swarmOf(6, BOTH, BOTH, 6 * 1024 * 1024, 2 * 1024 * 1024);
    // The leecher heard the seed speaks uTP (as PEX flag 0x04 says); the seed dials the leecher as a stranger: TCP.
    leech.torrent.swarm!.addPeers([{ host: '::1', port: seed.port, utp: true }], { kind: 'manual' });
    seed.torrent.swarm!.addPeers([{ host: '::1', port: leech.port }], { kind: 'manual' });
    await leech.event((e) => e.event === 'peer-connected', 10_000, 'a connection');
    await new Promise((r) => setTimeout(r, 1500)); // both dials have ended one way or the other
    const atLeech = leech.torrent.swarm!.peerInfo();
    const atSeed = seed.torrent.swarm!.peerInfo();
    expect(atLeech).toHaveLength(1);
    expect(atSeed).toHaveLength(1);
    expect(atLeech[0]!.transport).toBe(atSeed[0]!.transport);
    expect(atLeech[0]!.direction).not.toBe(atSeed[0]!.direction);
    // The leecher's dial did reach the seed over uTP (whether or not its connection was the one kept).
    // (Its network remembers: a dial with no hint goes over uTP first, where TCP first would win on loopback.)
    const again = await leech.network.dial({ host: '::1', port: seed.port }, { signal: signal() });
    expect(again.kind).toBe('utp');
    again.close();
    await leech.event((e) => e.event === 'complete', 30_000, 'the download');
  });

  it('PEX tells that a peer speaks uTP (flag 0x04), and the peer that hears it dials it over uTP first', async () => {
    const { seed, leech, payload } = await swarmOf(6, BOTH, BOTH, 4 * 1024 * 1024, 2 * 1024 * 1024);
    // A third engine connects to the seed over uTP (it was told so), then the leecher connects to it.
    const middle = await transportsEngine({ family: 6, torrent: join(dir!, 't.torrent'), dir: join(dir!, 'middle'), stateDir: join(dir!, 'middle-state'), transports: BOTH });
    closing.push(middle);
    middle.torrent.swarm!.addPeers([{ host: '::1', port: seed.port, utp: true }], { kind: 'manual' });
    expect(await middle.event((e) => e.event === 'peer-connected', 10_000, 'the middle reaching the seed')).toMatchObject({ transport: 'utp' });
    leech.torrent.swarm!.addPeers([{ host: '::1', port: middle.port }], { kind: 'manual' });
    // The middle's PEX names the seed with flag 0x04; a stranger would get TCP first (the seed speaks both).
    const viaPex = await leech.event((e) => e.event === 'peer-connected' && e.source === 'pex', 15_000, 'the leecher dialing the seed it heard of by PEX');
    expect(viaPex).toMatchObject({ address: `[::1]:${seed.port}`, transport: 'utp', direction: 'out' });
    expect(leech.events.find((e) => e.event === 'peer-connected' && e.source === 'manual')).toMatchObject({ transport: 'tcp' });
    await leech.event((e) => e.event === 'complete', 30_000, 'the download');
    expect(sha1(await readFile(join(dir!, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
  });

  it('the daemon with --transports utp: Transmission RPC says uTP is on, and lists a peer on it as uTP (isUTP, flag T)', async () => {
    // A seed slowed to 512 KiB/s: the daemon's download is still running when its peers are listed.
    const { seed } = await swarmOf(4, BOTH, BOTH, 2 * 1024 * 1024, 512 * 1024);
    const d = await startDaemon(dir!, ['--transports', 'utp', '--no-ipv6']);
    closing.push({ close: async () => void (d.proc.kill('SIGTERM'), await d.proc.exited) });
    expect((await d.rpc.call('session-get', { fields: ['utp-enabled', 'sixswarm-transports'] })).arguments).toEqual({ 'utp-enabled': true, 'sixswarm-transports': ['utp'] });
    const added = await d.rpc.call('torrent-add', { metainfo: (await readFile(join(dir!, 't.torrent'))).toString('base64') });
    expect(added.result).toBe('success');
    // The seed dials the daemon as a stranger: TCP is refused (nothing listens), uTP at once.
    seed.torrent.swarm!.addPeers([{ host: '127.0.0.1', port: d.peerPort }], { kind: 'manual' });
    const t = await d.rpc.waitTorrent(seed.torrent.infoHashHex, ['peers'], (x) => (x.peers as unknown[]).length > 0, 15_000, 'the seed among its peers');
    expect((t.peers as Array<Record<string, unknown>>)[0]).toMatchObject({ isUTP: true, isIncoming: true, flagStr: expect.stringMatching(/^T/) });
    expect(seed.events.find((e) => e.event === 'peer-connected')).toMatchObject({ transport: 'utp' });
  });

  it('sixswarm download --transports tcp sends no UDP packet to a peer that speaks both (captured on loopback); utp does', async () => {
    ensureBuilt();
    const { seed } = await swarmOf(6, BOTH, BOTH);
    const probe = Buffer.from('sixswarm capture probe'); // no uTP header: the seed drops it unanswered
    const captured: Record<string, Buffer[]> = {};
    for (const transports of ['tcp', 'utp']) {
      const capture = join(dir!, `${transports}.pcap`);
      const dumpcap = await startCapture(capture, `udp port ${seed.port}`);
      await new Promise((r) => setTimeout(r, 500)); // dumpcap says it captures a little before it does
      const leech = sixswarm(['download', join(dir!, 't.torrent'), '-o', join(dir!, `cli-${transports}`), '--peer', `[::1]:${seed.port}`, '--port', '0', '--no-ipv4', '--no-dht', '--no-trackers', '--transports', transports, '--exit-on-complete', '--json'], {
        env: { SIXSWARM_STATE_DIR: join(dir!, `cli-${transports}-state`) },
        label: `download --transports ${transports}`,
      });
      expect(await leech.event('peer-connected', 10_000)).toMatchObject({ transport: transports });
      await leech.event('complete', 30_000);
      expect(await leech.exited).toBe(0);
      // The capture is live to the end: the probe is in it.
      const socket = dgram.createSocket({ type: 'udp6', ipv6Only: true });
      await new Promise<void>((r) => socket.send(probe, seed.port, '::1', () => r()));
      socket.close();
      await new Promise((r) => setTimeout(r, 300));
      dumpcap.kill('SIGINT');
      await dumpcap.exited;
      captured[transports] = pcapRecords(await readFile(capture)).map((x) => x.data);
    }
    expect(captured.tcp!.map((d) => d.includes(probe))).toEqual([true]);
    expect(captured.utp!.length).toBeGreaterThan(20); // 2 MiB over uTP (large sends go out as GSO batches)
    expect(captured.utp!.filter((d) => d.includes(probe))).toHaveLength(1);
  });

  it('a --transports that names anything but tcp and utp is refused, from the command line or the config file', async () => {
    ensureBuilt();
    dir = await tempDir('sixswarm-transports-');
    const { torrent } = await seedPayload(dir, { 'data.bin': 1000 }, 16 * 1024);
    const env = { XDG_CONFIG_HOME: join(dir, 'xdg'), SIXSWARM_CONFIG: '', SIXSWARM_STATE_DIR: join(dir, 'state') };
    const typed = await runCli(['download', torrent, '-o', join(dir, 'out'), '--transports', 'tcp,quic'], { env });
    expect(typed).toMatchObject({ code: 2, stderr: 'sixswarm download: --transports is a list of tcp and utp (tcp,utp; tcp; utp), not "tcp,quic"\n' });
    const path = join(dir, 'xdg', 'sixswarm', 'config.toml');
    await mkdir(join(dir, 'xdg', 'sixswarm'), { recursive: true });
    await writeFile(path, 'transports = ""\n');
    const filed = await runCli(['seed', torrent, join(dir, 'seed'), '--port', '0'], { env });
    expect(filed).toMatchObject({ code: 2, stderr: `sixswarm seed: the config file ${path}: "transports" is a list of tcp and utp (tcp,utp; tcp; utp), not ""\n` });
  });
});
