/**
 * `sixswarm ui` (and `sixswarm` alone on a terminal): the terminal UI over a session of every
 * torrent the user added, kept on disk and resumed at start.
 */
import { resolve } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import { defaultSessionDir, SessionStore } from '../src/session/session-store.js';
import { StatusFeed } from '../src/status/feed.js';
import { Session } from '../src/session/session.js';
import { errorMessage } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import type { Command } from './command.js';
import { stopSignals } from './stop-signals.js';
import { withConfig } from './config-options.js';
import { CONFIG_COMMANDS, engineOptions, NOT_IN_UI, parseTorrentArgs, UI_OPTIONS } from './torrent-options.js';
import { sessionSnapshot } from './ui/sources.js';
import { terminalUiPossible } from './ui/has-terminal.js';
import { xdgDir } from '../src/util/environment.js';

/** $XDG_DOWNLOAD_DIR, else ~/Downloads. */
function defaultDownloadDir(): string {
  return xdgDir('XDG_DOWNLOAD_DIR', 'Downloads');
}

const help = `Usage: sixswarm ui [--session DIR] [-o DIR] [--port N] [--no-ipv4] [--no-ipv6] [--max-down RATE] [--max-up RATE]
                   [--tracker URL]... [--no-trackers] [--announce-ip auto|always|never] [--no-dht]
                   [--dht-port N] [--dht-bootstrap HOST:PORT]... [--encryption prefer|require|allow|off]
                   [--seed-ratio R] [--seed-time DURATION] [--state-dir DIR]
       sixswarm            (on a terminal: the same as \`sixswarm ui\`)

The terminal UI over a session: every torrent you add stays in it, between runs too, and the
session is resumed at start (paused torrents stay paused). Data whose files did not change since
the last run is not hashed again. A torrent that another sixswarm (a \`download\` or \`seed\`)
runs in the same folder is not started: the UI names that process.

Keys (? in the UI lists them all):
  a            add a .torrent file (its path; ~ works) or a magnet link
  p / r        pause / resume the selected torrent (space toggles)
  d            remove it: k keeps the data, D deletes its files (only the torrent's own files)
  c            re-check: hash all its data again
  Enter        details: rate history, peers by family (IPv6, the tunnel, IPv4), trackers per
               family, files, the piece map;  1-4 / Tab switch,  Esc back
  n            network: our addresses and their class, reached from outside, the tunnel
  q, Ctrl-C    quit: resume state saved, peers closed cleanly

Options:
  --session DIR       where the session lives (default $XDG_DATA_HOME/sixswarm, else
                      ~/.local/share/sixswarm): session.json and a copy of every added .torrent
  -o, --output DIR    where added torrents' data goes (default $XDG_DOWNLOAD_DIR, else ~/Downloads);
                      each torrent keeps the folder it was added with
  --port N            listening port for both IPv4 and IPv6 (default 6881; 0 picks a free one)
  --no-ipv4           do not listen on or connect over IPv4
  --no-ipv6           do not listen on or connect over IPv6
  --max-peers N       connected peers per torrent (default 60)
  --max-down RATE     download at most RATE bytes per second, all torrents together (500k, 2M;
                      0: no limit), shared by the peers in turn
  --max-up RATE       upload at most RATE bytes per second, all torrents together, likewise
  --seed-ratio R      once a torrent is complete, seed it until uploaded / downloaded reaches R (for
                      one that downloaded nothing: uploaded / size), then pause it
  --seed-time DURATION
                      once a torrent is complete, seed it for DURATION (90, 30s, 10m, 2h, 1h30m),
                      then pause it; with --seed-ratio too, whichever comes first
  --tracker URL       announce every torrent to this tracker too (repeatable)
  --no-trackers       do not announce to any tracker
  --announce-ip auto|always|never
                      BEP 7 ipv6=/ipv4= in announces (see \`sixswarm download --help\`)
  --no-dht            do not use the DHT (public torrents look up and announce there by default)
  --dht-port N        UDP port of our DHT node (default: the listening port)
  --dht-bootstrap HOST:PORT
                      join the DHT through this node (repeatable; default $SIXSWARM_DHT_BOOTSTRAP,
                      else the public routers; see \`sixswarm download --help\`)
  --encryption prefer|require|allow|off
                      protocol encryption with peers (default prefer; see \`sixswarm download --help\`)
  --state-dir DIR     where resume state lives (default $SIXSWARM_STATE_DIR, else
                      $XDG_STATE_HOME/sixswarm, else ~/.local/state/sixswarm)
  -h, --help          this help

Every option can also be set in the config file, top level or in a [ui] table (\`sixswarm config
ui\` shows what applies and where it comes from); options given here win.

Colours follow NO_COLOR. It needs a terminal (stdin and stdout); for scripts use
\`sixswarm download --json\`.

Exit codes: 0 quit, 1 runtime failure, 2 bad usage (no terminal, a damaged session file).`;

async function run(argv: string[]): Promise<number> {
  const given = parseTorrentArgs(argv, UI_OPTIONS);
  for (const only of NOT_IN_UI) {
    if (given.values[only] !== undefined) throw new UsageError(`sixswarm ui has no --${only}; see sixswarm ui --help`);
  }
  // The config file under what was typed: its [ui] table, then its top level (withConfig checks every key).
  const values = withConfig('ui', CONFIG_COMMANDS, given.values).values as typeof given.values;
  const positionals = given.positionals;
  if (positionals.length > 0) throw new UsageError(`sixswarm ui takes no arguments (got "${positionals[0]}"): add torrents with a in the UI`);
  if (!terminalUiPossible(false)) throw new UsageError('sixswarm ui needs a terminal (stdin and stdout); for scripts use `sixswarm download --json`');
  const store = new SessionStore(resolve(values.session ?? defaultSessionDir()));
  const engine = new Engine(engineOptions(values));
  const feed = new StatusFeed(engine);
  const session = new Session({ engine, feed, store, downloadDir: values.output ?? defaultDownloadDir() });
  let problems: string[];
  try {
    await engine.listen();
    problems = await session.open();
  } catch (e) {
    await engine.close();
    throw e;
  }
  let quit!: () => void;
  const quitting = new Promise<void>((r) => (quit = r));
  const { TerminalUi } = await import('./ui/terminal-ui.js');
  const ui = new TerminalUi({
    title: `session ${store.dir}`,
    can: ['add', 'pause', 'resume', 'remove', 'recheck'],
    snapshot: (detailOf, cells) => sessionSnapshot(session, feed, detailOf, cells),
    async run(c) {
      if (c.kind === 'add') return (await session.add(c.input)).name;
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
  feed.on('event', (e) => {
    if (e.event === 'warning') ui.message('info', `warning: ${e.message}`);
    if (e.event === 'seed-goal') ui.message('info', `${session.summaries().find((t) => t.infoHash === e.torrent)?.name ?? e.torrent}: ${e.reason}: paused`);
  });
  const signals = stopSignals();
  void signals.stopped.then(() => quit());
  ui.start();
  for (const p of problems) ui.message('error', p);
  await quitting;
  let code = 0;
  try {
    await session.close();
  } catch (e) {
    ui.message('error', `while shutting down: ${errorMessage(e)}`);
    code = 1;
  }
  await ui.close();
  signals.dispose();
  return code;
}

export const ui: Command = { name: 'ui', summary: 'the terminal UI over a session of torrents (also: sixswarm alone)', help, run };
