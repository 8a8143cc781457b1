/**
 * `sixswarm ui` (and `sixswarm` alone on a terminal): the terminal UI over a session of every
 * torrent the user added, kept on disk and resumed at start.
 */
import { resolve } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import { defaultSessionDir, SessionStore } from '../src/session/session-store.js';
import { StatusFeed } from '../src/status/feed.js';
import { Session } from '../src/session/session.js';
import { lockSession, SessionLockedError } from '../src/session/session-lock.js';
import type { PidLock } from '../src/util/pid-lock.js';
import { errorMessage } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import { command } from './command.js';
import { stopSignals } from './stop-signals.js';
import { defaultValue, UnknownOptionError } from './option-table.js';
import { checkStateDir, engineOptions, parseTorrentArgs } from './torrent-options.js';
import { checkFolderWritable } from '../src/storage/writable.js';
import { explainPortInUse, portInUse } from './port-holder.js';
import { NOT_IN_UI, UI_OPTIONS } from './torrent-option-tables.js';
import { applyLimits, sessionSnapshot } from './ui/sources.js';
import { terminalUiPossible } from './ui/has-terminal.js';

const SESSION_ADVICE = 'it keeps the list of torrents and a copy of each: give --session DIR to a folder you can write';

/** The options of ui, over the config file; an option of download's that ui does not take is named as such. */
function parse(argv: string[]) {
  try {
    return parseTorrentArgs(argv, 'ui');
  } catch (e) {
    const name = e instanceof UnknownOptionError ? e.option.replace(/^--/, '') : undefined;
    if (NOT_IN_UI.some((only) => only === name)) throw new UsageError(`sixswarm ui has no --${name}; see sixswarm ui --help`);
    throw e;
  }
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals, attributed } = parse(argv);
  return attributed(() => runUi(values, positionals, argv));
}

async function runUi(values: ReturnType<typeof parse>['values'], positionals: string[], argv: string[]): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`sixswarm ui takes no arguments (got "${positionals[0]}"): add torrents with a in the UI`);
  if (!terminalUiPossible(false)) throw new UsageError('sixswarm ui needs a terminal (stdin and stdout); for scripts use `sixswarm download --json`');
  const store = new SessionStore(resolve(values.session ?? defaultSessionDir()));
  const options = engineOptions(values);
  await checkStateDir(options.stateDir);
  await checkFolderWritable(store.dir, { name: 'the session folder', cannotCreate: SESSION_ADVICE, cannotWrite: SESSION_ADVICE });
  // One process per session: a daemon running it is shown instead (its web address is in the
  // lock); anything else running it is named.
  let lock: PidLock;
  try {
    lock = await lockSession(store.dir, ['sixswarm', 'ui', ...argv].join(' '));
  } catch (e) {
    const url = e instanceof SessionLockedError ? /^http:\/\/\S+/.exec(e.holder.note ?? '')?.[0] : undefined;
    if (!url) throw e;
    return attach(url, (e as SessionLockedError).holder.pid, e as SessionLockedError);
  }
  const engine = new Engine(options);
  const feed = new StatusFeed(engine);
  const session = new Session({ engine, feed, store, downloadDir: values.output ?? defaultValue(UI_OPTIONS.output)! });
  let problems: string[];
  const notes: string[] = [];
  try {
    const port = (await engine.listen().catch((e: unknown) => Promise.reject(explainPortInUse(e))))[0]?.port;
    if (options.portFallback && port !== undefined && port !== options.port) notes.push(`${portInUse(options.port)}: listening on port ${port} instead (--port N picks one)`);
    problems = await session.open();
  } catch (e) {
    await engine.close();
    await lock.release();
    throw e;
  }
  let quit!: () => void;
  const quitting = new Promise<void>((r) => (quit = r));
  const { TerminalUi } = await import('./ui/terminal-ui.js');
  const ui = new TerminalUi({
    title: `session ${store.dir}`,
    can: ['add', 'pause', 'resume', 'remove', 'recheck', 'limits'],
    snapshot: (detailOf, cells) => sessionSnapshot(session, feed, detailOf, cells),
    async run(c) {
      if (c.kind === 'add') return (await session.add(c.input)).name;
      if (c.kind === 'limits') return applyLimits(engine, c);
      const name = session.summaries().find((t) => t.infoHash === c.infoHash)?.name ?? c.infoHash;
      if (c.kind === 'remove') {
        const r = await session.remove(c.infoHash, c.deleteData);
        if (!r) return `removed ${name}; its data stays where it is`;
        return `removed ${name}: deleted ${r.deleted} file${r.deleted === 1 ? '' : 's'}${r.missing ? `, ${r.missing} already gone` : ''}${r.kept.length ? `; left alone: ${r.kept.join('; ')}` : ''}`;
      }
      if (c.kind === 'pause') await session.pause(c.infoHash);
      else if (c.kind === 'resume') await session.resume(c.infoHash);
      else await session.recheck(c.infoHash);
      return `${c.kind === 'pause' ? 'paused' : c.kind === 'resume' ? 'resumed' : 're-checking'} ${name}`;
    },
    quit: () => quit(),
  });
  const nameOf = (infoHash: string) => session.summaries().find((t) => t.infoHash === infoHash)?.name ?? infoHash;
  feed.on('event', (e) => {
    const who = 'torrent' in e && typeof e.torrent === 'string' ? `${nameOf(e.torrent)}: ` : '';
    if (e.event === 'warning') ui.message('warning', `${who}${e.message}`);
    if (e.event === 'error') ui.message('error', `${who}${e.message}`);
    if (e.event === 'seed-goal') ui.message('info', `${who}${e.reason}: paused`);
  });
  const signals = stopSignals();
  void signals.stopped.then(() => quit());
  ui.start();
  for (const n of notes) ui.message('info', n);
  for (const p of problems) ui.message('error', p);
  await quitting;
  // As they were when the user quit (closing stops them all).
  const torrents = session.summaries();
  let code = 0;
  try {
    await session.close();
  } catch (e) {
    ui.message('error', `while shutting down: ${errorMessage(e)}`);
    code = 1;
  }
  const worth = ui.messages().filter((m) => m.kind !== 'info');
  await ui.close();
  await lock.release();
  // The UI is erased on quitting; what stays: the session in a line, and the warnings and errors of this run.
  const count = (state: string) => torrents.filter((t) => t.state === state).length;
  process.stdout.write(
    `session ${store.dir}: ${torrents.length} torrent${torrents.length === 1 ? '' : 's'} (${count('downloading')} downloading, ${count('seeding')} seeding, ${count('paused')} paused), resume state saved\n`,
  );
  for (const m of worth) process.stderr.write(`${m.kind}: ${m.text}\n`);
  signals.dispose();
  return code;
}

/** The UI on a running daemon: its session, shown and driven over HTTP; the daemon runs on when the UI quits. */
async function attach(url: string, pid: number, locked: Error): Promise<number> {
  const { DaemonSource } = await import('./ui/daemon-source.js');
  const source = new DaemonSource(url);
  try {
    await source.open();
  } catch (e) {
    source.close();
    throw new Error(`${locked.message} (its web page could not be shown here: ${errorMessage(e)})`);
  }
  let quit!: () => void;
  const quitting = new Promise<void>((r) => (quit = r));
  const { TerminalUi } = await import('./ui/terminal-ui.js');
  const ui = new TerminalUi({
    title: `daemon ${url}`,
    can: ['add', 'pause', 'resume', 'remove', 'recheck'],
    snapshot: (detailOf, cells) => source.snapshot(detailOf, cells),
    run: (c) => source.run(c),
    quit: () => quit(),
  });
  const signals = stopSignals();
  void signals.stopped.then(() => quit());
  ui.start();
  ui.message('info', `this session is run by sixswarm daemon (pid ${pid}); q leaves it running`);
  await quitting;
  source.close();
  await ui.close();
  signals.dispose();
  return 0;
}

export const ui = command({
  name: 'ui',
  summary: 'the terminal UI over a session of torrents (also: sixswarm alone)',
  usage: `Usage: sixswarm ui [--session DIR] [-o DIR] [--port N] [--no-ipv4] [--no-ipv6] [--max-down RATE] [--max-up RATE]
                   [--tracker URL]... [--no-trackers] [--announce-ip auto|always|never] [--no-dht]
                   [--dht-port N] [--dht-bootstrap HOST:PORT]... [--no-lsd]
                   [--encryption prefer|require|allow|off] [--transports tcp,utp] [--seed-ratio R]
                   [--seed-time DURATION] [--state-dir DIR]
       sixswarm            (on a terminal: the same as \`sixswarm ui\`)`,
  about: `The terminal UI over a session: every torrent you add stays in it, between runs too, and the
session is resumed at start (paused torrents stay paused). Data whose files did not change since
the last run is not hashed again. A torrent that another sixswarm (a \`download\` or \`seed\`)
runs in the same folder is not started: the UI names that process. A session that a \`sixswarm
daemon\` runs is shown from the daemon (over its web address; quitting leaves it running); one
that another ui runs is not opened, naming that process.

Keys (? in the UI lists them all):
  a            add a .torrent file (its path; ~ works) or a magnet link
  p / r        pause / resume the selected torrent (space toggles)
  d            remove it: k keeps the data, D deletes its files (only the torrent's own files)
  c            re-check: hash all its data again
  Enter        details: rate history, peers by family (IPv6, the tunnel, IPv4), trackers per
               family, files, the piece map;  1-4 / Tab switch,  Esc back
  n            network: our addresses and their class, reached from outside, the tunnel
  q, Ctrl-C    quit: resume state saved, peers closed cleanly`,
  options: UI_OPTIONS,
  notes: `Every option can also be set in the config file, top level or in a [ui] table (\`sixswarm config
ui\` shows what applies and where it comes from); options given here win.

Colours follow NO_COLOR. It needs a terminal (stdin and stdout); for scripts use
\`sixswarm download --json\`.

Exit codes: 0 quit, 1 runtime failure, 2 bad usage (no terminal, a damaged session file).`,
  run,
});
