/**
 * Test support: run the built CLI as a real process, read its --json events, wait for them,
 * and stop it; plus payload trees and free ports. Every process started is killed in `stopAll`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import type { Metainfo } from '../../src/metainfo/types.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'bin', 'sixswarm.js');

export type JsonEvent = { event: string } & Record<string, unknown>;

export class SixswarmProcess {
  readonly events: JsonEvent[] = [];
  stderr = '';
  stdoutRaw = '';
  readonly exited: Promise<number | null>;
  private waiters: { pred: (e: JsonEvent) => boolean; resolve: (e: JsonEvent) => void }[] = [];

  constructor(readonly proc: ChildProcess, readonly label: string) {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      this.stdoutRaw += `${line}\n`;
      let e: JsonEvent;
      try {
        e = JSON.parse(line) as JsonEvent;
      } catch {
        return;
      }
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(e)) return true;
        w.resolve(e);
        return false;
      });
    });
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((r) => {
      proc.on('exit', (code) => r(code));
      // A program that cannot be started (not installed) reports here, not through 'exit'.
      proc.on('error', (e) => {
        this.stderr += `cannot run ${label}: ${e.message}\n`;
        r(null);
      });
    });
  }

  /** Resolve with the first event (past or future) matching `pred`; reject after `timeoutMs` or on exit. */
  waitFor(pred: (e: JsonEvent) => boolean, timeoutMs = 30_000, what = 'event'): Promise<JsonEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms\nstderr: ${this.stderr}\nlast events: ${this.tail()}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
      void this.exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`${this.label} exited (${code}) before ${what}\nstderr: ${this.stderr}\nlast events: ${this.tail()}`));
      });
    });
  }

  /** The exit code, once it has exited; rejects with its last words if it has not within `timeoutMs`. */
  async exitCode(timeoutMs = 15_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label}: still running ${timeoutMs} ms later\nstderr: ${this.stderr}\nlast events: ${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  event(name: string, timeoutMs?: number): Promise<JsonEvent> {
    return this.waitFor((e) => e.event === name, timeoutMs, `"${name}" event`);
  }

  /** The port it listens on (from its `listening` event). */
  async port(): Promise<number> {
    return (await this.event('listening')).port as number;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }

  tail(n = 8): string {
    return this.events.filter((e) => e.event !== 'piece-verified').slice(-n).map((e) => JSON.stringify(e)).join('\n');
  }
}

const running = new Set<SixswarmProcess>();

export function sixswarm(args: string[], opts: { env?: NodeJS.ProcessEnv; label?: string; cwd?: string; wrap?: string[] } = {}): SixswarmProcess {
  const cmd = opts.wrap ? [...opts.wrap, process.execPath, CLI, ...args] : [process.execPath, CLI, ...args];
  return spawnTracked(cmd[0]!, cmd.slice(1), { env: opts.env, cwd: opts.cwd, label: opts.label ?? args[0] ?? 'sixswarm' });
}

/**
 * Any program run the way the CLI is (third-party peers too): JSON lines on stdout become events,
 * every line is kept, and `stopAll` kills it.
 */
export function spawnTracked(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; label: string }): SixswarmProcess {
  const proc = spawn(command, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = new SixswarmProcess(proc, opts.label);
  running.add(p);
  void p.exited.then(() => running.delete(p));
  return p;
}

/**
 * `sixswarm tracker --port 0 --json ARGS`, resolved once every socket listens, with the port they
 * share. Its --json lines carry `type` (listening, announce, bad-request), not `event`.
 */
export async function builtInTracker(args: string[], opts: { env?: NodeJS.ProcessEnv; wrap?: string[] } = {}): Promise<{ proc: SixswarmProcess; port: number }> {
  const proc = sixswarm(['tracker', '--port', '0', '--json', ...args], { ...opts, label: 'sixswarm tracker' });
  const first = await proc.waitFor((e) => e.type === 'listening', 15_000, 'listening');
  // Every socket is bound before the first line is printed; the rest follow in the same tick.
  return { proc, port: first.port as number };
}

/** Run to completion; returns exit code and output. */
export async function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; wrap?: string[] } = {}) {
  const p = sixswarm(args, opts);
  const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdoutRaw, stderr: p.stderr, events: p.events };
}

export async function stopAll(): Promise<void> {
  const all = [...running];
  for (const p of all) p.kill('SIGKILL');
  await Promise.all(all.map((p) => p.exited));
}

export async function tempDir(prefix = 'sixswarm-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** Write random files: `{ 'a.bin': 1000, 'sub/b.bin': 5 }` (sizes in bytes). */
export async function makeTree(root: string, files: Record<string, number>): Promise<void> {
  for (const [rel, size] of Object.entries(files)) {
    const full = join(root, rel);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, randomBytes(size));
  }
}

/** sha1 of every file under `root`, keyed by relative path. */
export async function treeDigest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else out[relative(root, full)] = createHash('sha1').update(await readFile(full)).digest('hex');
    }
  };
  await walk(root);
  return out;
}

/** A TCP port that is free on both 127.0.0.1 and ::1 right now. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, '::', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const ok = await new Promise<boolean>((res) => {
      const s = createServer();
      s.once('error', () => res(false));
      s.listen(port, '0.0.0.0', () => s.close(() => res(true)));
    });
    if (ok) return port;
  }
}

/**
 * A payload of random files under `<dir>/seed/payload` and its torrent `<dir>/t.torrent`, made
 * by `sixswarm create`; returns the parsed torrent and its bytes in file order.
 */
export async function seedPayload(dir: string, tree: Record<string, number>, pieceLength: number): Promise<{ torrent: string; meta: Metainfo; payload: Buffer }> {
  await makeTree(join(dir, 'seed', 'payload'), tree);
  const torrent = join(dir, 't.torrent');
  const created = await runCli(['create', join(dir, 'seed', 'payload'), '-o', torrent, '--piece-length', String(pieceLength)]);
  if (created.code !== 0) throw new Error(`sixswarm create failed: ${created.stderr}`);
  const meta = await readTorrentFile(torrent);
  const payload = Buffer.concat(await Promise.all(meta.files.map((f) => readFile(join(dir, 'seed', ...f.path)))));
  return { torrent, meta, payload };
}

/** Tests run the compiled CLI. `npm test` builds first; a lone `npx vitest` builds once if dist/ is missing. */
export function ensureBuilt(): void {
  if (!existsSync(CLI)) execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
}

/**
 * For a test file: build once, and after each test kill every process it started and remove its
 * temp folder (`dir()` reads the file's current one).
 */
export function cleanUpAfterEach(dir: () => string | undefined): void {
  beforeAll(ensureBuilt);
  afterEach(async () => {
    await stopAll();
    await removeDir(dir());
  });
}
