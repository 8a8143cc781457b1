/**
 * `sixswarm demo`: the product on any machine, no network needed. A seed and three leechers
 * (IPv6 only, IPv4 only, dual-stack) share a generated payload over loopback through the built-in
 * tracker, in this one process, shown in the terminal UI (or as plain lines with --headless).
 * It exits 0 once every leecher's copy matches the payload, or on q.
 */
import { errorMessage } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import { parseSize } from '../src/util/size.js';
import { command } from './command.js';
import { parseOptions, type OptionTable } from './option-table.js';
import { DemoSwarm, type DemoPeer } from './demo-swarm.js';
import { parseIntOption, parseRateOption } from './numbers.js';
import { progressLine } from './reporter.js';
import { stopSignals } from './stop-signals.js';
import { engineOf } from './ui/sources.js';
import type { UiSnapshot } from './ui/state.js';
import { terminalUiPossible } from './ui/has-terminal.js';
import type { TerminalUi } from './ui/terminal-ui.js';

const options = {
  headless: { type: 'boolean', help: 'no UI: plain progress lines, for scripts and CI (the same run)' },
  size: { type: 'string', value: 'SIZE', help: 'payload size (default 24M; K/M/G suffixes, at least 64K)' },
  rate: { type: 'string', value: 'RATE', help: "the seed's upload rate per second (default 2M; each leecher uploads at half)" },
  timeout: { type: 'string', value: 'S', help: 'give up after S seconds (default 600), exit 1' },
  keep: { type: 'boolean', help: 'keep the temporary folder (payload, torrent, copies, resume state)' },
} as const satisfies OptionTable;

const about = `Shows sixswarm on this machine with no network at all: it makes a payload of random data (a few
files) in a temporary folder, a torrent for it, and starts the built-in tracker on [::1] and
127.0.0.1, a dual-stack seed and three leechers - one IPv6 only, one IPv4 only, one
dual-stack - each a separate engine with its own port, all in this one process and all on
loopback. The terminal UI shows them: peers by family, trackers per family, rates, the piece
map (Enter on a row; n shows the network). Uploads are rate-limited so there is time to watch.
Once every leecher has verified every piece, its copy is also compared with the payload byte
for byte; when all match, the demo removes its folder and exits 0. q quits earlier (also 0).`;

const notes = `Exit codes: 0 every copy verified (or quit with q), 1 the demo failed or timed out, 2 bad usage.`;

/** After the last copy is verified, the UI stays this long so the end can be seen. */
const LINGER_MS = 4000;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(options, argv, { positionals: true });
  if (positionals.length > 0) throw new UsageError(`sixswarm demo takes no arguments (got "${positionals[0]}"); see --help`);
  const size = parseSize(values.size ?? '24M');
  if (size === undefined || size < 64 * 1024 || size > 4 * 1024 ** 3) throw new UsageError(`--size must be a size from 64K to 4G, like 24M, not "${values.size}"`);
  const rate = parseRateOption(values.rate ?? '2M', '--rate');
  if (rate === undefined) throw new UsageError('--rate 0 would leave the demo with nothing to watch: give a rate such as 2M');
  const timeoutMs = parseIntOption(values.timeout ?? '600', '--timeout', 1, 86_400) * 1000;
  const headless = !!values.headless || !terminalUiPossible(false);

  let finish!: (code: number) => void;
  const finished = new Promise<number>((r) => (finish = r));
  // Before the folder exists: a signal (the terminal closed) at any moment from here on removes it.
  const signals = stopSignals();
  void signals.stopped.then(() => finish(0));
  const swarm = await DemoSwarm.create().catch((e: unknown) => {
    signals.dispose();
    throw e;
  });
  const timer = setTimeout(() => finish(1), timeoutMs);
  timer.unref();

  // ink and react load only for the UI (most of a second of start-up).
  const out = headless ? new PlainOutput(swarm) : new UiOutput(swarm, () => finish(0), (await import('./ui/terminal-ui.js')).TerminalUi);
  const verifyWhenComplete = (p: DemoPeer) => {
    if (p.role !== 'leecher') return;
    p.torrent.on('event', (e) => {
      if (e.event !== 'complete') return;
      swarm.verify(p).then(
        (ok) => {
          out.note(ok ? `${p.label}: every piece verified, and its copy matches the payload byte for byte` : `${p.label}: its copy differs from the payload`, !ok);
          if (!ok) finish(1);
          else if (swarm.done) out.allDone(() => finish(0));
        },
        (e: unknown) => {
          out.note(`${p.label}: cannot read its copy: ${errorMessage(e)}`, true);
          finish(1);
        },
      );
    });
  };
  let code: number;
  let ending = false;
  try {
    out.begin();
    out.note(`working in ${swarm.root}`);
    void swarm
      .start({ size, rate }, (p) => {
        verifyWhenComplete(p);
        out.peer(p);
      })
      .catch((e: unknown) => {
        if (ending) return; // stopped while starting: nothing went wrong
        out.note(`the demo could not start: ${errorMessage(e)}`, true);
        finish(1);
      });
    code = await finished;
    if (code === 1 && !swarm.done) out.note(`stopped before every leecher had its copy (timeout ${timeoutMs / 1000} s or a failure)`, true);
  } finally {
    ending = true;
    clearTimeout(timer);
    await out.end();
    await swarm.stop(!!values.keep);
    // Only now: until the folder is gone, a signal (a SIGHUP after the first one) must not end the process.
    signals.dispose();
  }
  if (values.keep) process.stderr.write(`kept ${swarm.root}\n`);
  return code;
}

interface DemoOutput {
  begin(): void;
  peer(p: DemoPeer): void;
  note(text: string, error?: boolean): void;
  /** Every copy is verified: call `exit` now or after a while. */
  allDone(exit: () => void): void;
  end(): Promise<void>;
}

/** --headless: a line per event worth reading, and every leecher's progress every two seconds. */
class PlainOutput implements DemoOutput {
  private timer?: NodeJS.Timeout;
  constructor(private readonly swarm: DemoSwarm) {}
  begin(): void {
    this.timer = setInterval(() => {
      for (const p of this.swarm.leechers) process.stdout.write(`${p.label}: ${progressLine(p.feed.summary(p.torrent))}\n`);
    }, 2000);
  }
  peer(p: DemoPeer): void {
    const where = p.engine.listening().map((l) => (l.family === 6 ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`)).join(' ');
    process.stdout.write(`${p.label}: started, listening on ${where}\n`);
    p.feed.on('event', (e) => {
      if (e.event === 'peer-connected') process.stdout.write(`${p.label}: peer ${e.address} connected over IPv${e.family} (${e.direction})\n`);
      if (e.event === 'tracker' && e.announce !== 'stopped') {
        process.stdout.write(`${p.label}: tracker ${e.tracker} over IPv${e.family}: ${e.error ? `error: ${e.error}` : `${e.peers4} IPv4 + ${e.peers6} IPv6 peers`}\n`);
      }
      if (e.event === 'warning' || e.event === 'error') process.stdout.write(`${p.label}: ${e.event}: ${e.message}\n`);
    });
  }
  note(text: string, error = false): void {
    (error ? process.stderr : process.stdout).write(`${text}\n`);
  }
  allDone(exit: () => void): void {
    process.stdout.write('every leecher verified its copy: done\n');
    exit();
  }
  async end(): Promise<void> {
    clearInterval(this.timer);
  }
}

/** The terminal UI over every engine of the demo: one row per peer of the swarm. */
class UiOutput implements DemoOutput {
  private ui?: TerminalUi;
  private readonly notes: string[] = [];
  constructor(
    private readonly swarm: DemoSwarm,
    private readonly quit: () => void,
    private readonly Ui: typeof TerminalUi,
  ) {}
  begin(): void {
    this.ui = new this.Ui({
      title: 'demo: 1 seed + 3 leechers on loopback',
      can: [],
      snapshot: (detailOf, cells) => this.snapshot(detailOf, cells),
      run: () => Promise.reject(new Error('the demo runs by itself: q quits')),
      quit: this.quit,
    });
    this.ui.start();
  }
  peer(): void {}
  note(text: string, error = false): void {
    this.notes.push(text);
    this.ui?.message(error ? 'error' : 'info', text);
  }
  allDone(exit: () => void): void {
    this.ui?.message('info', `every leecher verified its copy: the demo ends in ${LINGER_MS / 1000} s (q ends it now)`);
    setTimeout(exit, LINGER_MS).unref();
  }
  async end(): Promise<void> {
    await this.ui?.close();
    // What happened stays readable once the UI is gone.
    for (const n of this.notes) process.stdout.write(`${n}\n`);
  }

  /**
   * Every peer is a row. They all share one info hash, so each row's key is the info hash and the
   * peer's place in the swarm (the UI selects rows by that key; the demo runs no commands).
   */
  private snapshot(detailOf: string | undefined, cells: number): UiSnapshot {
    const rows = this.swarm.peers.map((p, i) => ({ p, key: `${p.torrent.infoHashHex}/${i}` }));
    const torrents = rows.map(({ p, key }) => ({ ...p.feed.summary(p.torrent), infoHash: key, name: `${p.label} · ${p.torrent.name}` }));
    const chosen = rows.find((r) => r.key === detailOf);
    const detail = chosen ? { ...chosen.p.feed.detail(chosen.p.torrent, cells), infoHash: chosen.key, name: torrents[rows.indexOf(chosen)]!.name } : undefined;
    // The network panel: the dual-stack leecher's view (or the first peer's), with every engine's sockets and reach.
    const main = this.swarm.peers.at(-1) ?? this.swarm.peers[0];
    const engine = main ? engineOf(main.feed) : { listening: [], transports: [], addresses: [], reached: {}, refused: 0 };
    const listening = this.swarm.peers.flatMap((p) => p.engine.listening());
    const reached = { ...engine.reached };
    for (const p of this.swarm.peers) {
      const r = p.feed.snapshot().reached;
      for (const f of [4, 6] as const) if (r[f] && (!reached[f] || r[f]!.at > reached[f]!.at)) reached[f] = r[f];
    }
    return { torrents, ...(detail ? { detail } : {}), engine: { ...engine, listening, reached }, at: Date.now() };
  }
}

export const demo = command({
  name: 'demo',
  summary: 'a seed and IPv6/IPv4/dual-stack leechers on loopback, in the UI (no network needed)',
  usage: 'Usage: sixswarm demo [--headless] [--size SIZE] [--rate RATE] [--timeout S] [--keep]',
  about,
  options,
  notes,
  run,
});
