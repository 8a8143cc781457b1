/**
 * The part `download` and `seed` share: load the torrent, listen, check the data, connect to the
 * given peers, report, and shut down cleanly on completion or a signal.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import type { Torrent, TorrentSource } from '../src/engine/torrent.js';
import { loadMetadata } from '../src/storage/metadata-store.js';
import { isMagnet, parseMagnet } from '../src/metainfo/magnet.js';
import { readTorrentFile } from '../src/metainfo/torrent.js';
import { InputError, errorMessage } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import { bindTunnel, networkFor } from '../src/engine/tunnel-binding.js';
import { chooseTunnelMode, hostHasGlobalIPv6, TunnelClient } from '../src/tunnel/client.js';
import { checkStateDir, type SharedRunOptions, type TunnelChoice } from './torrent-options.js';
import { createReporter } from './reporter.js';
import type { Reporter } from './reporting.js';
import { parseHostPorts } from './host-ports.js';
import type { HostPort } from '../src/net/hostport.js';
import { findDataNearby } from '../src/storage/nearby-data.js';
import { formatSize } from '../src/util/size.js';
import { StatusFeed } from '../src/status/feed.js';
import { signalExitCode, stopSignals } from './stop-signals.js';
import { FileSelection, type SelectionSpec } from '../src/storage/selection.js';
import { PieceLayout } from '../src/storage/layout.js';
import { filePath } from '../src/storage/paths.js';
import { checkWritable } from '../src/storage/writable.js';
import { applyLimits, feedSnapshot } from './ui/sources.js';
import { terminalUiPossible } from './ui/has-terminal.js';
import { explainPortInUse, portInUse } from './port-holder.js';

export interface RunOptions extends SharedRunOptions {
  source: string;
  dir: string;
  mode: 'download' | 'seed';
  exitOnComplete: boolean;
  /** Files to download (download only). */
  select?: SelectionSpec;
  sequential?: boolean;
}

/**
 * The session's tunnel, not started, in the mode that can run here (the TUN mode with root and
 * /dev/net/tun, else the stream mode), unless `auto` finds native IPv6 (then a note says so).
 */
function planTunnel(choice: TunnelChoice | undefined): { tunnel?: TunnelClient; note?: string } {
  if (!choice) return {};
  if (choice.auto && hostHasGlobalIPv6()) return { note: 'tunnel: not needed, this host has a global IPv6 address' };
  const { mode, reason } = chooseTunnelMode(choice.mode);
  try {
    return { tunnel: new TunnelClient({ server: choice.server, id: choice.id, token: choice.token, mode, modeReason: reason }) };
  } catch (e) {
    throw new UsageError(`--tunnel: ${errorMessage(e)}`);
  }
}

/**
 * For whoever makes its engine after the tunnel (the daemon): planned and started. A tunnel that
 * cannot start is a runtime failure; in the stream mode the engine's network must carry IPv6 over
 * it (engine/tunnel-binding.ts, networkFor).
 */
export async function startTunnel(choice: TunnelChoice | undefined, note: (text: string) => void): Promise<TunnelClient | undefined> {
  const { tunnel, note: text } = planTunnel(choice);
  if (text) note(text);
  await tunnel?.start();
  return tunnel;
}


/** A .torrent file, or a magnet link (its metadata from an earlier fetch when the state folder has it). */
async function loadTorrent(source: string, stateDir: string, mode: RunOptions['mode']): Promise<TorrentSource> {
  if (!isMagnet(source)) return { meta: await readTorrentFile(source) };
  const magnet = parseMagnet(source);
  const meta = await loadMetadata(stateDir, magnet.infoHashHex);
  if (meta) return { meta, magnet };
  if (mode === 'seed') throw new InputError('seed needs the torrent\'s metadata: give the .torrent file (or download the magnet first, which keeps its metadata)');
  return { magnet };
}

/**
 * What `seed` seeds and how much of it is there. With nothing there, a folder near by that holds
 * the data is named (the common mistake: the torrent's own folder instead of the one holding it),
 * and the seed stops (`stop`), since it would serve nothing.
 */
async function sayWhatIsSeeded(torrent: Torrent, torrentFile: string, dir: string, reporter: Reporter, stop: () => void): Promise<void> {
  const storage = torrent.storage!;
  const { meta, have } = storage;
  const haveBytes = storage.bytes().have;
  const what = `seeding "${meta.name}" (${formatSize(meta.totalLength)}) from ${dir}`;
  if (have.complete) return reporter.note(`${what}: all ${have.length} pieces present`);
  if (!have.empty) return reporter.note(`${what}: ${have.count} of ${have.length} pieces present (${formatSize(haveBytes)}); seeding those`);
  const there = await findDataNearby(meta, dir);
  if (!there) return reporter.note(`warning: ${what}: no piece of it is there; give seed the folder that holds "${meta.name}" (what download -o was given)`);
  const arg = (p: string) => (/^[\w./@:+-]+$/.test(p) ? p : `'${p.replace(/'/g, "'\\''")}'`);
  reporter.note(`no piece of "${meta.name}" is in ${dir}, but its files are in ${there}: run \`sixswarm seed ${arg(torrentFile)} ${arg(there)}\` (the folder that holds "${meta.name}")`);
  stop();
}

export async function runTorrent(o: RunOptions): Promise<number> {
  const peers = parseHostPorts(o.peers, '--peer');
  const { stateDir } = o.engine;
  await checkStateDir(stateDir);
  const source = await loadTorrent(o.source, stateDir, o.mode);
  const dir = resolve(o.dir);
  // A selection that does not fit the torrent is bad usage, said before anything starts.
  const meta = 'meta' in source ? source.meta : undefined;
  const selection = meta && FileSelection.of(meta, new PieceLayout(meta.files, meta.pieceLength, meta.totalLength), o.select);
  if (meta && o.mode === 'seed') {
    const s = await stat(dir).catch(() => undefined);
    if (!s?.isDirectory()) throw new UsageError(`${dir} is not a folder: give seed the folder that holds "${meta.name}"`);
  }

  // In the stream mode the tunnel is the engine's IPv6 network, so it is planned first (started later).
  const { tunnel, note: tunnelNote } = planTunnel(o.tunnel);
  const engine = new Engine(o.engine, networkFor(tunnel, o.engine.transports));
  let torrent: Torrent;
  try {
    // Taken first: a second process on this torrent and folder is refused before anything else happens.
    torrent = await engine.addTorrent(source, dir, { writable: o.mode === 'download', select: o.select, sequential: o.sequential });
  } catch (e) {
    await engine.close();
    throw e;
  }
  try {
    return await runAdded(o, { engine, torrent, source, dir, peers, selection, tunnel, tunnelNote });
  } finally {
    // Already closed after a run; here for the ways out before it (a tunnel that cannot start): the lock goes too.
    await engine.close();
  }
}

interface Prepared {
  engine: Engine;
  /** Added to the engine (its lock taken), not started. */
  torrent: Torrent;
  source: TorrentSource;
  dir: string;
  peers: HostPort[];
  /** Known when the metadata is. */
  selection?: FileSelection;
  /** The session's tunnel, not started yet. */
  tunnel?: TunnelClient;
  tunnelNote?: string;
}

async function runAdded(o: RunOptions, { engine, torrent, source, dir, peers, selection, tunnel, tunnelNote }: Prepared): Promise<number> {
  // On a terminal the UI opens once the torrent runs; --json and pipes get lines.
  // Loaded only for a terminal: ink and react cost most of a second of start-up.
  const ui = terminalUiPossible(o.json) ? new (await import('./ui/ui-reporter.js')).UiReporter() : undefined;
  const reporter = ui ?? createReporter(o.json, { seeding: o.mode === 'seed' });
  // A signal while the tunnel device is being configured must not leave it half set up.
  const early = stopSignals();
  let interrupted: NodeJS.Signals | undefined;
  void early.stopped.then((sig) => (interrupted = sig));
  if (tunnelNote) reporter.note(tunnelNote);
  try {
    await tunnel?.start();
  } finally {
    early.dispose();
  }
  if (interrupted) {
    await tunnel?.stop();
    return o.mode === 'download' ? signalExitCode(interrupted) : 0;
  }
  // Only now: a tunnel that refuses to start must not leave an empty download folder behind. But
  // before any peer: a folder that cannot be written is bad input, not a failure at the first piece.
  if (o.mode === 'download') {
    const meta = 'meta' in source ? source.meta : undefined;
    const files = meta?.files.filter((f, i) => !f.pad && selection!.files[i]).map((f) => filePath(dir, f)) ?? [];
    await checkWritable(dir, meta?.multiFile ? join(dir, meta.name) : undefined, files).catch(async (e: unknown) => {
      await tunnel?.stop();
      throw e;
    });
  }
  const feed = new StatusFeed(engine, { tunnel: () => tunnel?.status() });
  feed.on('event', (e) => reporter.event(e));
  let finish!: (code: number) => void;
  const finished = new Promise<number>((r) => (finish = r));
  let shuttingDown = false;
  const shutdown = async (code: number, why?: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    feed.stopProgress();
    if (why) reporter.note(why);
    try {
      await engine.close();
      await tunnel?.stop();
    } catch (e) {
      feed.publish({ event: 'error', message: `while shutting down: ${errorMessage(e)}` });
      code = code || 1;
    }
    feed.publishProgress(true);
    feed.publish({ event: 'stopped', code });
    await reporter.close();
    finish(code);
  };
  if (tunnel) {
    bindTunnel(engine, tunnel, (st) => feed.publish({ ...st, event: 'tunnel' }));
    tunnel.on('fatal', (e) => void shutdown(1, `tunnel failed: ${e.message}`));
    // It may have failed already, while we got ready (the device went away).
    const st = tunnel.status();
    if (st.state === 'failed') void shutdown(1, `tunnel failed: ${st.lastError ?? 'unknown error'}`);
  }
  // A second signal during shutdown gets the default behaviour: exit at once.
  const signals = stopSignals();
  // A download stopped before it finished says so in its exit code (130/143, as the shell does), so
  // scripts can tell "stopped" from "done"; a finished one, and a seed, stop with 0.
  void signals.stopped.then((sig) => {
    const unfinished = o.mode === 'download' && !torrent.storage?.done;
    return shutdown(unfinished ? signalExitCode(sig) : 0, `${sig}: closing peers and saving resume state…`);
  });
  // Attached before start: peers (from trackers, incoming) may report while it still runs, and data
  // that is complete already is reported as `complete` from within it.
  feed.watch(torrent);
  torrent.on('checked', () => {
    if (o.mode === 'seed') void sayWhatIsSeeded(torrent, o.source, dir, reporter, () => void shutdown(2));
  });
  torrent.on('event', (e) => {
    if (e.event === 'metadata-waiting' && e.offering === 0) {
      reporter.note(
        e.peers === 0
          ? 'fetching metadata: no peer yet; waiting for trackers and the peers in the magnet link (add --peer HOST:PORT if you know one)'
          : `fetching metadata: ${e.peers} peer(s) connected, none offers the metadata yet`,
      );
    }
    // Stopping saves the resume state (after the data is on disk), so the next start trusts it.
    if (e.event === 'complete' && o.exitOnComplete && o.mode === 'download') void shutdown(0);
    if (e.event === 'seed-goal') void shutdown(0, `${e.reason}: stopping`);
    if (e.event === 'error') void shutdown(1, `stopping: ${e.message}`);
  });
  try {
    const listening = await engine.listen().catch((e: unknown) => {
      throw explainPortInUse(e);
    });
    for (const l of listening) feed.publish({ event: 'listening', family: l.family, address: l.address, port: l.port });
    const port = listening[0]?.port;
    if (o.engine.portFallback && port !== undefined && port !== o.engine.port) reporter.note(`${portInUse(o.engine.port)}: listening on port ${port} instead (--port N picks one)`);
    await torrent.start(o.recheck);
  } catch (e) {
    // Interrupted by a signal (the pool and storage closed under the check): that is a clean stop.
    if (!shuttingDown) {
      await shutdown(1);
      signals.dispose();
      throw e;
    }
  }
  if (shuttingDown) {
    const code = await finished;
    signals.dispose();
    return code;
  }
  feed.startProgress();
  ui?.attach({
    title: `${o.mode} ${torrent.name}`,
    can: ['limits'],
    snapshot: (detailOf, cells) => feedSnapshot(feed, [torrent], detailOf, cells),
    run: async (c) => {
      if (c.kind === 'limits') return applyLimits(engine, c);
      throw new Error('not available here');
    },
    // q and Ctrl-C in the UI stop as SIGINT does: a download stopped before it finished says so (130).
    quit: () => void shutdown(o.mode === 'download' && !torrent.storage?.done ? signalExitCode('SIGINT') : 0),
  });
  torrent.addManualPeers(peers);
  const code = await finished;
  signals.dispose();
  return code;
}
