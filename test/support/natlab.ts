/**
 * A home network in namespaces, with Debian's miniupnpd as the router's UPnP IGD / NAT-PMP / PCP
 * server: what the port-mapping tests run against. Modelled on /work/shared/natlab (validated
 * there), rebuilt here so CI needs nothing outside the repository.
 *
 *     lan  192.168.1.10  2001:db8:1::10 ─┐                          wan: the Internet and a peer on it
 *     lan2 192.168.1.11  2001:db8:1::11 ─┴ lan0 [router] wan0 ───── 198.51.100.1  2001:db8:f1::1
 *                                 192.168.1.1            198.51.100.2             (STUN responder :3478)
 *                                 2001:db8:1::1, fe80::1  2001:db8:f1::2
 *
 * The router masquerades IPv4 from the LAN and runs a stateful firewall (nftables `inet cpe`):
 * nothing unsolicited comes in from the WAN, on either family, unless miniupnpd opens it (its
 * chains `miniupnpd`, `prerouting_miniupnpd`, `postrouting_miniupnpd`). LAN hosts reach IPv6
 * through a link-local next hop (fe80::1), as with SLAAC: PCP to a link-local gateway needs the
 * interface as scope.
 *
 * miniupnpd treats documentation-range WAN addresses as "reserved" and turns port forwarding off
 * unless a STUN server confirms the address (natlab's finding): a tiny STUN responder runs on
 * the WAN side. Protocols are switched per test: `enable_upnp` / `enable_natpmp` (which is NAT-PMP
 * and PCP together), and an nftables rule on the router that drops one of the two by the
 * version byte of the request (0 = NAT-PMP, 2 = PCP), so each can be offered alone.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createNetns, netnsUnavailable, NsProcess, veth, type Netns } from './netns.js';

export const LAB = {
  routerLan4: '192.168.1.1',
  routerLan6: '2001:db8:1::1',
  routerLinkLocal: 'fe80::1',
  lan4: '192.168.1.10',
  lan6: '2001:db8:1::10',
  lan2_4: '192.168.1.11',
  lan2_6: '2001:db8:1::11',
  routerWan4: '198.51.100.2',
  routerWan6: '2001:db8:f1::2',
  wan4: '198.51.100.1',
  wan6: '2001:db8:f1::1',
  stunPort: 3478,
} as const;

/** Minimal RFC 5389 Binding responder: XOR-MAPPED-ADDRESS and MAPPED-ADDRESS = the request's source. */
const STUN = String.raw`
const dgram = require('dgram');
const [host, port] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
const MAGIC = 0x2112a442;
function attr(type, ip, p, xor) {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(type, 0); b.writeUInt16BE(8, 2); b[5] = 1;
  const a = Buffer.from(ip.split('.').map(Number));
  if (xor) { p ^= MAGIC >>> 16; for (let i = 0; i < 4; i++) a[i] ^= (MAGIC >>> (24 - 8 * i)) & 0xff; }
  b.writeUInt16BE(p, 6); a.copy(b, 8);
  return b;
}
s.on('message', (m, r) => {
  if (m.length < 20 || m.readUInt16BE(0) !== 1) return;
  const body = Buffer.concat([attr(0x20, r.address, r.port, true), attr(1, r.address, r.port, false)]);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(0x0101, 0); h.writeUInt16BE(body.length, 2); h.writeUInt32BE(MAGIC, 4); m.copy(h, 8, 8, 20);
  s.send(Buffer.concat([h, body]), r.port, r.address);
});
s.bind(Number(port), host, () => console.log('ready'));
`;

/** Dials host:port from inside a namespace; prints REACHED <banner> or BLOCKED <why>. */
const PROBE = String.raw`
const [proto, host, port, ms] = process.argv.slice(1);
const done = (line) => { console.log(line); process.exit(0); };
setTimeout(() => done('BLOCKED timeout'), Number(ms));
if (proto === 'tcp') {
  const s = require('net').connect({ host, port: Number(port) });
  s.on('data', (d) => done('REACHED ' + d.toString().trim()));
  s.on('error', (e) => done('BLOCKED ' + e.code));
} else {
  const s = require('dgram').createSocket(host.includes(':') ? 'udp6' : 'udp4');
  s.on('message', (d) => done('REACHED ' + d.toString().trim()));
  s.on('error', (e) => done('BLOCKED ' + e.code));
  const send = () => s.send('probe', Number(port), host);
  send(); setTimeout(send, Number(ms) / 3); setTimeout(send, (2 * Number(ms)) / 3);
}
`;

export interface MiniupnpdOptions {
  upnp?: boolean;
  /** NAT-PMP requests (version 0) answered. */
  natpmp?: boolean;
  /** PCP requests (version 2) answered. */
  pcp?: boolean;
  /** Shortest lease miniupnpd grants over PCP (its default is 120 s). */
  minLifetime?: number;
  /** Extra config lines. */
  extra?: readonly string[];
}

export interface DriverOptions {
  port: number;
  families?: Partial<Record<4 | 6, boolean>>;
  protocols?: Array<'pcp' | 'natpmp' | 'upnp'>;
  transports?: Array<'tcp' | 'udp'>;
  lifetimeSeconds?: number;
  address6?: string;
  description?: string;
  tag?: string;
}

/** A PortMapper running in a namespace (test/support/portmap-driver.ts). */
export class MapperProcess {
  constructor(readonly proc: NsProcess) {}

  /** Parsed JSON lines so far. */
  events(): Array<Record<string, unknown>> {
    return this.proc.json();
  }

  mappings(): Array<Record<string, unknown>> {
    return this.events().filter((e) => e.type === 'mapping');
  }

  logs(): string {
    return this.events()
      .filter((e) => e.type === 'log')
      .map((e) => e.line as string)
      .join('\n');
  }

  /** The first JSON line from index `from` on that satisfies `match`. */
  async waitFor(match: (e: Record<string, unknown>) => boolean, timeoutMs = 30_000, from = 0): Promise<Record<string, unknown>> {
    const line = await this.proc.waitForLine(
      (l) => {
        try {
          return match(JSON.parse(l) as Record<string, unknown>);
        } catch {
          return false;
        }
      },
      { timeoutMs, from },
    );
    return JSON.parse(line) as Record<string, unknown>;
  }

  get lineCount(): number {
    return this.proc.lines.length;
  }

  send(command: string): void {
    this.proc.child.stdin?.write(`${command}\n`);
  }

  /** Asks for a clean stop (mappings deleted); resolves with the "stopped" line. */
  async stop(timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const from = this.lineCount;
    this.send('stop');
    const line = await this.waitFor((e) => e.type === 'stopped', timeoutMs, from);
    await this.proc.exited;
    return line;
  }
}

export class NatLab {
  private miniupnpd?: NsProcess;
  private stun?: NsProcess;
  private readonly mappers = new Set<MapperProcess>();
  private driver?: string;

  private constructor(
    readonly router: Netns,
    readonly lan: Netns,
    readonly lan2: Netns,
    readonly wan: Netns,
    private readonly dir: string,
  ) {}

  static async create(): Promise<NatLab> {
    const made: Netns[] = [];
    const dir = await mkdtemp(join(tmpdir(), 'sixswarm-natlab-'));
    try {
      for (const label of ['router', 'lan', 'lan2', 'wan']) made.push(await createNetns(`pm${label}`));
      const [router, lan, lan2, wan] = made as [Netns, Netns, Netns, Netns];
      const lab = new NatLab(router, lan, lan2, wan, dir);
      await lab.build();
      return lab;
    } catch (e) {
      await Promise.all(made.map((ns) => ns.destroy()));
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  private async build(): Promise<void> {
    const { router, lan, lan2, wan } = this;
    for (const ns of [router, lan, lan2, wan]) {
      // Static addresses only: no duplicate address detection delay, no router advertisements.
      await ns.must('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_ra=0', 'net.ipv6.conf.default.accept_ra=0']);
    }
    await router.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    // With br_netfilter loaded, bridged LAN frames would cross the router's forward chain (and be dropped).
    await router.must('sh', ['-c', 'for f in /proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables /proc/sys/net/bridge/bridge-nf-call-arptables; do [ -w $f ] && echo 0 > $f; done; true']);

    await veth(router, 'wan0', wan, 'eth0');
    await router.ip(['addr', 'add', `${LAB.routerWan4}/24`, 'dev', 'wan0']);
    await router.ip(['addr', 'add', `${LAB.routerWan6}/64`, 'dev', 'wan0', 'nodad']);
    await wan.ip(['addr', 'add', `${LAB.wan4}/24`, 'dev', 'eth0']);
    await wan.ip(['addr', 'add', `${LAB.wan6}/64`, 'dev', 'eth0', 'nodad']);
    await router.ip(['route', 'add', 'default', 'via', LAB.wan4]);
    await router.ip(['-6', 'route', 'add', 'default', 'via', LAB.wan6]);
    await wan.ip(['-6', 'route', 'add', '2001:db8:1::/64', 'via', LAB.routerWan6]);

    await router.ip(['link', 'add', 'lan0', 'type', 'bridge', 'mcast_snooping', '0']);
    await router.must('sysctl', ['-qw', 'net.ipv6.conf.lan0.accept_dad=0']);
    await router.ip(['link', 'set', 'lan0', 'up']);
    await router.ip(['addr', 'add', `${LAB.routerLan4}/24`, 'dev', 'lan0']);
    await router.ip(['addr', 'add', `${LAB.routerLan6}/64`, 'dev', 'lan0', 'nodad']);
    await router.ip(['addr', 'add', `${LAB.routerLinkLocal}/64`, 'dev', 'lan0', 'nodad']);
    for (const [host, dev, a4, a6] of [
      [lan, 'h1', LAB.lan4, LAB.lan6],
      [lan2, 'h2', LAB.lan2_4, LAB.lan2_6],
    ] as const) {
      await veth(host, 'eth0', router, dev);
      await router.ip(['link', 'set', dev, 'master', 'lan0']);
      await host.ip(['addr', 'add', `${a4}/24`, 'dev', 'eth0']);
      await host.ip(['addr', 'add', `${a6}/64`, 'dev', 'eth0', 'nodad']);
      await host.ip(['route', 'add', 'default', 'via', LAB.routerLan4]);
      await host.ip(['-6', 'route', 'add', 'default', 'via', LAB.routerLinkLocal, 'dev', 'eth0']);
    }
    await router.must('nft', ['-f', await this.writeFile('cpe.nft', RULESET)]);
    // Both paths work before anything else runs (bridge ports forwarding, neighbours resolved).
    for (let i = 0; i < 50; i++) {
      const a = await lan.exec('ping', ['-c1', '-W1', '-q', LAB.wan4]);
      const b = await lan.exec('ping', ['-6', '-c1', '-W1', '-q', LAB.wan6]);
      if (a.code === 0 && b.code === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('natlab: the LAN host cannot reach the WAN side');
  }

  private async writeFile(name: string, text: string): Promise<string> {
    const path = join(this.dir, name);
    await writeFile(path, text);
    return path;
  }

  /** Starts the STUN responder (once) and miniupnpd with `o`; resolves when it serves. */
  async startMiniupnpd(o: MiniupnpdOptions = {}): Promise<NsProcess> {
    if (this.miniupnpd?.running) throw new Error('natlab: miniupnpd already runs');
    if (!this.stun?.running) {
      this.stun = this.wan.spawn(process.execPath, ['-e', STUN, LAB.wan4, String(LAB.stunPort)]);
      await this.stun.waitForLine((l) => l === 'ready');
    }
    const upnp = o.upnp ?? true;
    const natpmp = o.natpmp ?? true;
    const pcp = o.pcp ?? true;
    await this.router.must('nft', ['flush', 'chain', 'inet', 'cpe', 'pcp_natpmp_filter']);
    // The first payload byte is the version: 0 NAT-PMP, 2 PCP. miniupnpd 2.3.1 opens its IPv6 PCP
    // socket even with enable_natpmp=no (only ipv6_disable closes it), so PCP is dropped whenever it is off.
    if (!pcp) await this.router.must('nft', ['add', 'rule', 'inet', 'cpe', 'pcp_natpmp_filter', 'udp', 'dport', '5351', '@th,64,8', '2', 'counter', 'drop']);
    if (!natpmp) await this.router.must('nft', ['add', 'rule', 'inet', 'cpe', 'pcp_natpmp_filter', 'udp', 'dport', '5351', '@th,64,8', '0', 'counter', 'drop']);
    const conf = [
      'ext_ifname=wan0',
      'listening_ip=lan0',
      'http_port=5000',
      `enable_upnp=${upnp ? 'yes' : 'no'}`,
      `enable_natpmp=${natpmp || pcp ? 'yes' : 'no'}`,
      'ext_perform_stun=yes',
      `ext_stun_host=${LAB.wan4}`,
      `ext_stun_port=${LAB.stunPort}`,
      'upnp_table_name=cpe',
      'upnp_nat_table_name=cpe',
      'upnp_forward_chain=miniupnpd',
      'upnp_nat_chain=prerouting_miniupnpd',
      'upnp_nat_postrouting_chain=postrouting_miniupnpd',
      'secure_mode=yes',
      `min_lifetime=${o.minLifetime ?? 120}`,
      'max_lifetime=86400',
      'notify_interval=60',
      'clean_ruleset_interval=600',
      'system_uptime=no',
      `uuid=${randomUUID()}`,
      'allow 1024-65535 192.168.1.0/24 1024-65535',
      'deny 0-65535 0.0.0.0/0 0-65535',
      ...(o.extra ?? []),
    ].join('\n');
    const file = await this.writeFile('miniupnpd.conf', `${conf}\n`);
    const pidfile = join(this.dir, 'miniupnpd.pid');
    const proc = this.router.spawn('/usr/sbin/miniupnpd', ['-f', file, '-d', '-P', pidfile]);
    this.miniupnpd = proc;
    // Ready when it has learnt its external address over STUN (it logs to stderr with -d).
    const deadline = Date.now() + 15_000;
    while (!/Port forwarding is now enabled|STUN: .* done/.test(proc.stderr)) {
      if (!proc.running) throw new Error(`miniupnpd exited: ${proc.stderr}`);
      if (Date.now() > deadline) throw new Error(`miniupnpd did not get ready: ${proc.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!proc.stderr.includes('Port forwarding is now enabled')) throw new Error(`miniupnpd did not enable port forwarding: ${proc.stderr}`);
    return proc;
  }

  /** Stops miniupnpd. Its rules stay (miniupnpd leaves them on exit); `rebootRouter` clears them. */
  async stopMiniupnpd(): Promise<void> {
    await this.miniupnpd?.stop('SIGTERM', 5000);
    this.miniupnpd = undefined;
  }

  /** What a router reboot does: miniupnpd stops, its rules and the connection table are gone. */
  async routerDown(): Promise<void> {
    await this.stopMiniupnpd();
    for (const chain of ['prerouting_miniupnpd', 'postrouting_miniupnpd', 'miniupnpd', 'pcp_natpmp_filter']) await this.router.must('nft', ['flush', 'chain', 'inet', 'cpe', chain]);
    await this.router.exec('conntrack', ['-F']);
  }

  get miniupnpdLog(): string {
    return this.miniupnpd?.stderr ?? '';
  }

  /** miniupnpd's rules: port forwards (DNAT in prerouting_miniupnpd) and the filter chain (pinholes, forwards). */
  async rules(): Promise<string> {
    const a = await this.router.must('nft', ['list', 'chain', 'inet', 'cpe', 'prerouting_miniupnpd']);
    const b = await this.router.must('nft', ['list', 'chain', 'inet', 'cpe', 'miniupnpd']);
    return `${a}\n${b}`;
  }

  /** `upnpc -l` as the reference client sees the gateway's mappings (from the LAN host). */
  async upnpcList(): Promise<string> {
    return (await this.lan.exec('upnpc', ['-i', '-l'], 15_000)).stdout;
  }

  /**
   * Whether the WAN peer reaches `port` on the LAN host: IPv4 through the router's WAN address,
   * IPv6 directly at the LAN host's global address. Conntrack is flushed first so an earlier
   * probe's state cannot carry this one.
   */
  async dial(family: 4 | 6, port: number, proto: 'tcp' | 'udp' = 'tcp', host?: string): Promise<string> {
    await this.router.exec('conntrack', ['-F']);
    const target = host ?? (family === 4 ? LAB.routerWan4 : LAB.lan6);
    const r = await this.wan.exec(process.execPath, ['-e', PROBE, proto, target, String(port), '1500']);
    return r.stdout.trim() || `BLOCKED ${r.stderr.trim()}`;
  }

  /**
   * Starts a PortMapper in `ns` (the LAN host by default) and waits for its first outcome: the
   * "started" line with the verdicts per family. `reset()` stops it.
   */
  async startMapper(o: DriverOptions, ns: Netns = this.lan): Promise<{ m: MapperProcess; started: Record<string, unknown>; status: Record<'4' | '6', Record<string, unknown>> }> {
    const m = await this.mapper(o, ns);
    const started = await m.waitFor((e) => e.type === 'started', 40_000);
    return { m, started, status: started.status as Record<'4' | '6', Record<string, unknown>> };
  }

  /** Between tests: the logs of every mapper when the test failed, then mappers killed and the router reset. */
  async reset(failed: boolean): Promise<void> {
    if (failed) for (const m of this.mappers) console.log(`mapper log:\n${m.logs()}\nevents:\n${m.mappings().map((e) => JSON.stringify(e)).join('\n')}`);
    for (const m of this.mappers) await m.proc.stop('SIGKILL');
    this.mappers.clear();
    await this.routerDown();
  }

  /** Starts a PortMapper (and its listener) in `ns` (the LAN host by default). */
  async mapper(o: DriverOptions, ns: Netns = this.lan): Promise<MapperProcess> {
    this.driver ??= await bundleDriver(this.dir);
    const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, this.driver, JSON.stringify(o)], { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
    const m = new MapperProcess(new NsProcess(child, `[${ns.name}] portmap-driver`));
    this.mappers.add(m);
    return m;
  }

  /** Removes every process, namespace and file of the lab. */
  async destroy(): Promise<void> {
    await Promise.all([...this.mappers].map((m) => m.proc.stop('SIGKILL')));
    await this.stopMiniupnpd().catch(() => {});
    await Promise.all([this.router, this.lan, this.lan2, this.wan].map((ns) => ns.destroy()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Why the lab cannot run here (no root / iproute2, or no miniupnpd when `miniupnpd` is set), or undefined. */
export function natlabUnavailable(o: { miniupnpd: boolean }): string | undefined {
  return netnsUnavailable() ?? (o.miniupnpd && !existsSync('/usr/sbin/miniupnpd') ? 'miniupnpd is not installed (Debian: miniupnpd miniupnpd-nftables)' : undefined);
}

/**
 * For a describe block: one lab for all its tests (handed to `use` once built), reset after each
 * (with the mappers' logs when a test failed), removed after the last.
 */
export function useNatLab(use: (lab: NatLab) => void): void {
  let lab: NatLab | undefined;
  beforeAll(async () => {
    lab = await NatLab.create();
    use(lab);
  });
  afterEach(async (ctx) => {
    await lab?.reset(ctx.task.result?.state === 'fail');
  });
  afterAll(async () => {
    await lab?.destroy();
  });
}

async function bundleDriver(dir: string): Promise<string> {
  const here = dirname(fileURLToPath(import.meta.url));
  const outfile = join(dir, 'portmap-driver.mjs');
  await build({ entryPoints: [join(here, 'portmap-driver.ts')], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' });
  return outfile;
}

/** The router's nftables: natlab's `inet cpe` (masquerade, stateful firewall, miniupnpd's empty chains). */
const RULESET = `
table inet cpe {
  chain input {
    type filter hook input priority filter; policy drop;
    jump pcp_natpmp_filter
    iif "lo" accept
    ct state established,related accept
    ct state invalid drop
    iifname "lan0" accept comment "LAN may talk to the router (SSDP, UPnP HTTP, NAT-PMP/PCP 5351)"
    meta l4proto ipv6-icmp accept comment "ND/PMTU"
    icmp type echo-request accept
    counter comment "cpe-input-drop"
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname "lan0" oifname "wan0" accept comment "outbound always allowed"
    jump miniupnpd
    meta nfproto ipv6 counter drop comment "ipv6-unsolicited-inbound-drop"
    counter drop comment "ipv4-unsolicited-inbound-drop"
  }
  chain pcp_natpmp_filter {
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    jump postrouting_miniupnpd
    oifname "wan0" ip saddr 192.168.1.0/24 masquerade
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
`;
