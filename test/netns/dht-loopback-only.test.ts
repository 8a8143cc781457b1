/**
 * Proof that a local DHT (sixswarm nodes bound to 0.0.0.0, and a libtorrent node) sends nothing
 * but to loopback. It runs in a namespace whose only other interface, eth0 (a veth to a
 * sink namespace that has no address and so answers nothing), carries the default route; IPv6
 * is off and the gateway's link address is a permanent neighbour entry, so nothing is sent there
 * on its own (no router solicitation, no ARP). Any datagram for an address outside 127/8 (a
 * public bootstrap router, a DNS query, a node address learned from a reply) is routed out of
 * eth0 and counted in its tx_packets. A control run, one node bootstrapping through the
 * gateway's address, shows that the counter sees exactly the DHT's datagrams; the real run must
 * leave it unchanged.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libtorrentDhtCommand } from '../support/dht.js';
import { createNetns, netnsUnavailable, veth, type Netns, type NsProcess } from '../support/netns.js';
import { ROOT, removeDir, tempDir } from '../support/sixswarm.js';

const skip = netnsUnavailable();
const DHT_MODULE = pathToFileURL(join(ROOT, 'dist', 'src', 'dht', 'dht.js')).href;

/**
 * Runs DHT nodes for one scenario and prints {"event":"done",...}.
 *   control: one node, bootstrap cfg.bootstrap, one lookup
 *   swarm: a router on 0.0.0.0:cfg.routerPort and three nodes on 127.2.0.1-127.4.0.1 (one node per
 *          IP, as the routing table keeps them); waits until libtorrent has joined, announces,
 *          finds libtorrent's announce and its own, restarts one node from its state file with no
 *          bootstrap at all and looks up again
 */
const SCRIPT = String.raw`
const { Dht } = await import(process.argv[1]);
const cfg = JSON.parse(process.argv[2]);
const out = (e) => console.log(JSON.stringify(e));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const find = async (node, hex, match) => {
  for (let i = 0; i < 40; i++) {
    const found = [];
    await node.lookup(Buffer.from(hex, 'hex'), (p) => found.push(...p));
    if (found.some(match)) return true;
    await sleep(500);
  }
  return false;
};
if (cfg.mode === 'control') {
  const n = new Dht({ port: 0, bootstrap: cfg.bootstrap, queryTimeoutMs: 300 });
  await n.start();
  await n.lookup(Buffer.alloc(20, 7), () => {});
  const sent = n.stats().sent;
  await n.stop();
  out({ event: 'done', sent });
} else {
  const local = [{ host: '127.0.0.1', port: cfg.routerPort }];
  const warnings = [];
  const nodes = [new Dht({ port: cfg.routerPort, bootstrap: [], onWarning: (m) => warnings.push(m) })];
  // Each on its own loopback address (one node per IP): a send beyond lo from one of them fails and is a warning.
  for (let i = 0; i < 3; i++) nodes.push(new Dht({ port: 0, host: '127.' + (i + 2) + '.0.1', bootstrap: local, stateFile: i === 0 ? cfg.stateFile : undefined, onWarning: (m) => warnings.push(m) }));
  for (const n of nodes) await n.start();
  out({ event: 'up' });
  for (let i = 0; i < 200 && !nodes.every((n) => n.stats().nodes >= 4); i++) await sleep(100);
  const joined = nodes.map((n) => n.stats().nodes);
  await nodes[1].announce(Buffer.from(cfg.ours, 'hex'), 4321);
  const foundLibtorrent = await find(nodes[3], cfg.libtorrents, (p) => p.port === cfg.libtorrentPort);
  const foundOurs = await find(nodes[2], cfg.ours, (p) => p.port === 4321);
  await nodes[1].stop();
  const again = new Dht({ port: 0, bootstrap: [], stateFile: cfg.stateFile, onWarning: (m) => warnings.push(m) });
  await again.start();
  const afterRestart = await find(again, cfg.ours, (p) => p.port === 4321);
  for (let i = 0; i < 5; i++) await nodes[3].lookup(Buffer.from(cfg.randoms[i], 'hex'), () => {});
  const sent = [...nodes, again].reduce((s, n) => s + (n === nodes[1] ? 0 : n.stats().sent), 0);
  await again.stop();
  for (const n of nodes) await n.stop();
  out({ event: 'done', joined, foundLibtorrent, foundOurs, afterRestart, sent, warnings });
}
`;

describe.skipIf(skip)('a local DHT sends nothing but to loopback', () => {
  let ns: Netns;
  let sink: Netns;
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('sixswarm-dht-ns-');
    ns = await createNetns('dht');
    sink = await createNetns('dhtsink');
    for (const n of [ns, sink]) await n.must('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    await veth(ns, 'eth0', sink, 'eth0');
    await ns.ip(['addr', 'add', '192.0.2.1/24', 'dev', 'eth0']);
    const [peer] = JSON.parse(await sink.ip(['-j', 'link', 'show', 'dev', 'eth0'])) as [{ address: string }];
    await ns.ip(['neigh', 'replace', '192.0.2.2', 'lladdr', peer.address, 'dev', 'eth0', 'nud', 'permanent']);
    await ns.ip(['route', 'add', 'default', 'via', '192.0.2.2']);
  });

  afterAll(async () => {
    await ns?.destroy();
    await sink?.destroy();
    await removeDir(dir);
  });

  const txPackets = async (): Promise<number> => {
    const [link] = JSON.parse(await ns.ip(['-j', '-s', 'link', 'show', 'dev', 'eth0'])) as [{ stats64: { tx: { packets: number } } }];
    return link.stats64.tx.packets;
  };

  const startScript = (cfg: object) => ns.spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, DHT_MODULE, JSON.stringify(cfg)]);
  const result = async (p: NsProcess) => {
    const line = await p.waitForLine((l) => l.includes('"done"'), { timeoutMs: 90_000 });
    await p.exited;
    return JSON.parse(line) as Record<string, unknown>;
  };

  it('control: a node whose bootstrap lies beyond eth0 is seen there', async () => {
    const before = await txPackets();
    const r = await result(startScript({ mode: 'control', bootstrap: [{ host: '192.0.2.2', port: 6881 }] }));
    expect(r.sent).toBeGreaterThan(0);
    expect((await txPackets()) - before).toBe(r.sent);
  });

  it('sixswarm nodes bound to 0.0.0.0 and a libtorrent node, given loopback bootstrap nodes, send nothing out of eth0', async () => {
    const routerPort = 6881;
    const libtorrentPort = 6900;
    const libtorrents = randomBytes(20).toString('hex');
    const before = await txPackets();
    const nodes = startScript({
      mode: 'swarm',
      routerPort,
      libtorrentPort,
      libtorrents,
      ours: randomBytes(20).toString('hex'),
      randoms: Array.from({ length: 5 }, () => randomBytes(20).toString('hex')),
      stateFile: join(dir, 'dht.state'),
    });
    await nodes.waitForLine((l) => l.includes('"up"'), { timeoutMs: 15_000 });
    // libtorrent splits 0.0.0.0 into one socket per address and then runs no DHT over loopback,
    // so it is bound to 127.5.0.1; the sixswarm router and the restarted node, the code under
    // test, listen on 0.0.0.0 (seen as 127.0.0.1), the other three on addresses of their own.
    const [cmd, args] = libtorrentDhtCommand({ host: '127.5.0.1', port: libtorrentPort, bootstrap: [{ host: '127.0.0.1', port: routerPort }], save: dir, announce: [libtorrents] });
    const lt = ns.spawn(cmd, args);
    const r = await result(nodes);
    await lt.stop();
    expect(r, JSON.stringify(r)).toMatchObject({ foundLibtorrent: true, foundOurs: true, afterRestart: true, warnings: [] });
    expect(r.sent as number).toBeGreaterThan(50);
    expect(await txPackets()).toBe(before);
  });
});
