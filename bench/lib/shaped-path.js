/**
 * The path of bench/utp --path wan: a seed and a leecher in network namespaces of their own,
 * joined through a path namespace that makes the link between them look like a home connection,
 * both ways: a bottleneck of RATE whose queue holds QUEUE of it (tc tbf), RTT of propagation
 * delay and LOSS dropped at random (bench/lib/delay-line.js: this kernel has no sch_netem).
 * Documentation addresses only; the namespaces are this run's own (sxub-RANDOM-ROLE). With
 * `cross`, a third host whose traffic to the leecher takes the same bottleneck, and counters of
 * the bytes each flow gets through it.
 *
 *   seed  a0 192.0.2.2     2001:db8:a::2 ---- r0 .1 ::1 \
 *   cross x0 203.0.113.2   2001:db8:c::2 ---- rx .1 ::1 -+- path: in from r0, rx -> tbf on dld -> delay -> out r1
 *   leech b0 198.51.100.2  2001:db8:b::2 ---- r1 .1 ::1 /        in from r1 -> tbf on dlu -> delay -> out r0, rx
 *
 * dld and dlu are TUN devices held by the delay line: policy routing (by incoming device) sends
 * each direction's packets into its own, the delay line writes them back into it after the delay,
 * and from there the main table routes them out to their host.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Namespaces, sh } from './netns.js';
import { BenchProcess } from './processes.js';

const DELAY_LINE = join(dirname(fileURLToPath(import.meta.url)), 'delay-line.js');
const execFileAsync = promisify(execFile);

/** Each host's link to the path namespace: the host is .2 / ::2, the path .1 / ::1. */
const LINKS = {
  seed: { dev: 'a0', pathDev: 'r0', v4: '192.0.2', v6: '2001:db8:a:' },
  leecher: { dev: 'b0', pathDev: 'r1', v4: '198.51.100', v6: '2001:db8:b:' },
  cross: { dev: 'x0', pathDev: 'rx', v4: '203.0.113', v6: '2001:db8:c:' },
};
/** The two directions: the TUN device each is delayed in, its routing table, the links it comes in by. */
const DIRECTIONS = [
  { dev: 'dld', table: '101', from: ['r0', 'rx'] },
  { dev: 'dlu', table: '102', from: ['r1'] },
];
/** The direction the data takes (seed and cross -> leecher): its queue is the one watched. */
const DOWN = 'dld';

const address = (role, family) => (family === 6 ? `${LINKS[role].v6}:2` : `${LINKS[role].v4}.2`);

export class ShapedPath {
  /**
   * @param {object} o
   * @param {number} o.rateBits   bottleneck rate, bits per second (each way)
   * @param {number} o.rttMs      round-trip propagation delay (half each way)
   * @param {number} o.lossPct    percent of packets dropped at random, each way
   * @param {number} o.queueMs    the bottleneck's queue, in time at the rate (tbf latency)
   * @param {string|undefined} o.tcpCc  TCP congestion control of the hosts (default: what a new namespace inherits)
   * @param {boolean} o.cross     add the cross host
   * @param {string} o.root       the sixswarm checkout (the delay line loads dist/)
   * @param {string} o.logBase    where the delay line's output goes
   */
  constructor(o) {
    this.o = o;
    this.netns = new Namespaces(`sxub-${randomBytes(3).toString('hex')}`);
    this.delayLine = undefined;
  }

  /** Bytes per second the bottleneck passes (IP packets, headers included). */
  get bytesPerSecond() {
    return this.o.rateBits / 8;
  }

  /** The path namespace's name, for messages. */
  get name() {
    return this.netns.ns.path ?? this.netns.prefix;
  }

  /** Builds the namespaces, links, delay line, queues and routes; destroy() undoes it (also after a failure here). */
  async create() {
    const n = this.netns;
    const { o } = this;
    // No duplicate address detection: the links' link-local addresses work at once (neighbour
    // discovery from a tentative one stalls the first IPv6 packets for a second).
    const noDad = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'];
    n.add('path');
    n.sysctl('path', ...noDad, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0');
    for (const role of ['seed', 'leecher', ...(o.cross ? ['cross'] : [])]) {
      const l = LINKS[role];
      n.add(role);
      // Every transfer's TCP starts afresh: no ssthresh or RTT remembered from the one before.
      n.sysctl(role, ...noDad, 'net.ipv4.tcp_no_metrics_save=1', ...(o.tcpCc ? [`net.ipv4.tcp_congestion_control=${o.tcpCc}`] : []));
      n.veth(role, l.dev, 'path', l.pathDev);
      n.ip(role, ['addr', 'add', `${l.v4}.2/24`, 'dev', l.dev]);
      n.ip(role, ['-6', 'addr', 'add', `${l.v6}:2/64`, 'dev', l.dev, 'nodad']);
      n.ip(role, ['route', 'add', 'default', 'via', `${l.v4}.1`]);
      n.ip(role, ['-6', 'route', 'add', 'default', 'via', `${l.v6}:1`]);
      n.ip('path', ['addr', 'add', `${l.v4}.1/24`, 'dev', l.pathDev]);
      n.ip('path', ['-6', 'addr', 'add', `${l.v6}:1/64`, 'dev', l.pathDev, 'nodad']);
    }
    // Above the hosts' priority: the delay line's timers are the path's clock.
    this.delayLine = new BenchProcess(
      'delay line',
      n.exec('path', ['nice', '-n', '-10', process.execPath, DELAY_LINE, o.root, String(o.rttMs / 2), String(o.lossPct), ...DIRECTIONS.map((d) => d.dev)]),
      { logBase: o.logBase },
    );
    await this.delayLine.waitFor((e) => e.event === 'ready', 30_000, '"ready" event');
    // A bucket of 1 ms at the rate (at least two full-size packets): bursts stay short.
    const burst = Math.max(3028, Math.round(o.rateBits / 8 / 1000));
    for (const d of DIRECTIONS) {
      n.ip('path', ['link', 'set', d.dev, 'up', 'txqueuelen', '10000']);
      this.tc(['qdisc', 'add', 'dev', d.dev, 'root', 'tbf', 'rate', `${o.rateBits}bit`, 'burst', String(burst), 'latency', `${o.queueMs}ms`]);
      for (const family of ['-4', '-6']) {
        n.ip('path', [family, 'route', 'add', 'default', 'dev', d.dev, 'table', d.table]);
        for (const dev of d.from.filter((x) => x !== 'rx' || o.cross)) n.ip('path', [family, 'rule', 'add', 'iif', dev, 'lookup', d.table, 'pref', '1000']);
      }
    }
    if (o.cross) {
      // What reaches the leecher, by sender: the cross host's flow, and everything else (the transfer).
      this.nft(`table inet sxub {
        counter cross {}
        counter other {}
        chain count {
          type filter hook forward priority 0; policy accept;
          oifname "r1" ip saddr ${address('cross', 4)} counter name "cross" accept
          oifname "r1" ip6 saddr ${address('cross', 6)} counter name "cross" accept
          oifname "r1" counter name "other"
        }
      }`);
    }
  }

  tc(args) {
    return sh('tc', ['-n', this.netns.ns.path, ...args]);
  }

  nft(script) {
    const r = spawnSync('ip', ['netns', 'exec', this.netns.ns.path, 'nft', '-f', '-'], { input: script, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nft in ${this.netns.ns.path} failed: ${r.error?.message ?? r.stderr.trim()}`);
  }

  /** A host's address in `family` (4 or 6). */
  address(role, family) {
    return address(role, family);
  }

  /** argv running `argv` on host `role` ('seed', 'leecher', 'cross'). */
  exec(role, argv) {
    return this.netns.exec(role, argv);
  }

  /** Where bench/lib/utp-pairs.js runs its two ends over this path. */
  pairNet(family) {
    return { seedHost: address('seed', family), leechHost: address('leecher', family), exec: (role, argv) => this.exec(role, argv) };
  }

  /** The queue towards the leecher now: bytes waiting in it, and packets it has dropped so far. */
  async queue() {
    const { stdout } = await execFileAsync('tc', ['-n', this.netns.ns.path, '-s', '-j', 'qdisc', 'show', 'dev', DOWN]);
    const tbf = JSON.parse(stdout).find((q) => q.kind === 'tbf');
    return { t: Date.now(), backlog: tbf?.backlog ?? NaN, drops: tbf?.drops ?? NaN };
  }

  /**
   * Samples queue() every `everyMs` from now until the returned function is called; that resolves
   * with the samples.
   */
  watchQueue(everyMs = 250) {
    const samples = [];
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        samples.push(await this.queue().catch(() => ({ t: Date.now(), backlog: NaN, drops: NaN })));
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
    return async () => {
      stopped = true;
      await loop;
      samples.push(await this.queue());
      return samples;
    };
  }

  /** With `cross`: IP bytes that reached the leecher so far, from the cross host and from anyone else. */
  async counters() {
    const { stdout } = await execFileAsync('ip', ['netns', 'exec', this.netns.ns.path, 'nft', '-j', 'list', 'counters', 'table', 'inet', 'sxub']);
    const bytes = (name) => JSON.parse(stdout).nftables.find((x) => x.counter?.name === name)?.counter.bytes ?? NaN;
    return { t: Date.now(), cross: bytes('cross'), other: bytes('other') };
  }

  /** TCP segments host `role` has retransmitted so far (its namespace's /proc/net/snmp). */
  tcpRetransmits(role) {
    const lines = sh('ip', ['netns', 'exec', this.netns.ns[role], 'cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Tcp:'));
    const [names, values] = lines.map((l) => l.trim().split(/\s+/));
    return Number(values?.[names?.indexOf('RetransSegs') ?? -1]);
  }

  /** The TCP congestion control the hosts use. */
  tcpCongestionControl() {
    return sh('ip', ['netns', 'exec', this.netns.ns.seed, 'sysctl', '-n', 'net.ipv4.tcp_congestion_control']).trim();
  }

  /** Mean round trip of five pings from the seed to the leecher over the idle path, in ms (NaN if none came back). */
  idleRtt(family) {
    const r = spawnSync('ip', ['netns', 'exec', this.netns.ns.seed, 'ping', `-${family}`, '-q', '-c', '5', '-i', '0.2', address('leecher', family)], { encoding: 'utf8' });
    return Number(/= [\d.]+\/([\d.]+)\//.exec(r.stdout ?? '')?.[1] ?? NaN);
  }

  /**
   * Stops the delay line (the path is cut from then on): its counters per direction (packets,
   * dropped at random, most held at once) and the CPU seconds it used.
   */
  async stopDelayLine() {
    await this.delayLine?.stop();
    return { devices: this.delayLine?.events.find((e) => e.event === 'stats')?.devices, cpuS: this.delayLine?.usage()?.cpuS };
  }

  /** Kills everything inside and deletes the namespaces (their devices, queues and rules go with them). Synchronous. */
  destroy() {
    this.netns.destroy();
  }
}
