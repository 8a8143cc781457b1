/**
 * Address, MTU, route and rule changes through iproute2's `ip`, run with execFile (no shell,
 * arguments never interpolated into a command line).
 */
import { execFile } from 'node:child_process';

export class IpCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
  ) {
    super(`\`ip ${args.join(' ')}\` failed: ${stderr.trim().split('\n')[0] || 'no reason given'}`);
    this.name = 'IpCommandError';
  }
}

/** Runs `ip ARGS`; resolves to stdout, rejects with the first line of ip's complaint. */
export function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args as string[], { timeout: 10_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new Error('the `ip` command (iproute2) is not installed; the tunnel needs it to configure its device'));
      }
      reject(new IpCommandError(args, stderr || err.message));
    });
  });
}

/** `ip -j ...` parsed; iproute2 prints nothing at all (not `[]`) for an empty list. */
async function ipJson(args: readonly string[]): Promise<unknown[]> {
  const out = (await ip(['-j', ...args])).trim();
  if (!out) return [];
  const parsed = JSON.parse(out) as unknown;
  return Array.isArray(parsed) ? parsed : [];
}

export async function setLinkUp(dev: string, mtu: number): Promise<void> {
  await ip(['link', 'set', 'dev', dev, 'mtu', String(mtu), 'up']);
}

/** `nodad`: a TUN has no neighbours to collide with, and the address must work at once. */
export async function addAddress6(dev: string, cidr: string): Promise<void> {
  await ip(['-6', 'addr', 'add', cidr, 'dev', dev, 'nodad']);
}

/**
 * An address for this host to answer and bind on, never to pick as a source of its own: added
 * deprecated (preferred_lft 0), which source selection passes over (RFC 6724 rule 3) while
 * explicit binds and incoming connections still work. Replaces one left from before.
 */
export async function replaceLocalAddress6(dev: string, cidr: string): Promise<void> {
  await ip(['-6', 'addr', 'replace', cidr, 'dev', dev, 'nodad', 'preferred_lft', '0']);
}

export async function delAddress6(dev: string, cidr: string): Promise<void> {
  await ip(['-6', 'addr', 'del', cidr, 'dev', dev]);
}

/** Extra words go after `dev`: `table N`, `metric N`. */
export async function addRoute6(dst: string, dev: string, extra: readonly string[] = []): Promise<void> {
  await ip(['-6', 'route', 'add', dst, 'dev', dev, ...extra]);
}

/** Adds or takes over the route to `dst` (a more specific one wins over the range's). */
export async function replaceRoute6(dst: string, dev: string): Promise<void> {
  await ip(['-6', 'route', 'replace', dst, 'dev', dev]);
}

export async function delRoute6(dst: string, dev: string): Promise<void> {
  await ip(['-6', 'route', 'del', dst, 'dev', dev]);
}

export async function addSourceRule6(from: string, table: number, priority: number): Promise<void> {
  await ip(['-6', 'rule', 'add', 'from', from, 'lookup', String(table), 'priority', String(priority)]);
}

export async function delSourceRule6(from: string, table: number, priority: number): Promise<void> {
  await ip(['-6', 'rule', 'del', 'from', from, 'lookup', String(table), 'priority', String(priority)]);
}

/** Whether the main table has a usable IPv6 default route (not unreachable/prohibit/blackhole). */
export async function hasDefaultRoute6(): Promise<boolean> {
  const routes = await ipJson(['-6', 'route', 'show', 'default']);
  return routes.some((r) => {
    const type = (r as { type?: unknown }).type;
    return type === undefined || type === 'unicast';
  });
}

export interface InterfaceAddress6 {
  dev: string;
  address: string;
  prefixLength: number;
}

/** Every IPv6 address of every interface, up or down (a down one may come back up). */
export async function addresses6(): Promise<InterfaceAddress6[]> {
  const out: InterfaceAddress6[] = [];
  for (const link of await ipJson(['-6', 'addr', 'show'])) {
    const { ifname, addr_info: info } = link as { ifname?: unknown; addr_info?: unknown };
    if (typeof ifname !== 'string' || !Array.isArray(info)) continue;
    for (const a of info as Array<{ local?: unknown; prefixlen?: unknown }>) {
      if (typeof a.local === 'string' && typeof a.prefixlen === 'number') out.push({ dev: ifname, address: a.local, prefixLength: a.prefixlen });
    }
  }
  return out;
}

/** The device of the IPv4 default route (the uplink), if there is one. */
export async function defaultRouteDevice4(): Promise<string | undefined> {
  const routes = await ipJson(['-4', 'route', 'show', 'default']);
  for (const r of routes) {
    const dev = (r as { dev?: unknown }).dev;
    if (typeof dev === 'string') return dev;
  }
  return undefined;
}

export async function linkIndex(dev: string): Promise<number> {
  const links = await ipJson(['link', 'show', 'dev', dev]);
  const index = (links[0] as { ifindex?: unknown } | undefined)?.ifindex;
  if (typeof index !== 'number') throw new Error(`cannot find the interface index of ${dev}`);
  return index;
}
