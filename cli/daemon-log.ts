/**
 * The daemon's log, from its event stream: `--json` prints one JSON object per line (every event
 * but the per-second and per-piece ones, which the RPC and the web page are for); otherwise one
 * line per notable event, prefixed for systemd's journal with its priority (<3> error, <4>
 * warning, <6> info) when stderr is the journal, else with the time.
 */
import { fstatSync } from 'node:fs';
import type { DaemonEvent } from '../src/daemon/daemon.js';
import { ENV, envValue } from '../src/util/environment.js';
import { printable } from '../src/util/sanitize.js';
import { describe, isNotable } from './reporter.js';

/** Events for --json only: a line per second per torrent, or per piece. */
const CHATTY = new Set(['progress', 'piece-verified', 'checking']);
/** What a person reads in the plain log. */
const NOTABLE = new Set([
  'listening', 'web-listening', 'remote', 'refused', 'session-problem', 'metadata', 'metadata-failed', 'checked', 'complete', 'seed-goal',
  'peer-banned', 'piece-failed', 'warning', 'error', 'tunnel', 'dht-listening', 'lsd-listening', 'stopped',
]);

function priority(e: DaemonEvent): 3 | 4 | 6 {
  if (e.event === 'error') return 3;
  if (e.event === 'warning' || e.event === 'refused' || e.event === 'session-problem' || e.event === 'piece-failed' || e.event === 'peer-banned') return 4;
  return 6;
}

function line(e: DaemonEvent, nameOf: (infoHash: string) => string): string {
  const torrents = (list: { name: string }[]) => list.map((t) => `"${printable(t.name, 200)}"`).join(', ');
  switch (e.event) {
    case 'web-listening':
      return `web page and Transmission RPC (${e.url}transmission/rpc) on ${e.url}${e.tls ? ' (TLS)' : ''}`;
    case 'remote':
      return `${e.from}${e.user !== undefined ? ` (${printable(e.user, 60)})` : ''}: ${e.method}${e.torrents.length ? ` ${torrents(e.torrents)}` : ''}${e.detail ? `: ${printable(e.detail, 500)}` : ''}`;
    case 'refused':
      return `refused ${e.from}${e.status ? ` (${e.status})` : ''}${e.method ? ` ${e.method}` : ''}: ${printable(e.reason, 300)}${e.suppressed ? ` (${e.suppressed} more refusals of this host not logged)` : ''}`;
    case 'session-problem':
      return `cannot run ${printable(e.message, 500)}`;
    case 'stopped':
      return `stopped (exit code ${e.code})`;
    default: {
      const text = isNotable(e) ? describe(e) : e.event;
      return 'torrent' in e && typeof e.torrent === 'string' ? `"${printable(nameOf(e.torrent), 200)}": ${text}` : text;
    }
  }
}

/** Whether stdout is systemd's journal: $JOURNAL_STREAM names its device and inode (a child of a service inherits the variable, not the stream). */
function toJournal(): boolean {
  const stream = envValue(ENV.journalStream);
  if (!stream) return false;
  try {
    const st = fstatSync(1);
    return stream === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** A subscriber that writes the daemon's events to stdout; `nameOf` names a torrent by its info hash. */
export function daemonLog(json: boolean, nameOf: (infoHash: string) => string): (e: DaemonEvent) => void {
  if (json) {
    return (e) => {
      if (CHATTY.has(e.event)) return;
      const text = JSON.stringify(e);
      process.stdout.write(`${text.slice(0, -1)},"time":"${new Date().toISOString()}"}\n`);
    };
  }
  const journal = toJournal();
  return (e) => {
    if (!NOTABLE.has(e.event)) return;
    const text = line(e, nameOf).replace(/\n/g, ' ');
    process.stdout.write(journal ? `<${priority(e)}>${text}\n` : `${new Date().toISOString()} ${text}\n`);
  };
}
