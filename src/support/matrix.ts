/**
 * The support matrix (after bitflu's IPv6 "support matrix"): one row per component, with what
 * works on this host now and, when something does not, what to do about it. Built from the
 * probes' facts alone, so it says the same for the same host.
 */
import type { Family } from '../net/address.js';
import { LSD_GROUP, LSD_PORT } from '../lsd/message.js';
import { formatHostPort } from '../net/hostport.js';
import { verdictText } from '../portmap/index.js';
import { DEFAULT_CLIENT_IFNAME } from '../tunnel/client.js';
import type { HostFacts, Ipv6Address } from './probes.js';

export type SupportStatus = 'yes' | 'partial' | 'no';

export interface SupportRow {
  /** Stable name for scripts. */
  id: string;
  component: string;
  status: SupportStatus;
  /** One line: what works, or what is missing and what to do. */
  reason: string;
  /** The IPv6 connections row: the addresses that reach the Internet, best class first. */
  addresses?: Ipv6Address[];
}

const TUNNEL_HINT =
  'use the built-in tunnel: run `sixswarm tunnel-server` on a host with a routed IPv6 prefix (a VPS often has a /64), then --tunnel HOST:PORT (or SIXSWARM_TUNNEL_SERVER); without one, sixswarm still downloads and seeds over IPv4 (see the router rows for being reached there)';

type Connectivity = { status: SupportStatus; reason: string; best?: Ipv6Address };

function connectivity(f: HostFacts): Connectivity {
  const best = f.ipv6[0];
  if (!best) {
    const other = f.otherIpv6.length > 0 ? ` (${f.otherIpv6.slice(0, 2).join(', ')})` : '';
    return { status: 'no', reason: `no global IPv6 address${other}: ${TUNNEL_HINT}` };
  }
  const where = `${best.address} on ${best.device}`;
  if (f.defaultRoute6 === false) return { status: 'partial', best, reason: `${best.class} address ${where} but no IPv6 default route: add one, or ${TUNNEL_HINT}` };
  switch (best.class) {
    case 'native':
      return { status: 'yes', best, reason: `native IPv6: ${where}` };
    case 'tunnel':
      return { status: 'yes', best, reason: `through a tunnel: ${where}${best.device === DEFAULT_CLIENT_IFNAME ? " (sixswarm's tunnel prefix)" : ''}` };
    case '6to4':
    case 'teredo':
      return {
        status: 'partial',
        best,
        reason: `only ${best.class === '6to4' ? 'a 6to4' : 'a Teredo'} address (${where}), slow and often unreachable through public relays: ${TUNNEL_HINT}`,
      };
  }
}

/** Why the TUN mode cannot run here (then the tunnel runs in its stream mode), with what would let it. */
function tunProblem(t: HostFacts['tunnel']): string | undefined {
  if (t.addon) return t.addon;
  if (!t.privileged) return 'no root (CAP_NET_ADMIN) for a TUN device: run as root for the TUN mode';
  if (t.tun) return `/dev/net/tun cannot be opened (${t.tun}): ${t.tun === 'ENOENT' ? 'modprobe tun (in a container: --device /dev/net/tun)' : 'run as root'} for the TUN mode`;
  return undefined;
}

function tunnelRow(f: HostFacts, c: Connectivity): Omit<SupportRow, 'id' | 'component'> {
  const t = f.tunnel;
  const problem = tunProblem(t);
  // Without what the TUN mode needs, the stream mode runs: a sixswarm tunnel-server relays for us.
  const mode = problem ? ` in the stream mode (relayed by a sixswarm tunnel-server; ${problem})` : '';
  if (t.serverError) return { status: 'partial', reason: `SIXSWARM_TUNNEL_SERVER: ${t.serverError}` };
  if (c.best?.class === 'tunnel' && c.best.device === DEFAULT_CLIENT_IFNAME) return { status: 'yes', reason: `up: ${c.best.address} on ${c.best.device}` };
  if (!t.server) return { status: 'partial', reason: `can run here${mode}, but no server is configured: give --tunnel HOST:PORT or set SIXSWARM_TUNNEL_SERVER` };
  const auto = c.status === 'yes' ? 'stays off (this host has IPv6)' : 'comes up (this host has no IPv6 of its own)';
  return { status: 'yes', reason: `ready${mode}: --tunnel auto with ${t.server} ${auto}` };
}

/** Local peer discovery: on which LAN interfaces of each family it would announce and listen. */
function lsdRow(f: HostFacts): Omit<SupportRow, 'id' | 'component'> {
  if (f.lsd.off) return { status: 'no', reason: 'off: $SIXSWARM_LSD is "off" (unset it to find peers on the LAN without a tracker)' };
  const works = ([4, 6] as const).filter((family) => f.lsd[family].interfaces.length > 0 && !f.lsd[family].bind);
  const why = (family: Family) =>
    f.lsd[family].bind
      ? `cannot bind UDP port ${LSD_PORT} over IPv${family} (${f.lsd[family].bind}): another program holds it alone`
      : `no LAN interface with IPv${family} (up, multicast, not loopback or point-to-point)`;
  const on = works.map((family) => `IPv${family} on ${f.lsd[family].interfaces.join(', ')} (${formatHostPort(LSD_GROUP[family], LSD_PORT)})`).join(', ');
  const tail = 'public torrents are announced there and their LAN peers found without a tracker; private ones never; --no-lsd turns it off';
  if (works.length === 2) return { status: 'yes', reason: `${on}: ${tail}` };
  if (works.length === 1) return { status: 'partial', reason: `${on}, but ${why(works[0] === 4 ? 6 : 4)}: ${tail}` };
  return { status: 'no', reason: `${why(4)}; ${why(6)}: peers on the same LAN are found only through trackers, the DHT or PEX` };
}

/** Whether peers outside can connect in over a family: what the router granted when asked. */
function routerRow(f: HostFacts, family: Family): Omit<SupportRow, 'id' | 'component'> {
  const v = f.router?.[family];
  if (!v) {
    return {
      status: 'partial',
      reason: 'not asked: sixswarm asks the router to open its port whenever it runs (PCP, NAT-PMP, UPnP IGD; --no-port-mapping turns that off); `sixswarm support --router` asks it now',
    };
  }
  const text = verdictText(family, v);
  if (v.state === 'mapped' || v.state === 'pinholed') return { status: 'yes', reason: `${text} (a test mapping, deleted again)` };
  const fix =
    v.state === 'cgnat'
      ? 'peers outside cannot connect in over this family: you still reach them, and uTP holepunch or the tunnel get you in'
      : 'peers outside cannot connect in unless the router forwards the port: turn on UPnP, NAT-PMP or PCP in the router, or forward the port by hand';
  return { status: v.state === 'disabled' ? 'no' : 'partial', reason: `${text}: ${fix}` };
}

/** uTP runs on the listening port's UDP sockets; the native addon batches its datagrams. */
function utpRow(f: HostFacts): Omit<SupportRow, 'id' | 'component'> {
  const what = 'peers over TCP and uTP on one port (--transports), the one that connects first kept; LEDBAT yields to your other traffic; the transport shown per peer';
  if (f.udp4 && f.udp6) return { status: 'no', reason: `cannot bind UDP (0.0.0.0: ${f.udp4}; [::]: ${f.udp6}): peers over TCP only` };
  const families = f.udp6 ? `IPv4 only (cannot bind UDP on [::]: ${f.udp6}): ` : f.udp4 ? `IPv6 only (cannot bind UDP on 0.0.0.0: ${f.udp4}): ` : '';
  if (f.udpAddonMissing) return { status: 'partial', reason: `${families}${what}; each datagram sent on its own, slower (${f.udpAddonMissing})` };
  return { status: families ? 'partial' : 'yes', reason: `${families}${what}; datagrams batched by the native addon` };
}

/** Holepunches are uTP dials: they work where uTP does. Relaying for others needs nothing more. */
function holepunchRow(f: HostFacts): Omit<SupportRow, 'id' | 'component'> {
  const what =
    'behind NAT routers, a peer connected to both sides introduces them and both dial uTP at once, which opens both routers; we ask, answer and relay; public torrents only (never on private ones); holepunched peers shown (H)';
  if (f.udp4 && f.udp6) return { status: 'no', reason: `no uTP (cannot bind UDP): only relaying for other peers` };
  if (f.udp4 || f.udp6) return { status: 'partial', reason: `IPv${f.udp4 ? 6 : 4} only (uTP on one family): ${what}` };
  return { status: 'yes', reason: `IPv4 and IPv6: ${what}` };
}

export function supportMatrix(f: HostFacts): SupportRow[] {
  const c = connectivity(f);
  const bind6 = f.tcp6 ?? f.udp6;
  const rows: SupportRow[] = [];
  const row = (id: string, component: string, r: Omit<SupportRow, 'id' | 'component'>) => rows.push({ id, component, ...r });

  row('ipv6-bind', 'Network: binding to IPv6', bind6
    ? { status: 'no', reason: `cannot bind [::] (${f.tcp6 ? `TCP: ${f.tcp6}` : `UDP: ${f.udp6}`}): turn IPv6 on in the kernel, or run with --no-ipv6` }
    : { status: 'yes', reason: '[::] binds (TCP and UDP)' });
  row('ipv6-connections', 'Network: IPv6 connections', { status: bind6 ? 'no' : c.status, reason: bind6 ? 'IPv6 sockets cannot be bound (see above)' : c.reason, addresses: f.ipv6 });
  row('wire', 'Torrent: wire protocol', bind6
    ? { status: 'partial', reason: 'IPv4 peers only: IPv6 sockets cannot be bound here (see above)' }
    : { status: 'yes', reason: 'IPv4 and IPv6 peers on one port, one connection per peer across families' });
  const weak = c.status === 'partial' ? `, as far as this host's IPv6 reaches (see above)` : '';
  row('http-tracker', 'Torrent: HTTP tracker', !bind6 && c.status !== 'no'
    ? { status: c.status, reason: `announces over IPv4 and IPv6 (BEP 7)${weak}` }
    : { status: 'partial', reason: `over IPv4 only (no IPv6 connection): ${TUNNEL_HINT}` });
  row('udp-tracker-ipv6', 'Torrent: UDP tracker over IPv6', f.udp6
    ? { status: 'no', reason: `cannot bind a UDP socket on [::] (${f.udp6}): turn IPv6 on in the kernel` }
    : c.status !== 'no'
      ? { status: c.status, reason: `BEP 15 over IPv6, 18-byte peers${weak}` }
      : { status: 'no', reason: `no IPv6 connection to reach them: ${TUNNEL_HINT}` });
  // ut_pex passes IPv6 peers on whatever family the partner uses; dialing them is what the host decides.
  row('pex', 'Torrent: peer exchange (PEX)', c.status === 'yes'
    ? { status: 'yes', reason: 'IPv4 and IPv6 peers sent and received (added/added6), whatever family the partner uses' }
    : c.status === 'partial'
      ? { status: 'partial', reason: `IPv4 and IPv6 peers sent and received; IPv6 ones reached as far as this host's IPv6 reaches (see above)` }
      : { status: 'partial', reason: `IPv4 and IPv6 peers sent and received, but IPv6 ones cannot be dialed from here: ${TUNNEL_HINT}` });
  row('dht', 'Torrent: DHT', f.udp4
    ? { status: 'no', reason: `cannot bind UDP on 0.0.0.0 (${f.udp4}), and the DHT is IPv4 only: peers come from trackers` }
    : !f.ipv4
      ? { status: 'no', reason: 'no IPv4 address here, and the DHT is IPv4 only: peers come from trackers and PEX' }
      : { status: 'partial', reason: 'IPv4 only, by design: the IPv6 DHT (BEP 32) is rarely spoken; IPv6 peers come from trackers and PEX' });
  row('lsd', 'Torrent: local peer discovery (LSD)', lsdRow(f));
  for (const family of [4, 6] as const) row(`router-ipv${family}`, `Network: reached over IPv${family}`, routerRow(f, family));
  row('tunnel', 'Network: IPv6 tunnel', tunnelRow(f, c));
  row('utp', 'Torrent: uTP (BEP 29)', utpRow(f));
  row('holepunch', 'Torrent: holepunch (BEP 55)', holepunchRow(f));
  row('encryption', 'Torrent: encryption (MSE)', f.rc4.engine === 'native'
    ? { status: 'yes', reason: 'MSE with RC4 from the native addon' }
    : { status: 'partial', reason: `RC4 in JavaScript, a third slower (${f.rc4.missing})` });
  return rows;
}
