/**
 * Attacks on a sixswarm DHT node, over real UDP on loopback (each honest node on its own
 * 127.N.0.1, attackers on addresses of their own): a Sybil host with 200 ports that answers with
 * ever-closer ids and fake peers at a third host (eclipse), the same host and 1,263 sources that
 * never answer filling the routing table (poisoning, and the table saved to disk), get_peers
 * replies as an amplifier towards a spoofed requester. The node keeps finding the honest seed,
 * bounds what one IP gets into its table and its lookups, and saves only what it verified.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BDict, asBytes, asDict, decode, encode } from '../../src/bencode/index.js';
import { Dht } from '../../src/dht/dht.js';
import { bep42Valid } from '../../src/dht/bep42.js';
import { decodeNodes, encodeNodes, encodeQuery } from '../../src/dht/krpc.js';
import { encodeCompactPeer } from '../../src/net/compact.js';
import type { PeerAddress } from '../../src/net/compact.js';
import { localDht, loopbackHost, type LocalDht } from '../support/dht.js';
import { SybilHost, randomId, send, udpSocket } from '../support/dht-attacker.js';
import { waitUntil } from '../support/peers.js';
import { pcapRecords, startCapture } from '../support/capture.js';
import { ensureBuilt, makeTree, removeDir, runCli, sixswarm, stopAll, tempDir, treeDigest } from '../support/sixswarm.js';

let net: LocalDht | undefined;
const extra: Dht[] = [];
const closers: (() => void)[] = [];
let dir: string | undefined;
beforeAll(ensureBuilt);
afterEach(async () => {
  await stopAll();
  for (const c of closers.splice(0)) c();
  await Promise.all(extra.splice(0).map((n) => n.stop()));
  await net?.stop();
  net = undefined;
  await removeDir(dir);
  dir = undefined;
});

async function node(host: string, bootstrap: { host: string; port: number }[], stateFile?: string): Promise<Dht> {
  const d = new Dht({ port: 0, host, bootstrap, stateFile, queryTimeoutMs: 500 });
  extra.push(d);
  await d.start();
  return d;
}

/** Look up `infoHash` until `want` is among the peers or `ms` pass; the time it took (Infinity: never) and every peer seen. */
async function timeToFind(d: Dht, infoHash: Buffer, want: (p: PeerAddress) => boolean, ms: number): Promise<{ ms: number; peers: PeerAddress[]; lookups: number }> {
  const t0 = Date.now();
  const peers: PeerAddress[] = [];
  let lookups = 0;
  while (Date.now() - t0 < ms) {
    const found: PeerAddress[] = [];
    lookups++;
    await d.lookup(infoHash, (p) => found.push(...p));
    peers.push(...found);
    if (found.some(want)) return { ms: Date.now() - t0, peers, lookups };
    await new Promise((r) => setTimeout(r, 200));
  }
  return { ms: Infinity, peers, lookups };
}

describe('a Sybil host with 200 ports (eclipse)', () => {
  it('does not capture the lookup: the honest seed is found in seconds, and few fake peers at a third host come out', { timeout: 60_000 }, async () => {
    net = await localDht(8, 10);
    const infoHash = randomBytes(20);
    const seedPort = 51413;
    expect((await net.nodes[3]!.announce(infoHash, seedPort)).announcedTo).toBeGreaterThanOrEqual(3);
    const seedHost = net.nodes[3]!.address().host;

    const sybil = await SybilHost.start(loopbackHost(66), 200, { target: infoHash, fakePeers: { host: loopbackHost(77), count: 120 } });
    closers.push(() => sybil.close());
    const victim = await node(loopbackHost(50), [net.router]);
    await waitUntil(() => victim.stats().verifiedNodes >= 8, 15_000, () => `the victim joins: ${victim.stats().nodes} nodes`);
    // Every node hears of all 200 ports (the honest ones pass them on), the victim too.
    for (const n of [...net.nodes, victim]) await sybil.pingFromAll(n.address());
    await new Promise((r) => setTimeout(r, 1000));

    const r = await timeToFind(victim, infoHash, (p) => p.host === seedHost && p.port === seedPort, 20_000);
    const third = r.peers.filter((p) => p.host === loopbackHost(77));
    console.log(`eclipse: seed found after ${r.ms} ms in ${r.lookups} lookups; third-host peers handed out: ${third.length}; sybil answered ${sybil.answered} queries; table ${JSON.stringify(victim.stats().nodes)} nodes`);
    expect(r.ms).toBeLessThan(10_000);
    // At most a few ports of one host per lookup, however many a node names.
    expect(third.length).toBeLessThanOrEqual(4 * r.lookups);
    // One node of the Sybil host in the routing table, whatever its 200 ports said.
    expect(victim.stats().nodes).toBeLessThanOrEqual(8 + 1 + 8);
  });
});

describe('a Sybil host against the engine', () => {
  it('few SYNs reach the third host it names while a leecher looks up for 25 s, and the honest seed is found once announced', { timeout: 120_000 }, async () => {
    dir = await tempDir('sixswarm-dht-sybil-');
    const d = dir;
    net = await localDht(6, 10);
    await makeTree(join(d, 'seed', 'sy'), { 'a.bin': 1024 * 1024 });
    const torrent = join(d, 'sy.torrent');
    const made = await runCli(['create', join(d, 'seed', 'sy'), '-o', torrent, '-l', '64K']);
    expect(made.code, made.stderr).toBe(0);
    const infoHash = Buffer.from(/infohash ([0-9a-f]{40})/.exec(made.stdout)![1]!, 'hex');
    const third = loopbackHost(77);
    const sybil = await SybilHost.start(loopbackHost(66), 200, { target: infoHash, fakePeers: { host: third, count: 120 } });
    closers.push(() => sybil.close());
    for (const n of net.nodes) await sybil.pingFromAll(n.address());
    const capture = join(d, 'syn.pcap');
    const dumpcap = await startCapture(capture, `tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0 and dst host ${third}`);
    const leech = sixswarm(['download', torrent, '-o', join(d, 'leech'), '--port', '0', '--json', '--no-trackers', '--dht-bootstrap', `${net.router.host}:${net.router.port}`, '--state-dir', join(d, 'state-leech')], { label: 'leech' });
    const listening = await leech.event('dht-listening', 15_000);
    await sybil.pingFromAll({ host: '127.0.0.1', port: listening.port as number });
    // Its lookup rounds come at about 0, 10 and 30 s (sooner while it has few peers); the seed is announced before the third.
    await new Promise((r) => setTimeout(r, 25_000));
    const rounds = leech.events.filter((e) => e.event === 'dht').length;
    const synsBefore = pcapRecords(await readFile(capture)).length;

    // Now the seed (out of the DHT itself) is announced into it by an honest node.
    const seed = sixswarm(['seed', torrent, join(d, 'seed'), '--port', '0', '--json', '--no-dht', '--no-trackers', '--state-dir', join(d, 'state-seed')], { label: 'seed' });
    const seedPort = await seed.port();
    expect((await net.nodes[2]!.announce(infoHash, seedPort)).announcedTo).toBeGreaterThanOrEqual(1);
    const t0 = Date.now();
    await leech.event('complete', 60_000);
    const found = (Date.now() - t0) / 1000;
    dumpcap.kill('SIGINT');
    await dumpcap.exited;
    const syns = pcapRecords(await readFile(capture)).length;
    console.log(`sybil vs engine: ${synsBefore} SYNs to the third host in 25 s (${rounds} lookup rounds), ${syns} in all; seed found and download complete ${found.toFixed(1)} s after its announce`);
    expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
    // At most 4 ports of one host per lookup; the swarm may try each of those a few times.
    expect(synsBefore).toBeLessThanOrEqual(4 * Math.max(rounds, 1) * 8);
    expect(syns).toBeLessThan(100);
  });
});

/**
 * Nodes on their own addresses that answer pings (so they count as verified) and nothing else;
 * `pester` they ping that node every 300 ms, so it keeps hearing of them (and verifying them).
 */
async function pingOnly(count: number, firstHost: number, pester?: () => { host: string; port: number } | undefined): Promise<{ host: string; port: number; id: Buffer }[]> {
  const out = [];
  for (let i = 0; i < count; i++) {
    const s = await udpSocket(loopbackHost(firstHost + i));
    const id = randomId();
    s.on('message', (b, from) => {
      const m = asDict(decode(b), 'message');
      if (m.get('q')?.toString() === 'ping') void send(s, { host: from.address, port: from.port }, { t: asBytes(m.get('t'), 't'), y: 'r', r: { id } });
    });
    const timer = setInterval(() => {
      const to = pester?.();
      if (to) void send(s, to, { t: 'pp', y: 'q', q: 'ping', a: { id } });
    }, 300);
    closers.push(() => {
      clearInterval(timer);
      s.close();
    });
    out.push({ host: loopbackHost(firstHost + i), port: s.address().port, id });
  }
  return out;
}

/** A free UDP port on `host` right now. */
async function freeUdpPort(host: string): Promise<number> {
  const s = await udpSocket(host);
  const { port } = s.address();
  s.close();
  return port;
}

describe('poisoning the routing table', () => {
  it('one IP over 500 ports gets one entry, 1,263 sources that never answer get none that counts, and only verified nodes are saved', { timeout: 60_000 }, async () => {
    dir = await tempDir('sixswarm-dht-poison-');
    const stateFile = join(dir, 'dht.state');
    net = await localDht(8, 10);
    const infoHash = randomBytes(20);
    await net.nodes[5]!.announce(infoHash, 6000);
    const victim = await node(loopbackHost(50), [net.router], stateFile);
    await waitUntil(() => victim.stats().verifiedNodes >= 8, 15_000, () => `the victim joins: ${victim.stats().nodes} nodes`);

    const sybil = await SybilHost.start(loopbackHost(66), 500, { target: infoHash });
    closers.push(() => sybil.close());
    await sybil.pingFromAll(victim.address(), 'random');
    // 1,263 sources in /24s of their own, each sending one query and never answering anything.
    const SPOOFED = 1263;
    const spoofedHost = (i: number) => `127.${200 + (i >> 8)}.${i & 255}.7`;
    for (let i = 0; i < SPOOFED; i++) {
      const s = await udpSocket(spoofedHost(i));
      await send(s, victim.address(), { t: 'sp', y: 'q', q: i % 2 ? 'ping' : 'find_node', a: { id: randomId(), target: randomId() } });
      s.close();
    }
    // The verifying pings (20 a second) and their timeouts.
    await new Promise((r) => setTimeout(r, 4000));
    const s = victim.stats();
    const isSpoofed = (h: string) => /^127\.20[0-4]\./.test(h);
    // The saved table: what answered us, one node per IP.
    const found = await timeToFind(victim, infoHash, (p) => p.port === 6000, 10_000);
    await victim.stop();
    const saved = decodeNodes(asBytes(asDict(decode(await readFile(stateFile)), 'state').get('nodes'), 'nodes'));
    const savedSybil = saved.filter((n) => n.host === sybil.host).length;
    const savedSpoofed = saved.filter((n) => isSpoofed(n.host)).length;
    console.log(`poisoning: table ${s.nodes} nodes (${s.verifiedNodes} verified, ${s.replacementNodes} spares); saved ${saved.length}: ${savedSybil} from the 500-port host, ${savedSpoofed} of ${SPOOFED} silent sources; seed found after ${found.ms} ms`);
    expect(savedSybil).toBeLessThanOrEqual(1);
    expect(savedSpoofed).toBe(0);
    expect(saved.filter((n) => net!.nodes.some((d) => d.address().host === n.host)).length).toBeGreaterThanOrEqual(7);
    expect(s.verifiedNodes).toBeLessThanOrEqual(8 + 1);
    expect(found.ms).toBeLessThan(10_000);
  });

  it('a lookup that gets no answer from its table asks the routers again; lookups that keep failing are a warning', { timeout: 60_000 }, async () => {
    dir = await tempDir('sixswarm-dht-poison-');
    // A table of 8 nodes that answer pings and nothing else (verified, then useless), and a router not up yet.
    let lonely: Dht | undefined;
    const dead = await pingOnly(8, 120, () => lonely?.address());
    const stateFile = join(dir, 'dht.state');
    await writeFile(stateFile, encode({ id: randomId(), nodes: encodeNodes(dead) }));
    const routerPort = await freeUdpPort(loopbackHost(10));
    const warnings: string[] = [];
    const victim = new Dht({ port: 0, host: loopbackHost(50), bootstrap: [{ host: loopbackHost(10), port: routerPort }], stateFile, queryTimeoutMs: 300, onWarning: (m) => warnings.push(m) });
    extra.push(victim);
    await victim.start();
    await waitUntil(() => victim.stats().verifiedNodes >= 8, 10_000, () => `the dead nodes answer their pings: ${victim.stats().verifiedNodes}`);
    // Now the network (and its router) comes up, with the seed announced into it.
    net = await localDht(6, 10, {}, routerPort);
    const infoHash = randomBytes(20);
    await net.nodes[2]!.announce(infoHash, 6001);
    const found: PeerAddress[] = [];
    const r = await victim.lookup(infoHash, (p) => found.push(...p));
    console.log(JSON.stringify(net.nodes.map((n) => [n.stats().nodes, n.stats().verifiedNodes, n.stats().storedPeers])));
    console.log(`fallback: ${r.answers} answers, ${r.peers} peers, ${victim.stats().verifiedNodes} verified nodes`);
    expect(r.answers).toBeGreaterThan(0);
    expect(found.some((p) => p.port === 6001)).toBe(true);

    // Without a router to fall back to, three failing lookups in a row say so.
    lonely = new Dht({ port: 0, host: loopbackHost(51), bootstrap: [], stateFile, queryTimeoutMs: 300, onWarning: (m) => warnings.push(m) });
    extra.push(lonely);
    await lonely.start();
    await waitUntil(() => lonely!.stats().verifiedNodes >= 8, 10_000, () => 'the dead nodes answer their pings');
    warnings.length = 0;
    for (let i = 0; i < 3; i++) {
      await waitUntil(() => lonely!.stats().verifiedNodes >= 1, 5000, () => 'the dead nodes back in the table');
      const r = await lonely.lookup(randomBytes(20), () => {});
      expect(r.queries).toBeGreaterThan(0);
      expect(r.answers).toBe(0);
    }
    expect(warnings).toEqual([expect.stringMatching(/the last 3 DHT lookups got no answer from any node \(\d+ nodes in the routing table\); and it has no bootstrap node \(give one with --dht-bootstrap\)/)]);
  });
});

describe('get_peers as an amplifier', () => {
  it('a requester that has not proven its address gets no more than a find_node answer (some peers, some nodes); one that has gets all 50 peers', { timeout: 30_000 }, async () => {
    // A node in a network, so that its replies carry nodes too (nodes it verified).
    net = await localDht(8, 10);
    const target = await node(loopbackHost(40), [net.router]);
    await waitUntil(() => target.stats().verifiedNodes >= 8, 10_000, () => `the target knows the network: ${target.stats().verifiedNodes}`);
    const to = target.address();
    const infoHash = randomBytes(20);
    // 50 peers announce (each from its own address, with the token its get_peers earned).
    const announcers = [];
    for (let i = 0; i < 50; i++) {
      const s = await udpSocket(`127.${130 + i}.0.9`);
      closers.push(() => s.close());
      announcers.push(s);
      const token = new Promise<Buffer>((r) => s.once('message', (b) => r(asBytes(asDict(asDict(decode(b), 'reply').get('r'), 'r').get('token'), 'token'))));
      await send(s, to, { t: 'gp', y: 'q', q: 'get_peers', a: { id: randomId(), info_hash: infoHash } });
      await send(s, to, { t: 'an', y: 'q', q: 'announce_peer', a: { id: randomId(), info_hash: infoHash, port: 7000 + i, token: await token } });
    }
    await waitUntil(() => target.stats().storedPeers === 50, 5000, () => `stored: ${target.stats().storedPeers}`);

    const query = (s: Awaited<ReturnType<typeof udpSocket>>, q: Buffer) => {
      const reply = new Promise<Buffer>((r) => s.once('message', (b) => r(b)));
      void send(s, to, q);
      return reply.then((b) => {
        const r = asDict(decode(b), 'reply').get('r') as BDict;
        return { bytes: b.length, ratio: b.length / q.length, values: r.get('values') as unknown[] | undefined, nodes: (r.get('nodes') as Buffer | undefined)?.length ?? 0 };
      });
    };
    const getPeers = encodeQuery(Buffer.from('aa'), randomId(), { q: 'get_peers', infoHash });
    const findNode = encodeQuery(Buffer.from('aa'), randomId(), { q: 'find_node', target: infoHash });
    const stranger = await udpSocket(loopbackHost(99));
    closers.push(() => stranger.close());
    const spoofable = await query(stranger, getPeers);
    const baseline = await query(stranger, findNode);
    const proven = await query(announcers[0]!, getPeers);
    console.log(
      `amplification: get_peers to an unproven requester ${spoofable.ratio.toFixed(1)}x (${spoofable.bytes} bytes, ${spoofable.values?.length ?? 0} values, ${spoofable.nodes / 26} nodes); ` +
        `find_node ${baseline.ratio.toFixed(1)}x (${baseline.bytes} bytes); get_peers to a proven one ${proven.ratio.toFixed(1)}x (${proven.values?.length ?? 0} values)`,
    );
    // No bigger than what BEP 5 answers anyone to find_node (a token's few bytes aside), with some peers and nodes in it.
    expect(spoofable.bytes).toBeLessThanOrEqual(baseline.bytes + 20);
    expect(spoofable.ratio).toBeLessThan(3.5);
    expect(spoofable.values?.length).toBeGreaterThan(0);
    expect(spoofable.nodes).toBeGreaterThan(0);
    expect(proven.values).toHaveLength(50);
  });
});

describe('BEP 42 node ids', () => {
  it('a node takes a BEP 42 id once three /24s agree on its global address, not on one liar\'s word, and tells requesters their address', { timeout: 30_000 }, async () => {
    // Responders that tell whoever asks that its address is `claim` (a documentation address: global in the tests).
    const responders = async (hosts: string[], claim: string) =>
      Promise.all(
        hosts.map(async (host) => {
          const s = await udpSocket(host);
          closers.push(() => s.close());
          const id = randomId();
          s.on('message', (b, from) => {
            const m = asDict(decode(b), 'query');
            void send(s, { host: from.address, port: from.port }, { ip: encodeCompactPeer({ host: claim, port: from.port }), t: asBytes(m.get('t'), 't'), y: 'r', r: { id, nodes: Buffer.alloc(0) } });
          });
          return { host, port: s.address().port };
        }),
      );
    const liar = await responders([loopbackHost(60)], '198.51.100.99');
    const d = await node(loopbackHost(50), liar);
    await waitUntil(() => d.stats().verifiedNodes >= 1, 5000, () => 'the liar answers');
    const before = d.stats().id;
    expect(d.stats().externalAddress).toBeUndefined();
    expect(bep42Valid(Buffer.from(before, 'hex'), '198.51.100.99')).toBe(false);

    const d2 = await node(loopbackHost(51), await responders([loopbackHost(61), loopbackHost(62), loopbackHost(63)], '203.0.113.7'));
    await waitUntil(() => d2.stats().externalAddress === '203.0.113.7', 5000, () => `agreement: ${d2.stats().externalAddress}`);
    expect(bep42Valid(Buffer.from(d2.stats().id, 'hex'), '203.0.113.7')).toBe(true);
    expect(d2.stats().verifiedNodes).toBe(3); // the table was kept, bucketed anew

    // Its answers carry the requester's address (BEP 42's "ip"), and its new id.
    const s = await udpSocket(loopbackHost(99));
    closers.push(() => s.close());
    const reply = new Promise<Buffer>((r) => s.once('message', (b) => r(b)));
    await send(s, d2.address(), { t: 'pi', y: 'q', q: 'ping', a: { id: randomId() } });
    const m = asDict(decode(await reply), 'reply');
    expect(asBytes(m.get('ip'), 'ip')).toEqual(encodeCompactPeer({ host: loopbackHost(99), port: s.address().port }));
    expect(asBytes(asDict(m.get('r'), 'r').get('id'), 'id').toString('hex')).toBe(d2.stats().id);
  });
});
