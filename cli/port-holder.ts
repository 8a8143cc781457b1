/**
 * Who holds a port: when a port sixswarm wants is in use, the message names the process that
 * listens there ("pid 4242: sixswarm ui"), found in /proc (Linux): the listening sockets on that
 * port in /proc/net/{tcp,tcp6,udp,udp6}, then the process with one of them among its open files.
 * Best effort: another user's processes are hidden from a user who is not root.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

/** TCP sockets in LISTEN (0A); UDP sockets are all "listening" (07, unconnected). */
const LISTEN_STATE = { tcp: '0A', udp: '07' } as const;

/** Inodes of the sockets listening on `port` over `transport`, either family. */
function socketInodes(port: number, transport: 'tcp' | 'udp'): Set<string> {
  const inodes = new Set<string>();
  for (const file of [`/proc/net/${transport}`, `/proc/net/${transport}6`]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const local = f[1]?.split(':')[1];
      if (local === undefined || parseInt(local, 16) !== port || f[3] !== LISTEN_STATE[transport] || !f[9] || f[9] === '0') continue;
      inodes.add(f[9]);
    }
  }
  return inodes;
}

/** A process's command line as a person would type it: `sixswarm ui` for our own CLI. */
function commandLine(pid: string): string {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  const ours = argv.findIndex((a) => /sixswarm(\.js)?$/.test(a));
  const words = ours >= 0 ? ['sixswarm', ...argv.slice(ours + 1)] : [basename(argv[0] ?? '?'), ...argv.slice(1)];
  const text = words.join(' ');
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** "pid 4242: sixswarm ui --port 6881" for the process listening on `port`, or undefined when it cannot be told. */
export function portHolder(port: number, transport: 'tcp' | 'udp' = 'tcp'): string | undefined {
  const inodes = socketInodes(port, transport);
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (!m || !inodes.has(m[1]!)) continue;
      try {
        return `pid ${pid}: ${commandLine(pid)}`;
      } catch {
        return `pid ${pid}`;
      }
    }
  }
  return undefined;
}

/** "port 6881 is in use (by pid 4242: sixswarm ui)", or without the holder when it cannot be told. */
export function portInUse(port: number): string {
  const holder = portHolder(port, 'tcp') ?? portHolder(port, 'udp');
  return `port ${port} is in use${holder ? ` (by ${holder})` : ''}`;
}

/** A listen that failed for a port in use (EADDRINUSE, with the port), told with who holds it and what to do; any other error as it is. */
export function explainPortInUse(e: unknown, option = '--port'): unknown {
  const { code, port } = (e ?? {}) as { code?: unknown; port?: unknown };
  if (code !== 'EADDRINUSE' || typeof port !== 'number' || port === 0) return e;
  return new Error(`${portInUse(port)}: give another with ${option} N (0 picks a free one)`);
}
