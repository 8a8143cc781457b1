/**
 * Network namespaces a benchmark creates and removes itself (bench/tunnel, bench/utp --path wan):
 * one per role, named PREFIX-ROLE, loopback up; veth pairs between them; argv that runs a program
 * inside one. Removal is synchronous, so it can also run from a process 'exit' handler, and kills
 * whatever is left inside first.
 */
import { spawnSync } from 'node:child_process';

/** Runs a command and returns its stdout; throws with its stderr when it fails. */
export function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`\`${cmd} ${args.join(' ')}\` failed: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout;
}

/** Why this process cannot create network namespaces, or undefined when it can. */
export function netnsUnavailable() {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root: it creates network namespaces';
  if (spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status !== 0) return 'needs iproute2 (`ip netns`)';
  return undefined;
}

export class Namespaces {
  /** @param {string} prefix  unique per run (a pid, a random suffix): namespaces are machine-wide */
  constructor(prefix) {
    this.prefix = prefix;
    /** role -> namespace name, for the namespaces created so far */
    this.ns = {};
  }

  /** Creates the namespace of `role` with its loopback up. */
  add(role) {
    const name = `${this.prefix}-${role}`;
    sh('ip', ['netns', 'add', name]);
    this.ns[role] = name;
    this.ip(role, ['link', 'set', 'lo', 'up']);
    return name;
  }

  /** `ip ARGS` inside the namespace of `role`. */
  ip(role, args) {
    return sh('ip', ['-n', this.ns[role], ...args]);
  }

  /** Sets sysctls ("key=value") inside the namespace of `role`. */
  sysctl(role, ...settings) {
    sh('ip', ['netns', 'exec', this.ns[role], 'sysctl', '-qw', ...settings]);
  }

  /** A veth pair, `aDev` in `a` and `bDev` in `b`, both up (device names are per namespace). */
  veth(a, aDev, b, bDev) {
    this.ip(a, ['link', 'add', aDev, 'type', 'veth', 'peer', 'name', bDev, 'netns', this.ns[b]]);
    this.ip(a, ['link', 'set', aDev, 'up']);
    this.ip(b, ['link', 'set', bDev, 'up']);
  }

  /** argv running `argv` inside the namespace of `role`. */
  exec(role, argv) {
    return ['ip', 'netns', 'exec', this.ns[role], ...argv];
  }

  /** Kills whatever is left in the namespaces and deletes them. Safe to call twice. */
  destroy() {
    for (const role of Object.keys(this.ns)) {
      const name = this.ns[role];
      delete this.ns[role];
      const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout?.split(/\s+/).filter(Boolean) ?? [];
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
      spawnSync('ip', ['netns', 'del', name]);
    }
  }
}
