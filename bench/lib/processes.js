/**
 * Processes the benchmark starts. Each runs under /usr/bin/time (so its CPU time and peak RSS are
 * known when it ends) in a process group of its own; it is stopped by its own id (SIGTERM to the
 * program itself, so it shuts down cleanly and writes its CPU profile), then SIGKILL to its group.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

const TIME = '/usr/bin/time';
const TIME_FORMAT = 'BENCH-TIME %e %U %S %M';
const STOP_GRACE_MS = 10_000;

/** Every process not yet known to have exited. */
const live = new Set();
/** Set by stopAll: from then on nothing new starts (a pair still running must not race the cleanup). */
let closing = false;

/** Milliseconds since the epoch, with sub-millisecond precision. */
export function nowMs() {
  return performance.timeOrigin + performance.now();
}

export class BenchProcess {
  /**
   * @param {string} label  for messages
   * @param {string[]} argv  program and arguments
   * @param {{ logBase: string, env?: NodeJS.ProcessEnv }} opts  stdout goes to logBase.out, stderr to .err
   */
  constructor(label, argv, opts) {
    if (closing) throw new Error(`not starting ${label}: the benchmark is stopping`);
    this.label = label;
    this.logBase = opts.logBase;
    this.timeFile = `${opts.logBase}.time`;
    /** stdout lines parsed as JSON (lines that are not JSON are only logged) */
    this.events = [];
    this.waiters = [];
    this.exitedAt = undefined;
    const err = openSync(`${opts.logBase}.err`, 'w');
    this.startedAt = nowMs();
    this.child = spawn(TIME, ['-o', this.timeFile, '-f', TIME_FORMAT, ...argv], {
      detached: true,
      stdio: ['ignore', 'pipe', err],
      // Never the public DHT: an engine's DHT node runs (as for users) but joins no router.
      env: { ...process.env, SIXSWARM_DHT_BOOTSTRAP: 'none', SIXSWARM_PORT_MAPPING: 'off', SIXSWARM_LSD: 'off', ...opts.env },
    });
    closeSync(err);
    live.add(this);
    const out = openSync(`${opts.logBase}.out`, 'w');
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      writeSync(out, `${line}\n`);
      let e;
      try {
        e = JSON.parse(line);
      } catch {
        return;
      }
      if (typeof e !== 'object' || e === null) return;
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => !w.match(e));
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        closeSync(out);
        this.exitedAt ??= nowMs();
        live.delete(this);
        resolve({ code, signal });
      });
      this.child.on('exit', () => (this.exitedAt = nowMs()));
      this.child.on('error', (e) => {
        this.spawnError = e;
      });
    });
  }

  /** The first stdout JSON event (past or future) matching `pred`; rejects on timeout or exit. */
  waitFor(pred, timeoutMs, what) {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no ${what} within ${Math.round(timeoutMs / 1000)} s (logs: ${this.logBase}.*)`)), timeoutMs);
      this.waiters.push({
        match: (e) => {
          if (!pred(e)) return false;
          clearTimeout(timer);
          resolve(e);
          return true;
        },
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${this.label} exited (${signal ?? code}) before ${what}: ${this.lastError()}`));
      });
    });
  }

  /** Resolves with the exit status; rejects if the process is still running after `timeoutMs`. */
  async waitExit(timeoutMs) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label} still running after ${Math.round(timeoutMs / 1000)} s (logs: ${this.logBase}.*)`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The program's own pid (the child of /usr/bin/time), once it has been forked. */
  programPid() {
    try {
      const pid = Number(readFileSync(`/proc/${this.child.pid}/task/${this.child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** SIGTERM the program, wait for it, SIGKILL its process group if it lingers. */
  async stop() {
    if (!live.has(this)) return this.exited;
    const pid = this.programPid();
    signal(pid ?? -this.child.pid, 'SIGTERM');
    let timer;
    const grace = new Promise((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)));
    await Promise.race([this.exited, grace]);
    clearTimeout(timer);
    if (live.has(this)) signal(-this.child.pid, 'SIGKILL');
    return this.exited;
  }

  /** CPU seconds (user, system, both), peak RSS and wall time from /usr/bin/time; undefined until it has exited. */
  usage() {
    let text;
    try {
      text = readFileSync(this.timeFile, 'utf8');
    } catch {
      return undefined;
    }
    const m = /^BENCH-TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/m.exec(text);
    if (!m) return undefined;
    return { wallS: Number(m[1]), userS: Number(m[2]), sysS: Number(m[3]), cpuS: Number(m[2]) + Number(m[3]), maxRssKiB: Number(m[4]) };
  }

  /** The last line of stderr, for error messages. */
  lastError() {
    if (this.spawnError) return this.spawnError.message;
    try {
      const lines = readFileSync(`${this.logBase}.err`, 'utf8').trim().split('\n').filter((l) => !l.startsWith('Command exited') && !l.startsWith('Command terminated') && !l.startsWith('BENCH-TIME'));
      return lines.at(-1) || `no stderr (logs: ${this.logBase}.*)`;
    } catch {
      return `no stderr (logs: ${this.logBase}.*)`;
    }
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if (e.code !== 'ESRCH') throw e;
  }
}

/** Stop every process still running (in reverse start order); no new process starts afterwards. */
export async function stopAll() {
  closing = true;
  for (const p of [...live].reverse()) await p.stop();
}

/** Last resort when the benchmark itself exits abruptly: SIGKILL every group still running. */
export function killAllNow() {
  for (const p of live) signal(-p.child.pid, 'SIGKILL');
}

/** A TCP port free on both ::1 and 127.0.0.1 right now (for clients that cannot listen on port 0 and report it). */
export async function freePort() {
  for (;;) {
    const port = await listenOnce(0, '::1');
    if ((await listenOnce(port, '127.0.0.1').catch(() => 0)) === port) return port;
  }
}

function listenOnce(port, host) {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, host, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}
