/**
 * Two home networks behind two NAT routers and a WAN between them, in namespaces: what the BEP 55
 * holepunch tests run in. Modelled on /work/shared/natlab (topology.sh, validated there with
 * three libtorrents), rebuilt here so CI needs nothing outside the repository.
 *
 *   h1 192.168.1.10 2001:db8:1::10 ── lan0 [r1] wan0 198.51.100.2 2001:db8:f1::2 ─┐
 *                                                                               [inet] srv0 203.0.113.1 2001:db8:ff::1
 *   h2 192.168.2.10 2001:db8:2::10 ── lan0 [r2] wan0 198.51.100.6 2001:db8:f2::2 ─┘   └─ relay 203.0.113.20 2001:db8:ff::20
 *
 * r1 and r2 (nftables `inet cpe`) masquerade IPv4 from their LAN (plain `masquerade`: Linux keeps
 * the source port, an endpoint-independent mapping, as most home routers do) and run a stateful
 * firewall on both families: nothing unsolicited comes in from the WAN (counters
 * `ipv4-unsolicited-inbound-drop`, `ipv6-unsolicited-inbound-drop`). So h1 and h2 can dial the
 * relay but not each other, over TCP or uTP, until a holepunch opens both NATs at once.
 *
 * The libtorrent driver here runs one python3-libtorrent session with TCP and uTP, ut_pex and
 * ut_holepunch (always on in libtorrent 2.0) and prints JSON lines: `started`, `peers` (each with
 * utp, holepunched, outgoing, payload bytes), `complete`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTracked, type SixswarmProcess } from './sixswarm.js';
import { createNetns, veth, type Netns } from './netns.js';
import { PYTHON } from './peers.js';

export const HP = {
  h1: { 4: '192.168.1.10', 6: '2001:db8:1::10' },
  h2: { 4: '192.168.2.10', 6: '2001:db8:2::10' },
  /** Where the WAN sees h1 and h2: their router's address over IPv4, their own over IPv6. */
  h1Public: { 4: '198.51.100.2', 6: '2001:db8:1::10' },
  h2Public: { 4: '198.51.100.6', 6: '2001:db8:2::10' },
  relay: { 4: '203.0.113.20', 6: '2001:db8:ff::20' },
} as const;

export type Fam = 4 | 6;

/** host:port as peers write it ([v6]:port). */
export function ep(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function routerRules(lan4: string): string {
  return `
table inet cpe {
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
    ct state invalid drop
    iifname "lan0" accept
    meta l4proto ipv6-icmp accept
    icmp type echo-request accept
    meta nfproto ipv4 counter drop comment "ipv4-unsolicited-inbound-drop-to-router"
    counter drop comment "ipv6-unsolicited-inbound-drop-to-router"
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname "lan0" oifname "wan0" accept
    meta l4proto ipv6-icmp accept
    meta nfproto ipv6 counter drop comment "ipv6-unsolicited-inbound-drop"
    counter drop comment "ipv4-unsolicited-inbound-drop"
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ip saddr ${lan4} masquerade
  }
}
`;
}

export class HolepunchLab {
  constructor(
    readonly inet: Netns,
    readonly relay: Netns,
    readonly r1: Netns,
    readonly r2: Netns,
    readonly h1: Netns,
    readonly h2: Netns,
  ) {}

  /** Unsolicited packets from the WAN each router dropped so far, per family. */
  async drops(router: Netns): Promise<Record<Fam, number>> {
    // Over IPv4 the homes' public address is the router's own (input), over IPv6 the host's (forward).
    const out = await router.must('nft', ['list', 'table', 'inet', 'cpe']);
    const count = (f: Fam) => [...out.matchAll(new RegExp(`counter packets (\\d+) bytes \\d+ drop comment "ipv${f}-unsolicited-inbound-drop`, 'g'))].reduce((n, m) => n + Number(m[1]), 0);
    return { 4: count(4), 6: count(6) };
  }

  /** Whether a TCP connection from `from` to host:port is made within `ms` (a NAT that drops it: false). */
  async tcpReaches(from: Netns, host: string, port: number, ms = 1500): Promise<boolean> {
    const script = `const s=require('net').connect({host:${JSON.stringify(host)},port:${port}});s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(2));setTimeout(()=>process.exit(3),${ms});`;
    return (await from.exec(process.execPath, ['-e', script], ms + 5000)).code === 0;
  }

  async destroy(): Promise<void> {
    await Promise.all([this.h1, this.h2, this.relay].map((n) => n.destroy()));
    await Promise.all([this.r1, this.r2, this.inet].map((n) => n.destroy()));
  }
}

export async function createHolepunchLab(): Promise<HolepunchLab> {
  const made: Netns[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'sixswarm-hp-'));
  const ns = async (label: string) => {
    const n = await createNetns(label);
    made.push(n);
    await n.must('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_ra=0', 'net.ipv6.conf.default.accept_ra=0']);
    return n;
  };
  try {
    const inet = await ns('hp-inet');
    const relay = await ns('hp-relay');
    const r1 = await ns('hp-r1');
    const r2 = await ns('hp-r2');
    const h1 = await ns('hp-h1');
    const h2 = await ns('hp-h2');
    for (const r of [inet, r1, r2]) await r.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    // The WAN: a bridge with the relay on it, and a /30 (and a /64) to each router.
    await inet.ip(['link', 'add', 'srv0', 'type', 'bridge']);
    await inet.ip(['link', 'set', 'srv0', 'up']);
    await inet.ip(['addr', 'add', '203.0.113.1/24', 'dev', 'srv0']);
    await inet.ip(['-6', 'addr', 'add', '2001:db8:ff::1/64', 'dev', 'srv0', 'nodad']);
    await veth(relay, 'eth0', inet, 'relay');
    await inet.ip(['link', 'set', 'relay', 'master', 'srv0']);
    await relay.ip(['addr', 'add', `${HP.relay[4]}/24`, 'dev', 'eth0']);
    await relay.ip(['-6', 'addr', 'add', `${HP.relay[6]}/64`, 'dev', 'eth0', 'nodad']);
    await relay.ip(['route', 'add', 'default', 'via', '203.0.113.1']);
    await relay.ip(['-6', 'route', 'add', 'default', 'via', '2001:db8:ff::1']);
    const home = async (r: Netns, h: Netns, n: 1 | 2, wan4: string, core4: string) => {
      await veth(r, 'wan0', inet, `r${n}`);
      await inet.ip(['addr', 'add', `${core4}/30`, 'dev', `r${n}`]);
      await inet.ip(['-6', 'addr', 'add', `2001:db8:f${n}::1/64`, 'dev', `r${n}`, 'nodad']);
      await r.ip(['addr', 'add', `${wan4}/30`, 'dev', 'wan0']);
      await r.ip(['-6', 'addr', 'add', `2001:db8:f${n}::2/64`, 'dev', 'wan0', 'nodad']);
      await r.ip(['route', 'add', 'default', 'via', core4]);
      await r.ip(['-6', 'route', 'add', 'default', 'via', `2001:db8:f${n}::1`]);
      await inet.ip(['-6', 'route', 'add', `2001:db8:${n}::/64`, 'via', `2001:db8:f${n}::2`]);
      await veth(h, 'eth0', r, 'lan0');
      await r.ip(['addr', 'add', `192.168.${n}.1/24`, 'dev', 'lan0']);
      await r.ip(['-6', 'addr', 'add', `2001:db8:${n}::1/64`, 'dev', 'lan0', 'nodad']);
      await h.ip(['addr', 'add', `192.168.${n}.10/24`, 'dev', 'eth0']);
      await h.ip(['-6', 'addr', 'add', `2001:db8:${n}::10/64`, 'dev', 'eth0', 'nodad']);
      await h.ip(['route', 'add', 'default', 'via', `192.168.${n}.1`]);
      await h.ip(['-6', 'route', 'add', 'default', 'via', `2001:db8:${n}::1`]);
      const rules = join(dir, `r${n}.nft`);
      await writeFile(rules, routerRules(`192.168.${n}.0/24`));
      await r.must('nft', ['-f', rules]);
    };
    await home(r1, h1, 1, HP.h1Public[4], '198.51.100.1');
    await home(r2, h2, 2, HP.h2Public[4], '198.51.100.5');
    const lab = new HolepunchLab(inet, relay, r1, r2, h1, h2);
    // Both homes reach the relay over both families before anything starts.
    for (const h of [h1, h2]) for (const f of [4, 6] as const) await h.must('ping', [`-${f}`, '-c1', '-W2', '-q', HP.relay[f]]);
    return lab;
  } catch (e) {
    for (const n of made.reverse()) await n.destroy();
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One python3-libtorrent session (driver below) in a namespace. */
export interface LtNodeOptions {
  name: string;
  torrent: string;
  save: string;
  /** host:port it listens on (one address). */
  listen: string;
  seed?: boolean;
  /** Peers it dials: at `after` seconds from its start. */
  connect?: Array<{ ep: string; after?: number }>;
  /** Payload bytes per second it may download (the relays': they must never be the source). */
  downloadLimit?: number;
  /** ut_pex on (default) or off (a helper that must not introduce anyone). */
  pex?: boolean;
}

const LT_DRIVER = String.raw`
import json, sys, time
import libtorrent as lt
cfg = json.loads(sys.argv[1])
def out(**e):
    print(json.dumps(e), flush=True)
def parse(s):
    host, port = s.rsplit(':', 1)
    return host.strip('[]'), int(port)
cat = lt.alert.category_t
ses = lt.session({
    'enable_dht': False, 'dht_bootstrap_nodes': '', 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'listen_interfaces': cfg['listen'], 'user_agent': 'sixswarm-test/libtorrent-' + lt.__version__,
    'enable_incoming_utp': True, 'enable_outgoing_utp': True, 'enable_incoming_tcp': True, 'enable_outgoing_tcp': True,
    'allow_multiple_connections_per_ip': True, 'peer_connect_timeout': 5, 'min_reconnect_time': 1,
    'close_redundant_connections': False, 'enable_ip_notifier': False,
    'download_rate_limit': cfg.get('downloadLimit', 0),
    'alert_mask': cat.error_notification | cat.status_notification,
})
p = lt.add_torrent_params()
p.ti = lt.torrent_info(cfg['torrent'])
p.save_path = cfg['save']
if cfg.get('seed'):
    p.flags |= lt.torrent_flags.seed_mode
if not cfg.get('pex', True):
    p.flags |= lt.torrent_flags.disable_pex
h = ses.add_torrent(p)
out(event='started')
t0 = time.monotonic()
later = list(cfg.get('connect', []))
shown = None
done = False
seen = {}
while True:
    now = time.monotonic() - t0
    for c in list(later):
        if now >= c.get('after', 0):
            h.connect_peer(parse(c['ep']))
            later.remove(c)
    for a in ses.pop_alerts():
        if type(a).__name__ in ('listen_failed_alert', 'torrent_error_alert', 'file_error_alert'):
            out(event='error', message=a.message())
    s = h.status()
    for q in h.get_peer_info():
        if q.flags & q.connecting or q.flags & q.handshake:
            continue
        key = '%s:%d' % (q.ip[0], q.ip[1]) if ':' not in q.ip[0] else '[%s]:%d' % (q.ip[0], q.ip[1])
        e = seen.setdefault(key, {'ep': key, 'utp': False, 'holepunched': False, 'out': bool(q.flags & q.outgoing_connection), 'down': 0, 'up': 0})
        e['utp'] = e['utp'] or bool(q.flags & (1 << 17))  # peer_info::utp_socket (no name in the 2.0 binding)
        e['holepunched'] = e['holepunched'] or bool(q.flags & lt.peer_info.holepunched)
        e['down'] = max(e['down'], q.total_download)
        e['up'] = max(e['up'], q.total_upload)
    state = sorted((k, v['utp'], v['holepunched']) for k, v in seen.items())
    if state != shown:
        shown = state
        out(event='peers', peers=list(seen.values()))
    if not done and s.is_seeding and not cfg.get('seed'):
        done = True
        out(event='complete', seconds=round(now, 3), peers=list(seen.values()))
    time.sleep(0.05)
`;

export function ltNode(ns: Netns, o: LtNodeOptions): SixswarmProcess {
  return spawnTracked('ip', ['netns', 'exec', ns.name, PYTHON, '-c', LT_DRIVER, JSON.stringify(o)], { label: `libtorrent ${o.name}` });
}
