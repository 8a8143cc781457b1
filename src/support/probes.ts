/**
 * What this host can do right now, for `sixswarm support`: whether sockets of each kind bind,
 * which IPv6 addresses it has and of which class, whether IPv6 has a default route, whether the
 * tunnel could start here, which RC4 engine MSE loads, and where local peer discovery would run
 * (its LAN interfaces, its port). Every probe is local: nothing is sent, no group is joined.
 */
import { createSocket, type SocketType } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { classify, type Family } from '../net/address.js';
import type { ReachabilityVerdict } from '../portmap/index.js';
import { parseHostPort } from '../net/hostport.js';
import { defaultRc4Engine, nativeRc4Missing, type Rc4Engine } from '../mse/rc4.js';
import { LSD_PORT } from '../lsd/message.js';
import { lanInterfaces } from '../transport/kernel/lan-interfaces.js';
import { hasDefaultRoute6 } from '../tunnel/iproute.js';
import { loadTunAddon } from '../tunnel/native.js';
import { loadNativeAddon } from '../util/native-addon.js';
import { errorMessage } from '../util/errors.js';
import { ENV, envValue } from '../util/environment.js';

/** An error code (EADDRNOTAVAIL, EAFNOSUPPORT, ...) or undefined when it worked. */
export type Outcome = string | undefined;

/** How an IPv6 address reaches the Internet, best first. */
export type Ipv6Class = 'native' | 'tunnel' | '6to4' | 'teredo';
export const CLASS_ORDER: readonly Ipv6Class[] = ['native', 'tunnel', '6to4', 'teredo'];

export interface Ipv6Address {
  address: string;
  device: string;
  class: Ipv6Class;
}

export interface TunnelFacts {
  /** Why the TUN addon does not load; undefined when it does. */
  addon: Outcome;
  /** Root, or at least CAP_NET_ADMIN (the device and its routes need it). */
  privileged: boolean;
  /** Opening /dev/net/tun: undefined when it opens, else the error code. */
  tun: Outcome;
  /** $SIXSWARM_TUNNEL_SERVER, when set; `serverError` when it does not parse. */
  server?: string;
  serverError?: string;
}

export interface HostFacts {
  tcp6: Outcome;
  udp6: Outcome;
  udp4: Outcome;
  /** Addresses that reach the Internet (global unicast, 6to4, Teredo). */
  ipv6: Ipv6Address[];
  /** Other IPv6 addresses outside loopback (ULA, documentation, link-local), as "ADDR (kind)". */
  otherIpv6: string[];
  /** undefined: cannot tell (no iproute2). */
  defaultRoute6: boolean | undefined;
  /** Any IPv4 address outside loopback. */
  ipv4: boolean;
  tunnel: TunnelFacts;
  rc4: { engine: Rc4Engine; missing: string };
  /** Why the native UDP addon (uTP's batched sends and reads) does not load; undefined when it does. */
  udpAddonMissing?: string;
  /** What the router answered when asked (`support --router`); undefined: not asked. */
  router?: Record<Family, ReachabilityVerdict>;
  /** Local peer discovery: off by $SIXSWARM_LSD, and per family its LAN interfaces and whether its port binds. */
  lsd: { off: boolean } & Record<Family, LsdFacts>;
}

export interface LsdFacts {
  interfaces: string[];
  /** Binding UDP port 6771 (shared, as LSD binds it). */
  bind: Outcome;
}

const CAP_NET_ADMIN = 12;
/** Device types (/sys/class/net/DEV/type) of IP-in-IP tunnels: sit (6in4), ip6tnl, ip6gre. */
const TUNNEL_TYPES = new Set(['776', '769', '823']);

function code(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? errorMessage(e);
}

function bindTcp6(): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (e) => resolve(code(e)));
    s.listen({ host: '::', port: 0, ipv6Only: true }, () => s.close(() => resolve(undefined)));
  });
}

/** Binding a UDP socket of `type` to `port` (0: any) on the wildcard; `reuseAddr` as a port shared with other programs is bound. */
function bindUdp(type: SocketType, port = 0, reuseAddr = false): Promise<Outcome> {
  return new Promise((resolve) => {
    let s;
    try {
      s = createSocket({ type, ipv6Only: type === 'udp6', reuseAddr });
    } catch (e) {
      return resolve(code(e));
    }
    const socket = s;
    socket.once('error', (e) => {
      socket.close();
      resolve(code(e));
    });
    socket.bind(port, type === 'udp6' ? '::' : '0.0.0.0', () => socket.close(() => resolve(undefined)));
  });
}

/** A TUN device (ours, or another VPN's) or an IP-in-IP tunnel. */
function isTunnelDevice(device: string): boolean {
  const sys = join('/sys/class/net', device);
  if (existsSync(join(sys, 'tun_flags'))) return true;
  try {
    return TUNNEL_TYPES.has(readFileSync(join(sys, 'type'), 'utf8').trim());
  } catch {
    return false;
  }
}

function addresses(): { ipv6: Ipv6Address[]; otherIpv6: string[]; ipv4: boolean } {
  const ipv6: Ipv6Address[] = [];
  const otherIpv6: string[] = [];
  let ipv4 = false;
  for (const [device, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      const c = classify(a.address);
      if (!c) continue;
      if (c.family === 4) {
        if (c.kind !== 'loopback') ipv4 = true;
        continue;
      }
      const cls: Ipv6Class | undefined = c.kind === 'global' ? (isTunnelDevice(device) ? 'tunnel' : 'native') : c.kind === '6to4' ? '6to4' : c.kind === 'teredo' ? 'teredo' : undefined;
      if (cls) ipv6.push({ address: c.text, device, class: cls });
      else if (c.kind !== 'loopback') otherIpv6.push(`${c.text} is ${c.kind}`);
    }
  }
  ipv6.sort((x, y) => CLASS_ORDER.indexOf(x.class) - CLASS_ORDER.indexOf(y.class));
  return { ipv6, otherIpv6, ipv4 };
}

function privileged(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return line !== undefined && ((BigInt(`0x${line}`) >> BigInt(CAP_NET_ADMIN)) & 1n) === 1n;
  } catch {
    return false;
  }
}

async function openTun(): Promise<Outcome> {
  try {
    // Opening configures nothing: without TUNSETIFF no device is created.
    await (await open('/dev/net/tun', 'r+')).close();
    return undefined;
  } catch (e) {
    return code(e);
  }
}

function tunnelServer(): Pick<TunnelFacts, 'server' | 'serverError'> {
  const server = envValue(ENV.tunnelServer);
  if (!server) return {};
  try {
    parseHostPort(server, 'SIXSWARM_TUNNEL_SERVER');
    return { server };
  } catch (e) {
    return { server, serverError: errorMessage(e) };
  }
}

export async function probeHost(): Promise<HostFacts> {
  const [tcp6, udp6, udp4, defaultRoute6, tun, lsd4, lsd6] = await Promise.all([
    bindTcp6(),
    bindUdp('udp6'),
    bindUdp('udp4'),
    hasDefaultRoute6().catch(() => undefined),
    openTun(),
    bindUdp('udp4', LSD_PORT, true),
    bindUdp('udp6', LSD_PORT, true),
  ]);
  let addon: Outcome;
  try {
    loadTunAddon();
  } catch (e) {
    addon = errorMessage(e);
  }
  return {
    tcp6,
    udp6,
    udp4,
    ...addresses(),
    defaultRoute6,
    tunnel: { addon, privileged: privileged(), tun, ...tunnelServer() },
    rc4: { engine: defaultRc4Engine(), missing: nativeRc4Missing() },
    udpAddonMissing: loadNativeAddon<unknown>('sixswarm_udp').missing,
    lsd: {
      off: envValue(ENV.lsd) === 'off',
      4: { interfaces: lanInterfaces(4).map((i) => i.name), bind: lsd4 },
      6: { interfaces: lanInterfaces(6).map((i) => i.name), bind: lsd6 },
    },
  };
}
