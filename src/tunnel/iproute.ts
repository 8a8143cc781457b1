/**
 * Address, MTU, route and rule changes through iproute2's `ip`, run with execFile (no shell,
 * arguments never interpolated into a command line).
 */
import { execFile, spawn } from 'node:child_process';

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

/**
 * `ip` commands run in order, as many at once as have queued up while the previous batch ran, in
 * one `ip -force -batch -` (a server taking back a thousand clients after a restart runs a few
 * processes, not a thousand). Each command still succeeds or fails on its own. A batch line takes
 * no options: commands name their family by their addresses (`addr del 2001:db8::1/128 ...`).
 */
export class IpBatcher {
  private queued: Array<{ args: readonly string[]; resolve: () => void; reject: (e: Error) => void }> = [];
  private running = false;

  run(args: readonly string[]): Promise<void> {
    if (args[0]?.startsWith('-')) return Promise.reject(new Error(`\`ip ${args.join(' ')}\`: a batched command takes no options`));
    return new Promise((resolve, reject) => {
      this.queued.push({ args, resolve, reject });
      if (!this.running) void this.next();
    });
  }

  private async next(): Promise<void> {
    this.running = true;
    while (this.queued.length > 0) {
      const batch = this.queued.splice(0);
      const failures = await runBatch(batch.map((c) => c.args));
      batch.forEach((c, i) => {
        const failure = failures.get(i + 1);
        if (failure === undefined) c.resolve();
        else c.reject(failure instanceof Error ? failure : new IpCommandError(c.args, failure));
      });
    }
    this.running = false;
  }
}

/** Failures of a batch by line number (1-based): ip's complaint, or an Error when ip did not run at all. */
function runBatch(commands: ReadonlyArray<readonly string[]>): Promise<Map<number, string | Error>> {
  return new Promise((resolve) => {
    const failures = new Map<number, string | Error>();
    const all = (e: Error) => {
      commands.forEach((_, i) => failures.set(i + 1, e));
      resolve(failures);
    };
    const child = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', (e: NodeJS.ErrnoException) =>
      all(e.code === 'ENOENT' ? new Error('the `ip` command (iproute2) is not installed; the tunnel needs it to configure its device') : e),
    );
    child.on('close', () => {
      // Each failure is its complaint, then "Command failed -:N".
      let said: string[] = [];
      for (const line of stderr.split('\n')) {
        const m = /^Command failed -:(\d+)$/.exec(line.trim());
        if (m) {
          failures.set(Number(m[1]), said.join(' ').trim() || 'no reason given');
          said = [];
        } else if (line.trim()) said.push(line.trim());
      }
      resolve(failures);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(commands.map((c) => c.join(' ')).join('\n') + '\n');
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
export function replaceLocalAddress6(batcher: IpBatcher, dev: string, cidr: string): Promise<void> {
  return batcher.run(['addr', 'replace', cidr, 'dev', dev, 'nodad', 'preferred_lft', '0']);
}

export async function delAddress6(dev: string, cidr: string): Promise<void> {
  await ip(['-6', 'addr', 'del', cidr, 'dev', dev]);
}

/** Extra words go after `dev`: `table N`, `metric N`. */
export async function addRoute6(dst: string, dev: string, extra: readonly string[] = []): Promise<void> {
  await ip(['-6', 'route', 'add', dst, 'dev', dev, ...extra]);
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
