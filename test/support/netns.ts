/**
 * Network namespaces for tests that need real routing (the tunnel, engine-over-tunnel
 * transfers): build a small topology, run commands and processes inside it, reach sockets in
 * it from the test process, and tear everything down, also when a test fails.
 *
 * Needs root and iproute2 (check `netnsUnavailable()` and skip otherwise). Namespace names
 * are unique per run, addresses come only from the documentation ranges (192.0.2.0/24,
 * 2001:db8::/32), and nothing is created in the test process's own namespace.
 *
 * The tunnel topology (createTunnelTopology):
 *
 *     client ns                      broker ns                         peer ns
 *     IPv4 only                      IPv6 forwarding on                native IPv6
 *     up0 192.0.2.2/24  <--veth-->  down0 192.0.2.1/24
 *                                    side0 2001:db8:ffff::1/64 <--veth--> eth0 2001:db8:ffff::2/64
 *                                                                      default via 2001:db8:ffff::1
 *
 * The tunnel server runs in the broker (listening on 192.0.2.1) and hands out /64s of
 * `addresses.tunnelRange`; the tunnel client runs in the client namespace.
 *
 * Typical use:
 *
 *     const topo = await createTunnelTopology();
 *     try {
 *       const server = topo.broker.spawn('node', ['dist/bin/sixswarm.js', 'tunnel-server', ...]);
 *       await server.waitForLine((l) => l.includes('"listening"'));
 *       await topo.client.exec('ping', ['-6', '-c', '1', topo.addresses.peerV6]);
 *     } finally {
 *       await topo.destroy(); // kills every process in the namespaces, deletes them
 *     }
 *
 * A test process can also serve or dial inside a namespace without running there: `listen`
 * and `connect` relay TCP inside the namespace to a Unix socket of the test (Unix sockets are
 * not bound to a network namespace), so raw protocol harnesses stay in-process.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** setpriv arguments that run a command as user nobody (for the "without root" cases). */
export const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/** Whether user nobody can read the built CLI where this checkout lives (a home folder may forbid it). */
export function nobodyCanRunCli(): boolean {
  const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'bin', 'sixswarm.js');
  try {
    execFileSync('setpriv', [...NOBODY, process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(cli)}, require('fs').constants.R_OK)`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux-only';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (`ip netns`) is not available';
  }
  return undefined;
}

/** Namespaces not yet destroyed: deleted on process exit if a test never got to it. */
const live = new Set<string>();
process.once('exit', () => {
  for (const name of live) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
      for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

const RUN_ID = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
let counter = 0;

function run(cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(cmd, args as string[], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code !== 0 && !stderr ? err.message : '') });
    });
  });
}

/** Runs `cmd`; rejects with its stderr when it exits non-zero. */
async function must(cmd: string, args: readonly string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`\`${cmd} ${args.join(' ')}\` failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Forwards TCP inside a namespace to a Unix socket of the test process.
 *   listen HOST PORT PATH: accept on HOST:PORT, one Unix connection to PATH per TCP connection
 *   connect HOST PORT PATH: dial HOST:PORT once, join it to one Unix connection to PATH
 * Prints "ready" when listening. Half-closes are passed on; an error resets both sides.
 */
const RELAY = String.raw`
const net = require('net');
const [mode, host, port, path] = process.argv.slice(1);
function join(a, b) {
  a.pipe(b); b.pipe(a);
  for (const [x, y] of [[a, b], [b, a]]) {
    x.on('error', () => { x.destroy(); y.destroy(); });
    x.on('close', (hadError) => { if (hadError) y.destroy(); else { y.end(); setTimeout(() => y.destroy(), 1000).unref(); } });
  }
}
if (mode === 'listen') {
  const server = net.createServer((tcp) => join(tcp, net.connect(path)));
  server.listen({ host, port: Number(port) }, () => console.log('ready'));
} else {
  const tcp = net.connect({ host, port: Number(port) });
  tcp.once('error', (e) => { console.error(e.message); process.exit(1); });
  tcp.once('connect', () => join(tcp, net.connect(path)));
}
`;

/** A process running inside a namespace, with its output collected line by line. */
export class NsProcess {
  /** stdout, one entry per line, as it arrives. */
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];
  private partial = '';

  constructor(
    readonly child: ChildProcess,
    readonly description: string,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      const parts = (this.partial + text).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (this.partial) this.lines.push(this.partial);
        this.partial = '';
        resolve({ code, signal });
        this.wake();
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * The first stdout line from index `from` on that satisfies `match`; rejects on timeout or
   * when the process exits first (with its stderr in the message).
   */
  waitForLine(match: (line: string) => boolean, opts: { timeoutMs?: number; from?: number } = {}): Promise<string> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    let next = opts.from ?? 0;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`${this.description}: no matching line within ${timeoutMs} ms\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`));
      }, timeoutMs);
      const check = () => {
        for (; next < this.lines.length; next++) {
          if (match(this.lines[next]!)) {
            clearTimeout(timer);
            return resolve(this.lines[next]!);
          }
        }
        if (!this.running) {
          clearTimeout(timer);
          return reject(new Error(`${this.description} exited (${this.child.exitCode ?? this.child.signalCode}) before a matching line\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`));
        }
        this.waiters.push(check);
      };
      check();
    });
  }

  /** Lines parsed as JSON objects (lines that are not JSON are skipped). */
  json<T = Record<string, unknown>>(): T[] {
    return this.lines.flatMap((l) => {
      try {
        const v = JSON.parse(l) as unknown;
        return typeof v === 'object' && v !== null ? [v as T] : [];
      } catch {
        return [];
      }
    });
  }

  /** Sends `signal`, then SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      this.child.kill(signal);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }
}

/** A listener inside a namespace whose connections arrive in the test process. */
export interface NsListener {
  /** Emits 'connection' with a net.Socket for every TCP connection made to host:port in the namespace. */
  server: Server;
  close(): Promise<void>;
}

/** One network namespace. Create with createNetns or createTunnelTopology. */
export class Netns {
  private readonly procs = new Set<NsProcess>();
  private readonly cleanups: Array<() => Promise<void>> = [];
  private destroyed = false;

  constructor(readonly name: string) {}

  /** Runs a command inside the namespace; never rejects (look at `code`). */
  exec(cmd: string, args: readonly string[] = [], timeoutMs?: number): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], timeoutMs);
  }

  /** Runs a command inside the namespace; rejects when it exits non-zero. */
  async must(cmd: string, args: readonly string[] = []): Promise<string> {
    const r = await this.exec(cmd, args);
    if (r.code !== 0) throw new Error(`[${this.name}] \`${cmd} ${args.join(' ')}\` failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** `ip ARGS` inside the namespace. */
  ip(args: readonly string[]): Promise<string> {
    return must('ip', ['-n', this.name, ...args]);
  }

  /** Starts a long-running process inside the namespace; stopped by destroy() at the latest. */
  spawn(cmd: string, args: readonly string[] = [], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): NsProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new NsProcess(child, `[${this.name}] ${cmd} ${args.join(' ')}`);
    this.procs.add(proc);
    void proc.exited.then(() => this.procs.delete(proc));
    return proc;
  }

  /** Accepts TCP on host:port inside the namespace; connections arrive in `server`. */
  async listen(host: string, port: number): Promise<NsListener> {
    const dir = await mkdtemp(join(tmpdir(), 'sixswarm-ns-'));
    const path = join(dir, 'relay.sock');
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
    const relay = this.spawn(process.execPath, ['-e', RELAY, 'listen', host, String(port), path]);
    const close = async () => {
      await relay.stop('SIGKILL');
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    };
    this.cleanups.push(close);
    try {
      await relay.waitForLine((l) => l === 'ready');
    } catch (e) {
      await close();
      throw e;
    }
    return { server, close };
  }

  /** Opens a TCP connection from inside the namespace to host:port; the socket lives here. */
  async connect(host: string, port: number, timeoutMs = 5000): Promise<Socket> {
    const dir = await mkdtemp(join(tmpdir(), 'sixswarm-ns-'));
    const path = join(dir, 'relay.sock');
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
    const relay = this.spawn(process.execPath, ['-e', RELAY, 'connect', host, String(port), path]);
    const cleanup = async () => {
      server.close();
      await rm(dir, { recursive: true, force: true });
    };
    this.cleanups.push(async () => {
      await relay.stop('SIGKILL');
      await cleanup();
    });
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`connect to ${host}:${port} in ${this.name}: timed out`)), timeoutMs);
        server.once('connection', (s) => {
          clearTimeout(timer);
          resolve(s);
        });
        void relay.exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`connect to ${host}:${port} in ${this.name} failed: ${relay.stderr.trim()}`));
        });
      });
    } finally {
      await cleanup(); // the accepted socket stays open; the listener and its file are not needed
    }
  }

  /** PIDs of every process inside the namespace. */
  async pids(): Promise<number[]> {
    const out = await run('ip', ['netns', 'pids', this.name]);
    return out.stdout.split(/\s+/).filter(Boolean).map(Number);
  }

  /** Stops our processes (SIGTERM, then SIGKILL), kills any other process left inside, deletes the namespace. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.procs].map((p) => p.stop('SIGTERM', 2000)));
    for (const c of this.cleanups.splice(0)) await c().catch(() => {});
    for (const pid of await this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    await run('ip', ['netns', 'del', this.name]);
    live.delete(this.name);
  }
}

/** A new namespace with loopback up; `label` makes its name readable (`sx<run>-<n>-<label>`). */
export async function createNetns(label: string): Promise<Netns> {
  const name = `sx${RUN_ID}-${++counter}-${label}`;
  await must('ip', ['netns', 'add', name]);
  live.add(name);
  const ns = new Netns(name);
  try {
    await ns.ip(['link', 'set', 'lo', 'up']);
  } catch (e) {
    await ns.destroy();
    throw e;
  }
  return ns;
}

/** A veth pair: `aDev` inside `a`, `bDev` inside `b`, both up (names are per-namespace). */
export async function veth(a: Netns, aDev: string, b: Netns, bDev: string): Promise<void> {
  await a.ip(['link', 'add', aDev, 'type', 'veth', 'peer', 'name', bDev, 'netns', b.name]);
  await a.ip(['link', 'set', aDev, 'up']);
  await b.ip(['link', 'set', bDev, 'up']);
}

export interface TunnelTopology {
  broker: Netns;
  client: Netns;
  peer: Netns;
  addresses: {
    /** The broker's address toward the client: where the tunnel server listens. */
    brokerV4: string;
    clientV4: string;
    brokerV6: string;
    /** The native IPv6 peer. */
    peerV6: string;
    /** A range the tunnel server may hand /64s out of (routed to the broker by the peer's default route). */
    tunnelRange: string;
  };
  /** Tears down all three namespaces (and every process in them). Safe to call twice. */
  destroy(): Promise<void>;
}

/**
 * After a suite's last test: `first` (e.g. stopping its processes), then the topology's
 * namespaces go and its work folder is removed.
 */
export function destroyAfterAll(topo: () => TunnelTopology | undefined, dir: () => string | undefined, first?: () => Promise<void>): void {
  afterAll(async () => {
    await first?.();
    await topo()?.destroy();
    const d = dir();
    if (d) await rm(d, { recursive: true, force: true });
  });
}

/** The three-namespace topology pictured at the top of this file. */
export async function createTunnelTopology(): Promise<TunnelTopology> {
  const made: Netns[] = [];
  const destroy = async () => {
    await Promise.all(made.map((ns) => ns.destroy()));
  };
  try {
    const broker = await createNetns('broker');
    made.push(broker);
    const client = await createNetns('client');
    made.push(client);
    const peer = await createNetns('peer');
    made.push(peer);
    const addresses = {
      brokerV4: '192.0.2.1',
      clientV4: '192.0.2.2',
      brokerV6: '2001:db8:ffff::1',
      peerV6: '2001:db8:ffff::2',
      tunnelRange: '2001:db8:100::/56',
    };
    await veth(client, 'up0', broker, 'down0');
    // IPv4 only: not even a link-local IPv6 address on the client's uplink.
    await client.must('sysctl', ['-qw', 'net.ipv6.conf.up0.disable_ipv6=1']);
    await client.ip(['addr', 'add', `${addresses.clientV4}/24`, 'dev', 'up0']);
    await broker.ip(['addr', 'add', `${addresses.brokerV4}/24`, 'dev', 'down0']);
    await veth(broker, 'side0', peer, 'eth0');
    await broker.ip(['-6', 'addr', 'add', `${addresses.brokerV6}/64`, 'dev', 'side0', 'nodad']);
    await peer.ip(['-6', 'addr', 'add', `${addresses.peerV6}/64`, 'dev', 'eth0', 'nodad']);
    await peer.ip(['-6', 'route', 'add', 'default', 'via', addresses.brokerV6]);
    await broker.must('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
    return { broker, client, peer, addresses, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}
