/**
 * One LAN segment in network namespaces for the local service discovery tests, as in
 * /work/shared/natlab (validated there with libtorrent 2.0.8): a switch namespace holding a
 * bridge that floods multicast (no IGMP/MLD snooping, as a dumb switch), and hosts with an eth0
 * each on it. Nothing links it to the host's network, so every multicast datagram stays in it.
 *
 *     host 0  eth0 192.168.77.10/24  2001:db8:77::10/64 ─┐
 *     host 1  eth0 192.168.77.11/24  2001:db8:77::11/64 ─┼─ br0 [switch]
 *     host 2  ...                                        ─┘
 *
 * A host may have IPv4 only (IPv6 off on its eth0: not even link-local) or IPv6 only (no IPv4
 * address). IPv6 addresses skip duplicate address detection, so they work at once.
 *
 * `listenLsd` runs a bare observer in a host: a socket of each family bound to port 6771 and
 * joined to the group on eth0, printing every datagram it gets as a JSON line; `sendLsd` sends
 * datagrams (announces, floods) from a host; `countDials` counts who dials a port of a host.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { buildAnnounce } from '../../src/lsd/message.js';
import { createNetns, veth, type Netns, type NsProcess } from './netns.js';
import { cleanUpAfterEach, tempDir } from './sixswarm.js';

export interface LanHost {
  ns: Netns;
  /** Its IPv4 address, when it has one. */
  v4?: string;
  /** Its global IPv6 address, when it has IPv6. */
  v6?: string;
  /** Listen addresses as libtorrent takes them: ['192.168.77.10', '[2001:db8:77::10]']. */
  listen: string[];
}

export interface Lan {
  switch: Netns;
  hosts: LanHost[];
  /** Every host and the switch go, with whatever runs in them. */
  destroy(): Promise<void>;
}

export interface LanHostSpec {
  label: string;
  ipv4?: boolean;
  ipv6?: boolean;
}

/** The LAN pictured above, with one host per spec (both families unless told). */
export async function createLan(specs: LanHostSpec[]): Promise<Lan> {
  const made: Netns[] = [];
  const destroy = async () => {
    await Promise.all(made.map((ns) => ns.destroy()));
  };
  try {
    const sw = await createNetns('lsdsw');
    made.push(sw);
    await sw.ip(['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    await sw.ip(['link', 'set', 'br0', 'up']);
    const hosts: LanHost[] = [];
    for (const [i, spec] of specs.entries()) {
      const ns = await createNetns(spec.label);
      made.push(ns);
      await ns.must('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      if (spec.ipv6 === false) await ns.must('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      await veth(ns, 'eth0', sw, `port${i}`);
      await sw.ip(['link', 'set', `port${i}`, 'master', 'br0']);
      const host: LanHost = { ns, listen: [] };
      if (spec.ipv4 !== false) {
        host.v4 = `192.168.77.${10 + i}`;
        await ns.ip(['addr', 'add', `${host.v4}/24`, 'dev', 'eth0']);
        host.listen.push(host.v4);
      }
      if (spec.ipv6 !== false) {
        host.v6 = `2001:db8:77::${10 + i}`;
        await ns.ip(['-6', 'addr', 'add', `${host.v6}/64`, 'dev', 'eth0', 'nodad']);
        host.listen.push(`[${host.v6}]`);
      }
      hosts.push(host);
    }
    // The bridge forwards once its ports are up; a ping over each family proves it.
    const first = hosts[0]!;
    for (const h of hosts.slice(1)) {
      const checks: [string, string[]][] = [];
      if (first.v4 && h.v4) checks.push([first.v4, []]);
      if (first.v6 && h.v6) checks.push([first.v6, ['-6']]);
      for (const [to, args] of checks) {
        let ok = false;
        for (let t = 0; t < 50 && !ok; t++) ok = (await h.ns.exec('ping', [...args, '-c', '1', '-W', '1', to])).code === 0;
        if (!ok) throw new Error(`the LAN does not carry ping ${args.join(' ')} ${to}`);
      }
    }
    return { switch: sw, hosts, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}

const OBSERVER = String.raw`
const dgram = require('dgram');
const groups = { 4: '239.192.152.143', 6: 'ff15::efc0:988f' };
let ready = 0;
for (const f of process.argv.slice(1)) {
  const s = dgram.createSocket({ type: f === '6' ? 'udp6' : 'udp4', reuseAddr: true, ipv6Only: f === '6' });
  s.on('message', (b, r) => console.log(JSON.stringify({ family: Number(f), from: r.address, text: b.toString('latin1') })));
  s.bind(6771, groups[f], () => {
    s.addMembership(groups[f], f === '6' ? '::%eth0' : require('os').networkInterfaces().eth0.find((a) => a.family === 'IPv4').address);
    if (++ready === process.argv.length - 1) console.log('ready');
  });
}
`;

export interface LsdDatagram {
  family: 4 | 6;
  from: string;
  text: string;
}

/** The observer in `host`, joined over `families`; read what it got with `lsdDatagrams`. */
export async function listenLsd(host: LanHost, families: readonly (4 | 6)[]): Promise<NsProcess> {
  const p = host.ns.spawn(process.execPath, ['-e', OBSERVER, ...families.map(String)]);
  await p.waitForLine((l) => l === 'ready');
  return p;
}

export function lsdDatagrams(observer: NsProcess): LsdDatagram[] {
  return observer.json<LsdDatagram & Record<string, unknown>>().filter((d) => typeof d.text === 'string');
}

const SENDER = String.raw`
const dgram = require('dgram');
const os = require('os');
const cfg = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
const groups = { 4: '239.192.152.143', 6: 'ff15::efc0:988f' };
const sockets = {};
let sent = 0;
let stop = false;
process.on('SIGTERM', () => { stop = true; });
function open(f) {
  return new Promise((resolve) => {
    const s = dgram.createSocket({ type: f === 6 ? 'udp6' : 'udp4', ipv6Only: f === 6 });
    const v4 = f === 4 ? os.networkInterfaces().eth0.find((a) => a.family === 'IPv4').address : undefined;
    s.bind(0, f === 6 ? '::' : v4, () => {
      s.setMulticastInterface(f === 6 ? '::%eth0' : v4);
      s.setMulticastTTL(1);
      s.setMulticastLoopback(false);
      resolve(s);
    });
  });
}
(async () => {
  for (const f of cfg.families) sockets[f] = await open(f);
  const texts = cfg.texts.map((t) => Buffer.from(t, 'latin1'));
  const perTick = cfg.perSecond ? Math.max(1, Math.round(cfg.perSecond / 100)) : 0;
  console.log('ready');
  for (let round = 0; !stop && (cfg.repeat === 0 || round < cfg.repeat); round++) {
    for (const b of texts) {
      for (const f of cfg.families) sockets[f].send(b, 6771, groups[f]);
      sent += cfg.families.length;
      // A send completes in a later tick: every 64 let the loop turn (timers, signals, the sends' completions);
      // paced in 10 ms steps when perSecond is given.
      if (perTick ? sent % perTick < cfg.families.length : sent % 64 < cfg.families.length) await new Promise((r) => (perTick ? setTimeout(r, 10) : setImmediate(r)));
    }
  }
  await new Promise((r) => setTimeout(r, 100));
  console.log(JSON.stringify({ sent }));
  process.exit(0);
})();
`;

/**
 * Sends `texts` (LSD datagrams or anything) from `host` to the group of each of `families`, out of
 * eth0, `repeat` times over (0: until stopped, then it prints how many it sent), at most
 * `perSecond` datagrams a second when given.
 */
export async function sendLsd(host: LanHost, o: { families: readonly (4 | 6)[]; texts: string[]; repeat: number; perSecond?: number }): Promise<NsProcess> {
  // The datagrams go in a file: a flood's worth is more than one argument may hold.
  const dir = await mkdtemp(join(tmpdir(), 'sixswarm-lsd-send-'));
  await writeFile(join(dir, 'send.json'), JSON.stringify(o));
  const p = host.ns.spawn(process.execPath, ['-e', SENDER, join(dir, 'send.json')]);
  void p.exited.then(() => rm(dir, { recursive: true, force: true }));
  await p.waitForLine((l) => l === 'ready');
  return p;
}

/** Announces `infoHash` at `port` from `host` over IPv4, three times (as a client would, in case one is lost). */
export async function announceFrom(host: LanHost, port: number, infoHash: Buffer): Promise<void> {
  const text = buildAnnounce({ family: 4, port, infoHashes: [infoHash], cookie: 'test' }).toString('latin1');
  await (await sendLsd(host, { families: [4], texts: [text], repeat: 3 })).exited;
}

/** Counts the TCP connections made to `port` on every address of `host` (each closed at once). */
export async function countDials(host: LanHost, port: number): Promise<{ count(): number }> {
  let n = 0;
  const l = await host.ns.listen('0.0.0.0', port);
  l.server.on('connection', (s) => {
    n++;
    s.destroy();
  });
  return { count: () => n };
}

/**
 * For a test file: a temp folder and a LAN per test, made on demand, gone after each test with
 * every process started (in the namespaces or not).
 */
export function lanPerTest(): { newLan(specs: LanHostSpec[]): Promise<Lan>; newDir(prefix: string): Promise<string> } {
  let dir: string | undefined;
  let lan: Lan | undefined;
  cleanUpAfterEach(() => dir);
  afterEach(async () => {
    await lan?.destroy();
    lan = undefined;
  });
  return {
    newLan: async (specs) => (lan = await createLan(specs)),
    newDir: async (prefix) => (dir = await tempDir(prefix)),
  };
}
