/**
 * The engine's DHT, end to end over loopback: a local DHT of sixswarm nodes and a python3-libtorrent
 * node (never a public router), a sixswarm seed that announces only into it and a sixswarm
 * leecher that finds the seed there and completes, with a torrent whose tracker is unreachable.
 * `--no-dht` sends nothing; a private torrent (BEP 27) never touches the DHT, proven by a capture
 * of every UDP datagram on loopback; hostile datagrams to the engine's DHT port do not stop a
 * download.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { asDict, decode, encode, type Encodable } from '../../src/bencode/index.js';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import type { Endpoint } from '../../src/dht/rpc.js';
import { pcapRecords, startCapture } from '../support/capture.js';
import { libtorrentDht, localDht, loopbackHost, type LocalDht } from '../support/dht.js';
import { waitUntil } from '../support/peers.js';
import { RawPeerServer, type RawPeer } from '../support/raw-peer.js';
import { cleanUpAfterEach, freePort, type JsonEvent, makeTree, runCli, sixswarm, type SixswarmProcess, tempDir, treeDigest } from '../support/sixswarm.js';

const TREE = { 'a.bin': 1024 * 1024 + 77, 'b/c.bin': 300_001 };

let dir: string | undefined;
let dht: LocalDht | undefined;
const sockets: Socket[] = [];
const servers: RawPeerServer[] = [];
cleanUpAfterEach(() => dir);
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await dht?.stop();
  dht = undefined;
});

/** A payload under <dir>/seed and its torrent; `tracker` is written into it (one that nobody answers). */
async function torrent(name: string, opts: { private?: boolean; tracker?: string } = {}): Promise<{ file: string; infoHash: string }> {
  const d = dir!;
  await makeTree(join(d, `seed-${name}`, name), TREE);
  const file = join(d, `${name}.torrent`);
  const args = ['create', join(d, `seed-${name}`, name), '-o', file, '-l', '64K'];
  if (opts.tracker) args.push('-t', opts.tracker);
  if (opts.private) args.push('--private');
  const made = await runCli(args);
  expect(made.code, made.stderr).toBe(0);
  return { file, infoHash: /infohash ([0-9a-f]{40})/.exec(made.stdout)![1]! };
}

/** Four sixswarm nodes on 127.<first>.0.1.. and a libtorrent node that joined them (127.<first + 4>.0.1). */
async function localNetwork(first: number): Promise<Endpoint> {
  dht = await localDht(4, first);
  const lt = libtorrentDht({ host: loopbackHost(first + 4), port: await freePort(), bootstrap: [dht.router], save: dir! });
  await lt.event('bootstrapped', 30_000);
  await waitUntil(() => dht!.nodes.every((n) => n.stats().nodes >= 4), 15_000, () => `the nodes know libtorrent: ${dht!.nodes.map((n) => n.stats().nodes)}`);
  return dht.router;
}

const bootstrapArgs = (router: Endpoint) => ['--dht-bootstrap', `${router.host}:${router.port}`];

function seed(t: { file: string }, name: string, extra: string[]): SixswarmProcess {
  return sixswarm(['seed', t.file, join(dir!, `seed-${name}`), '--port', '0', '--json', '--state-dir', join(dir!, `state-seed-${name}`), ...extra], { label: `seed ${name}` });
}

/** A leecher of `t` into <dir>/leech-<as> (its own state folder too). */
function leech(t: { file: string }, as: string, extra: string[]): SixswarmProcess {
  return sixswarm(['download', t.file, '-o', join(dir!, `leech-${as}`), '--port', '0', '--json', '--state-dir', join(dir!, `state-leech-${as}`), ...extra], { label: `leech ${as}` });
}

const rounds = (p: SixswarmProcess): JsonEvent[] => p.events.filter((e) => e.event === 'dht');

async function expectSameData(name: string, as = name): Promise<void> {
  expect(await treeDigest(join(dir!, `leech-${as}`))).toEqual(await treeDigest(join(dir!, `seed-${name}`)));
}

/** A UDP socket on `host` that keeps every datagram it gets. */
async function recorder(host: string): Promise<{ socket: Socket; got: Buffer[] }> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  return { socket, got };
}

/** Whether a UDP port on 0.0.0.0 is taken (by a DHT node). */
async function udpTaken(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(true));
    s.bind(port, '0.0.0.0', () => s.close(() => resolve(false)));
  });
}

/** A peer on 127.0.0.1 that has no pieces but serves `info` over ut_metadata (BEP 9) to whoever asks. */
async function metadataServer(infoHash: Buffer, info: Buffer): Promise<RawPeerServer> {
  const server = await RawPeerServer.listen('127.0.0.1');
  servers.push(server);
  server.onPeer(async (p: RawPeer) => {
    await p.readHandshake();
    p.serveMetadata(infoHash, info);
  });
  return server;
}

/** A UDP port free on 0.0.0.0 right now. */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '0.0.0.0', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('DHT options', () => {
  it('refuse an IPv6 bootstrap node, a bad port or a malformed $SIXSWARM_DHT_BOOTSTRAP with exit code 2 and what to give instead', async () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['--dht-bootstrap', '[::1]:6881'], {}, /--dht-bootstrap "\[::1\]:6881": the DHT runs over IPv4 only; give an IPv4 address or a host name/],
      [['--dht-bootstrap', '127.0.0.1'], {}, /missing port/],
      [['--dht-port', '70000'], {}, /--dht-port must be a whole number from 0 to 65535/],
      [[], { SIXSWARM_DHT_BOOTSTRAP: '127.0.0.1:1,nonsense' }, /\$SIXSWARM_DHT_BOOTSTRAP "nonsense"/],
    ];
    for (const [args, env, message] of cases) {
      const r = await runCli(['download', 'none.torrent', ...args], { env });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const help = await runCli(['download', '--help']);
    for (const o of ['--no-dht', '--dht-port N', '--dht-bootstrap HOST:PORT', 'SIXSWARM_DHT_BOOTSTRAP', 'IPv4 only']) expect(help.stdout).toContain(o);
  });
});

describe('the engine finds peers through the DHT', () => {
  it('a leecher whose tracker is unreachable finds a seed that announced only into a local DHT (with libtorrent in it), and completes', async () => {
    dir = await tempDir('sixswarm-dht-engine-');
    const router = await localNetwork(100);
    const t = await torrent('pub', { tracker: `http://127.0.0.1:${await freePort()}/announce` });
    const s = seed(t, 'pub', bootstrapArgs(router));
    const seedPort = await s.port();
    const announced = await s.waitFor((e) => e.event === 'dht' && (e.announcedTo as number) >= 3, 30_000, 'an announce into the DHT');
    expect(announced.torrent).toBe(t.infoHash);
    const l = leech(t, 'pub', [...bootstrapArgs(router), '--exit-on-complete']);
    const dhtListening = await l.event('dht-listening');
    // The DHT takes the peer port by default, over UDP.
    expect(dhtListening).toMatchObject({ address: '0.0.0.0', port: await l.port() });
    await l.event('complete', 60_000);
    expect(await l.exited, l.stderr).toBe(0);
    await expectSameData('pub');

    // (The lookup's own `dht` event may not come: peers reach the swarm as they arrive, and the
    // download can be done and the engine closed before the lookup has converged.)
    const connected = l.events.filter((e) => e.event === 'peer-connected');
    expect(connected[0]).toMatchObject({ address: `127.0.0.1:${seedPort}`, source: 'dht', direction: 'out' });
    // The tracker was tried and failed: the peer can only have come from the DHT.
    expect(l.events.filter((e) => e.event === 'tracker').every((e) => e.error !== undefined)).toBe(true);
    // The routing table is kept for the next start, per DHT port.
    expect(existsSync(join(dir, 'state-leech-pub', `dht-${dhtListening.port as number}.state`))).toBe(true);
    // The local nodes stored the seed's announce (at its peer port, from its DHT address).
    expect(dht!.nodes.reduce((n, d) => n + d.stats().storedPeers, 0)).toBeGreaterThanOrEqual(1);
  });

  it('a leecher that asked before the seed was announced finds it on a later round (sooner while it has few peers)', async () => {
    dir = await tempDir('sixswarm-dht-engine-');
    const router = await localNetwork(110);
    const t = await torrent('late');
    const l = leech(t, 'late', [...bootstrapArgs(router), '--exit-on-complete', '--no-trackers']);
    const first = await l.waitFor((e) => e.event === 'dht', 30_000, 'a first lookup');
    expect(first.peers).toBe(0);
    // The seed stays out of the DHT (it would find the leecher's announce and dial it): a local
    // node announces the seed's port for it, so only the leecher's later lookup can bring them together.
    const s = seed(t, 'late', ['--no-dht', '--no-trackers']);
    const seedPort = await s.port();
    const t0 = Date.now();
    const announcer = dht!.nodes[1]!;
    expect((await announcer.announce(Buffer.from(t.infoHash, 'hex'), seedPort)).announcedTo).toBeGreaterThanOrEqual(1);
    await l.event('complete', 60_000);
    expect(await l.exited, l.stderr).toBe(0);
    await expectSameData('late');
    // The retry came after about 10 s, far sooner than the 15 min of a torrent with enough peers.
    expect(Date.now() - t0).toBeLessThan(25_000);
    expect(rounds(l).length).toBeGreaterThanOrEqual(2);
    expect(l.events.find((e) => e.event === 'peer-connected')).toMatchObject({ source: 'dht', address: `${announcer.address().host}:${seedPort}` });
  });
});

describe('a magnet link with nothing but the info hash', () => {
  it('finds the seed through the DHT, fetches the metadata from it and completes', async () => {
    dir = await tempDir('sixswarm-dht-engine-');
    const router = await localNetwork(160);
    const t = await torrent('bare', { tracker: `http://127.0.0.1:${await freePort()}/announce` });
    const s = seed(t, 'bare', bootstrapArgs(router));
    const seedPort = await s.port();
    await s.waitFor((e) => e.event === 'dht' && (e.announcedTo as number) >= 1, 30_000, 'the seed announcing');
    const l = leech({ file: `magnet:?xt=urn:btih:${t.infoHash}` }, 'bare', [...bootstrapArgs(router), '--exit-on-complete']);
    const metadata = await l.event('metadata', 30_000);
    expect(metadata).toMatchObject({ torrent: t.infoHash, sources: 1 });
    await l.event('complete', 60_000);
    expect(await l.exited, l.stderr).toBe(0);
    await expectSameData('bare');
    expect(l.events.filter((e) => e.event === 'peer-connected')[0]).toMatchObject({ address: `127.0.0.1:${seedPort}`, source: 'dht' });
  });

  it('stops using the DHT once the metadata says the torrent is private: no datagram names it afterwards', async () => {
    dir = await tempDir('sixswarm-dht-engine-');
    const router = await localNetwork(170);
    const t = await torrent('turns', { private: true });
    const meta = await readTorrentFile(t.file);
    const capture = join(dir, 'lo.pcap');
    const dumpcap = await startCapture(capture, 'udp');
    // A private torrent's seed does not serve its metadata (nor do libtorrent's); a peer that
    // does, as some clients do, is the only way a magnet can turn out private.
    const server = await metadataServer(meta.infoHash, meta.infoBuffer);
    const s = seed(t, 'turns', [...bootstrapArgs(router), '--no-trackers']);
    const seedPort = await s.port();
    const magnet = `magnet:?xt=urn:btih:${t.infoHash}&x.pe=${encodeURIComponent(server.address)}`;
    const l = leech({ file: magnet }, 'turns', [...bootstrapArgs(router), '--no-trackers', '--peer', `127.0.0.1:${seedPort}`]);
    const metadata = await l.event('metadata', 30_000);
    await l.event('complete', 60_000);
    await expectSameData('turns');
    // Past the first retry (10 s) of a torrent with few peers.
    await new Promise((r) => setTimeout(r, 13_000));
    for (const p of [l, s]) {
      p.kill();
      expect(await p.exited).toBe(0);
    }
    dumpcap.kill('SIGINT');
    await dumpcap.exited;
    const infoHash = Buffer.from(t.infoHash, 'hex');
    const naming = pcapRecords(await readFile(capture)).filter((r) => r.data.includes(infoHash));
    // Before the metadata, private was unknown: the info hash could be looked up (and announced:
    // the first lookup is often done before the metadata is in). After it, at most what was
    // already in flight (a lookup is stopped within a second), and never a later round.
    const after = Date.parse(metadata.time as string) + 1500;
    expect(naming.filter((r) => r.at > after).map((r) => r.at - after)).toEqual([]);
    expect(rounds(l).filter((e) => Date.parse(e.time as string) > after)).toEqual([]);
  });
});

describe('when the engine must not use the DHT', () => {
  it('--no-dht binds no DHT socket and sends nothing to the bootstrap node; the control run does both', async () => {
    dir = await tempDir('sixswarm-dht-engine-');
    const t = await torrent('off');
    const router = await recorder('127.120.0.1');
    const bootstrap = ['--dht-bootstrap', `127.120.0.1:${router.socket.address().port}`];
    const s = seed(t, 'off', ['--no-dht', '--no-trackers']);
    const seedPort = await s.port();
    const peer = ['--peer', `127.0.0.1:${seedPort}`, '--no-trackers'];

    const control = leech(t, 'control', [...bootstrap, ...peer]);
    const controlPort = await control.port();
    await control.event('complete', 60_000);
    await waitUntil(() => router.got.length > 0, 10_000, () => 'the control run contacting the bootstrap node');
    expect(asDict(decode(router.got[0]!), 'query').get('y')?.toString()).toBe('q');
    expect(await udpTaken(controlPort)).toBe(true);
    control.kill();
    expect(await control.exited).toBe(0);

    await expectSameData('off', 'control');
    router.got.length = 0;
    // uTP would bind the port's UDP socket too (the DHT shares it): TCP alone leaves it free.
    const off = leech(t, 'off', [...bootstrap, ...peer, '--no-dht', '--transports', 'tcp']);
    const offPort = await off.port();
    await off.event('complete', 60_000);
    expect(await udpTaken(offPort)).toBe(false);
    await new Promise((r) => setTimeout(r, 1000));
    off.kill();
    expect(await off.exited).toBe(0);
    expect(router.got).toEqual([]);
    expect(off.events.filter((e) => e.event.startsWith('dht'))).toEqual([]);
    expect(s.events.filter((e) => e.event.startsWith('dht'))).toEqual([]);
    await expectSameData('off');
  });

  it('a private torrent never reaches the DHT: no UDP datagram on loopback carries its info hash, while a public one does', async () => {
    dir = await tempDir('sixswarm-dht-engine-');
    const router = await localNetwork(130);
    const priv = await torrent('priv', { private: true });
    const pub = await torrent('pub');
    const capture = join(dir, 'lo.pcap');
    const dumpcap = await startCapture(capture, 'udp');

    // Both ends of the private torrent run a DHT node (given the local DHT) and find each other by --peer only.
    const s = seed(priv, 'priv', [...bootstrapArgs(router), '--no-trackers']);
    const seedPort = await s.port();
    const l = leech(priv, 'priv', [...bootstrapArgs(router), '--no-trackers', '--peer', `127.0.0.1:${seedPort}`]);
    await l.event('dht-listening');
    await s.event('dht-listening');
    // The control: a public torrent's seed with the same DHT is looked up and announced.
    const control = seed(pub, 'pub', [...bootstrapArgs(router), '--no-trackers']);
    await control.waitFor((e) => e.event === 'dht' && (e.announcedTo as number) >= 1, 30_000, 'the control announcing');
    await l.event('complete', 60_000);
    await expectSameData('priv');
    // Longer than the first retry of a torrent with few peers (10 s): a round would have happened.
    await new Promise((r) => setTimeout(r, 12_000));
    for (const p of [l, s]) {
      p.kill();
      expect(await p.exited).toBe(0);
    }
    dumpcap.kill('SIGINT');
    await dumpcap.exited;

    const pcap = await readFile(capture);
    expect(pcap.indexOf(Buffer.from(pub.infoHash, 'hex')), 'the capture sees the public torrent in get_peers/announce_peer').toBeGreaterThan(0);
    expect(pcap.indexOf(Buffer.from(priv.infoHash, 'hex')), 'no datagram names the private torrent').toBe(-1);
    expect(rounds(l)).toEqual([]);
    expect(rounds(s)).toEqual([]);
    // The private engines' DHT nodes did run and talk (they answer others' queries, for other torrents).
    expect(l.events.find((e) => e.event === 'dht-listening')).toBeDefined();
  });
});

describe('hostile datagrams to the engine DHT port', () => {
  it('do not stop a download that finds its seed through the DHT meanwhile, and the node still answers afterwards', async () => {
    dir = await tempDir('sixswarm-dht-engine-');
    await localNetwork(140);
    const t = await torrent('hostile');
    const dhtPort = await freeUdpPort();
    const l = leech(t, 'hostile', [...bootstrapArgs(dht!.router), '--no-trackers', '--dht-port', String(dhtPort)]);
    expect(await l.event('dht-listening')).toMatchObject({ port: dhtPort });
    expect(await l.port()).not.toBe(dhtPort);
    const to = { host: '127.0.0.1', port: dhtPort };
    const attacker = await recorder('127.150.0.1');
    const send = (m: Buffer) => new Promise<void>((r) => attacker.socket.send(m, to.port, to.host, () => r()));
    const id = randomBytes(20);
    const hostile: (string | Buffer | Record<string, Encodable>)[] = [
      'l-3:e',
      'd1:t-3:abe',
      '4294967296:x',
      'l'.repeat(5000),
      Buffer.alloc(65_507, 0x6c),
      { t: 'a1', y: 'q', q: 'ping', a: { id: 5 } },
      { t: 'a2', y: 'q', q: 'get_peers', a: { id, info_hash: ['x'] } },
      { t: 'a3', y: 'q', q: 'announce_peer', a: { id, info_hash: Buffer.from(t.infoHash, 'hex'), port: 1, token: 'forged' } },
      { t: 'a4', y: 'r', r: { id: 5, values: { a: 1 } } },
      { t: 'a5', y: 'q', q: 7 },
    ];
    const t0 = Date.now();
    for (const m of hostile) await send(typeof m === 'string' ? Buffer.from(m, 'latin1') : Buffer.isBuffer(m) ? m : encode(m));
    // A flood of pings and find_nodes (about 2,000 a second) from then until the download is done.
    let flooding = true;
    let flooded = 0;
    const flood = (async () => {
      while (flooding) {
        for (let i = 0; i < 20; i++, flooded++) attacker.socket.send(encode({ t: 'fl', y: 'q', q: i % 2 ? 'ping' : 'find_node', a: { id: randomBytes(20), target: randomBytes(20) } }), to.port, to.host);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    // Only now is there a seed to find: out of the DHT itself, announced for it by a local node.
    const s = seed(t, 'hostile', ['--no-dht', '--no-trackers']);
    const seedPort = await s.port();
    expect((await dht!.nodes[2]!.announce(Buffer.from(t.infoHash, 'hex'), seedPort)).announcedTo).toBeGreaterThanOrEqual(1);
    try {
      await l.event('complete', 60_000);
    } finally {
      flooding = false;
      await flood;
    }
    const seconds = (Date.now() - t0) / 1000;
    await expectSameData('hostile');
    expect(l.events.find((e) => e.event === 'peer-connected')).toMatchObject({ source: 'dht', address: `${dht!.nodes[2]!.address().host}:${seedPort}` });
    expect(flooded).toBeGreaterThan(5000);
    // The flood earned the attacker little: 50 datagrams a second per host, after a burst of 100.
    expect(attacker.got.length).toBeLessThan(100 + 50 * seconds + hostile.length);
    const honest = await recorder('127.151.0.1');
    await waitUntil(async () => {
      honest.got.length = 0;
      await new Promise<void>((r) => honest.socket.send(encode({ t: 'hp', y: 'q', q: 'ping', a: { id: randomBytes(20) } }), to.port, to.host, () => r()));
      await new Promise((r) => setTimeout(r, 300));
      return honest.got.some((m) => asDict(decode(m), 'reply').get('y')?.toString() === 'r');
    }, 10_000, () => 'the engine DHT answering an honest ping');
    l.kill();
    expect(await l.exited, l.stderr).toBe(0);
    expect(l.events.filter((e) => e.event === 'error')).toEqual([]);
  });
});
