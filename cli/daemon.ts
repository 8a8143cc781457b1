/**
 * `sixswarm daemon`: the `ui`'s session, headless, driven over HTTP (the Transmission RPC, its web
 * page, sixswarm's own page). In the background by default (it says where once it runs), or in
 * the foreground for service managers.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { Daemon } from '../src/daemon/daemon.js';
import { transmissionWebHome } from '../src/daemon/web-home.js';
import { Credentials } from '../src/http/credentials.js';
import { classify } from '../src/net/address.js';
import { DownloadFolders } from '../src/session/download-folders.js';
import { defaultSessionDir } from '../src/session/session-store.js';
import { errorMessage, InputError } from '../src/util/errors.js';
import { command } from './command.js';
import { daemonLog } from './daemon-log.js';
import { parseIntOption } from './numbers.js';
import { UnknownOptionError, type OptionValues } from './option-table.js';
import { defaultDownloadDir } from './session-ui.js';
import { stopSignals } from './stop-signals.js';
import { engineOptions, parseTorrentArgs, parseTunnel } from './torrent-options.js';
import { DAEMON_OPTIONS, NOT_IN_DAEMON } from './torrent-option-tables.js';
import { startTunnel } from './torrent-runner.js';
import type { TunnelClient } from '../src/tunnel/client.js';
import { UsageError } from './usage-error.js';

/** 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z): only this machine can reach them. */
function isLoopback(addr: string): boolean {
  return classify(addr)?.kind === 'loopback';
}

type Values = OptionValues<typeof DAEMON_OPTIONS>;

/** The options of daemon, over the config file; an option of download's that daemon does not take is named as such. */
function parse(argv: string[]) {
  try {
    return parseTorrentArgs(argv, 'daemon');
  } catch (e) {
    const name = e instanceof UnknownOptionError ? e.option.replace(/^--/, '') : undefined;
    if (NOT_IN_DAEMON.some((only) => only === name)) throw new UsageError(`sixswarm daemon has no --${name}; see sixswarm daemon --help`);
    throw e;
  }
}

async function httpOptions(values: Values) {
  const binds = values['rpc-bind'] ?? ['127.0.0.1', '::1'];
  for (const b of binds) if (!isIPv4(b) && !isIPv6(b)) throw new UsageError(`--rpc-bind "${b}" is not an IP address (:: or 0.0.0.0 listen on every address)`);
  const port = parseIntOption(values['rpc-port'] ?? '9091', '--rpc-port', 0, 65535);
  const open = binds.filter((b) => !isLoopback(b));
  if (open.length > 0 && !values.credentials) {
    throw new UsageError(`--rpc-bind ${open.join(', ')} lets other machines reach the daemon: give --credentials FILE (name:password lines, chmod 600), and put TLS in front or use --tls-cert/--tls-key`);
  }
  if (!values['tls-cert'] !== !values['tls-key']) throw new UsageError('--tls-cert and --tls-key go together');
  const tls = values['tls-cert'] && values['tls-key'] ? { cert: await readPem(values['tls-cert'], '--tls-cert'), key: await readPem(values['tls-key'], '--tls-key') } : undefined;
  const credentials = values.credentials ? await Credentials.load(values.credentials) : undefined;
  return { binds: binds.map((host) => ({ host, port })), hostNames: values['rpc-host'] ?? [], ...(credentials ? { credentials } : {}), ...(tls ? { tls } : {}) };
}

async function readPem(file: string, option: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new InputError(`${option} ${file}: ${errorMessage(e)}`);
  }
}

/**
 * Run this command again in the foreground as a child of its own, its output into the log, and
 * return once it says it runs (or has failed, with its last words).
 */
async function detach(argv: string[], log: string): Promise<number> {
  await mkdir(dirname(log), { recursive: true });
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [process.argv[1]!, 'daemon', '--foreground', ...argv], { detached: true, stdio: ['ignore', fd, fd, 'ipc'] });
  closeSync(fd);
  const outcome = await new Promise<{ ready: string[] } | { code: number | null }>((resolve) => {
    child.once('message', (m: { ready?: string[] }) => resolve({ ready: m.ready ?? [] }));
    child.once('exit', (code) => resolve({ code }));
    child.once('error', () => resolve({ code: 1 }));
  });
  if ('code' in outcome) {
    const tail = readFileSync(log, 'utf8').trimEnd().split('\n').slice(-5).join('\n');
    process.stderr.write(`sixswarm daemon did not start:\n${tail}\n`);
    return outcome.code ?? 1;
  }
  child.disconnect();
  child.unref();
  process.stdout.write(`sixswarm daemon is running (pid ${child.pid}): ${outcome.ready.join(' ')}\nits log: ${log}; stop it with: kill ${child.pid}\n`);
  return 0;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (positionals.length > 0) throw new UsageError(`sixswarm daemon takes no arguments (got "${positionals[0]}"): add torrents over its RPC or web page`);
  // Everything is checked before the daemon goes to the background, so that mistakes are told here.
  const engine = engineOptions(values);
  const http = await httpOptions(values);
  const tunnelChoice = parseTunnel(values);
  if (!values.foreground) return detach(argv, resolve(values.log ?? join(engine.stateDir, 'daemon.log')));

  const sessionDir = resolve(values.session ?? defaultSessionDir());
  const folders = new DownloadFolders(values.output ?? defaultDownloadDir(), values['allow-dir'] ?? []);
  let daemon: Daemon | undefined;
  const log = daemonLog(!!values.json, (h) => daemon?.nameOf(h) ?? h);
  const transmissionWeb = transmissionWebHome();
  const signals = stopSignals();
  let tunnel: TunnelClient | undefined;
  try {
    tunnel = await startTunnel(tunnelChoice, (text) => log({ event: 'warning', message: text }));
    daemon = await Daemon.start({ engine, sessionDir, folders, http, ...(transmissionWeb ? { transmissionWeb } : {}), ...(tunnel ? { tunnel } : {}), command: ['sixswarm', 'daemon', ...argv].join(' '), onEvent: log });
  } catch (e) {
    signals.dispose();
    await tunnel?.stop();
    throw e;
  }
  if (!transmissionWeb) log({ event: 'warning', message: "Transmission's web page is not installed, so /transmission/web/ is not served (Debian: apt install transmission-common, or set TRANSMISSION_WEB_HOME)" });
  // Started in the background by `sixswarm daemon`: tell it we run, and let go of it.
  if (process.send) {
    process.send({ ready: daemon.urls() });
    process.disconnect?.();
  }
  const why = await Promise.race([signals.stopped.then((sig) => `${sig}`), daemon.stopRequested]);
  log({ event: 'warning', message: `stopping (${why}): closing peers and saving resume state…` });
  let code = 0;
  try {
    await daemon.stop();
  } catch (e) {
    log({ event: 'error', message: `while stopping: ${errorMessage(e)}` });
    code = 1;
  }
  log({ event: 'stopped', code });
  signals.dispose();
  return code;
}

export const daemon = command({
  name: 'daemon',
  summary: 'the session, headless, driven over HTTP: Transmission RPC and web pages',
  usage: `Usage: sixswarm daemon [--foreground] [--json] [--log FILE] [--session DIR] [-o DIR] [--allow-dir DIR]...
                       [--rpc-bind ADDR]... [--rpc-port N] [--rpc-host NAME]... [--credentials FILE]
                       [--tls-cert FILE --tls-key FILE] [--tunnel HOST:PORT|auto|off] [every option of \`sixswarm ui\`]`,
  about: `The session of \`sixswarm ui\` (the same folder, torrents and config file), run without a terminal
and driven over HTTP, for a server, a NAS or a VPS:
  http://127.0.0.1:9091/                  sixswarm's web page: torrents, peers by family (IPv6,
                                          the tunnel, IPv4) with where each was learned, trackers
                                          per family, our addresses and reachability, the tunnel,
                                          rate history; add (magnet or .torrent), pause, resume,
                                          remove; live, and fit for a phone
  http://127.0.0.1:9091/transmission/rpc  the Transmission RPC (version 17): transmission-remote,
                                          Flood, @ctrl/transmission and other remotes work as with
                                          transmission-daemon; sixswarm's own fields are named
                                          sixswarm-* (peers per family, tracker rows per family,
                                          addresses, reachability, the tunnel)
  http://127.0.0.1:9091/transmission/web/ Transmission's own web page, when installed (Debian:
                                          transmission-common; or set TRANSMISSION_WEB_HOME)
The session is resumed at start (paused torrents stay paused) and its folder is locked: \`sixswarm
ui\` on it shows the daemon's session (quitting leaves the daemon running), and a second daemon is
refused, naming the first. Without --foreground the daemon goes to the background once it runs
and says where it is; it stops cleanly on SIGTERM or SIGINT (resume state saved, trackers told),
or when a remote sends session-close.

Security: it listens on localhost only unless --rpc-bind says otherwise, and any other address
needs --credentials (HTTP Basic: put TLS in front, e.g. a reverse proxy, or give --tls-cert and
--tls-key). Requests must name the daemon in their Host header (localhost, an IP address, or a
--rpc-host name), which stops web pages elsewhere from reaching it through DNS rebinding; the RPC
needs its X-Transmission-Session-Id header, which stops other sites from forging requests.
Failed logins are slowed down per host. Remotes may put data only in the download folder (-o)
and the --allow-dir folders, and must send .torrent files' contents (validated like any torrent;
at most 16 MiB) or magnet links: the daemon fetches nothing for them.`,
  options: DAEMON_OPTIONS,
  notes: `Every option can also be set in the config file, top level or in a [daemon] table (\`sixswarm
config daemon\` shows what applies); options given here win. Set shared settings (port, output,
max-up, ...) at the top level so that \`ui\` and \`daemon\` run the session alike.

As a systemd service: contrib/sixswarm.service (README: "Running as a daemon").

Exit codes: 0 stopped (a signal, session-close), 1 runtime failure (the session is in use, the
port is taken), 2 bad usage or bad input (a bind without credentials, a damaged session file).`,
  run,
});
