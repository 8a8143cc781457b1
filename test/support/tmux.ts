/**
 * Test support: a real terminal for the terminal UI. Each Tmux runs its own tmux server (a
 * socket of its own), one session per program, sized as asked; the screen is read with
 * capture-pane and keys are typed with send-keys. The program's exit status is printed on the
 * screen when it ends ("[exit N]"), and the server is killed at the end of the test.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { waitUntil } from './peers.js';
import { CLI } from './sixswarm.js';

const run = promisify(execFile);

/** Quote for sh -c. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export class Tmux {
  readonly socket = `sixswarm-test-${process.pid}-${randomBytes(4).toString('hex')}`;

  /** Start `sixswarm ARGS` in a `width` x `height` terminal. */
  async start(name: string, args: string[], o: { width?: number; height?: number; env?: Record<string, string>; stderr?: string } = {}): Promise<void> {
    // What the test runner sets for every process (no public DHT router, namespaces' ranges, CI=false for ink's frames) goes in explicitly.
    const forwarded = Object.fromEntries(['CI', 'CONTINUOUS_INTEGRATION', 'SIXSWARM_DHT_BOOTSTRAP', 'SIXSWARM_TREAT_DOCUMENTATION_RANGES_AS_GLOBAL', 'SIXSWARM_PORT_MAPPING', 'SIXSWARM_LSD'].flatMap((k) => (process.env[k] !== undefined ? [[k, process.env[k]!]] : [])));
    const env = Object.entries({ ...forwarded, ...o.env }).map(([k, v]) => `${k}=${q(v)}`).join(' ');
    const err = o.stderr ? ` 2>${q(o.stderr)}` : '';
    const cmd = `env ${env} ${q(process.execPath)} ${q(CLI)} ${args.map(q).join(' ')}${err}; echo "[exit $?]"; sleep 600`;
    await this.tmux('new-session', '-d', '-s', name, '-x', String(o.width ?? 100), '-y', String(o.height ?? 30), cmd);
  }

  /** The screen as text, one line per row; a line longer than the window (a long JSON line) comes back whole (-J). */
  async screen(name: string): Promise<string> {
    return (await this.tmux('capture-pane', '-p', '-J', '-t', name)).stdout;
  }

  /** Wait until the screen matches `re`; resolves with the screen. */
  async waitFor(name: string, re: RegExp, timeoutMs = 20_000): Promise<string> {
    let last = '';
    return waitUntil(
      async () => {
        last = await this.screen(name);
        return re.test(last) ? last : undefined;
      },
      timeoutMs,
      () => `screen of ${name} matching ${re}; it shows:\n${last}`,
    );
  }

  /** Named keys (Enter, Escape, Down, C-c, ...). */
  async keys(name: string, ...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', name, ...keys);
  }

  /** Text typed as it is. */
  async type(name: string, text: string): Promise<void> {
    await this.tmux('send-keys', '-t', name, '-l', text);
  }

  async resize(name: string, width: number, height: number): Promise<void> {
    await this.tmux('resize-window', '-t', name, '-x', String(width), '-y', String(height));
  }

  /** The exit status the program printed once it ended. */
  async exitCode(name: string, timeoutMs = 20_000): Promise<number> {
    const s = await this.waitFor(name, /\[exit \d+\]/, timeoutMs);
    return Number(/\[exit (\d+)\]/.exec(s)![1]);
  }

  async kill(): Promise<void> {
    await this.tmux('kill-server').catch(() => {});
  }

  private tmux(...args: string[]) {
    return run('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { timeout: 10_000 });
  }
}

/** The percentage shown after `label` on the screen (the list's rows). */
export function percentAfter(screen: string, label: RegExp): number | undefined {
  const lines = screen.split('\n');
  const i = lines.findIndex((l) => label.test(l));
  if (i < 0) return undefined;
  // Wide rows carry it on the same line, narrow ones on the next.
  for (const l of [lines[i]!, lines[i + 1] ?? '']) {
    const m = /(\d+(?:\.\d)?)%/.exec(l);
    if (m) return Number(m[1]);
  }
  return undefined;
}
