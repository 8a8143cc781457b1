/**
 * How a running torrent talks to the user, as subscribers of the engine's status feed:
 * `--json` prints every event as one JSON object per line on stdout and nothing else; a terminal
 * gets a progress line that rewrites itself; anything else (a log file, a pipe) gets plain lines.
 */
import type { EngineEvent, TorrentSummary } from '../src/status/feed.js';
import { formatSize } from '../src/util/size.js';
import type { Reporter } from './reporting.js';
import { formatDuration, lsdInterfaces } from './ui/format.js';

/** Events a person wants to see in the log; the rest (every piece) is only for --json. */
const NOTABLE_EVENTS = ['listening', 'metadata', 'metadata-failed', 'checked', 'peer-connected', 'peer-disconnected', 'peer-banned', 'holepunch', 'piece-failed', 'piece-blamed', 'web-seed-failed', 'complete', 'warning', 'error', 'tracker', 'tunnel', 'dht-listening', 'lsd-listening', 'lsd', 'port-mapping', 'seed-goal', 'peer-refused'] as const;
type Notable = Extract<EngineEvent, { event: (typeof NOTABLE_EVENTS)[number] }>;
const NOTABLE: ReadonlySet<string> = new Set(NOTABLE_EVENTS);
/** Whether describe() has words for it. */
export const isNotable = (e: { event: string }): e is Notable => NOTABLE.has(e.event);

/** `seeding`: a seed's data being complete is no news ("download complete" would mislead); it says what it seeds instead. */
export function createReporter(json: boolean, opts: { seeding?: boolean } = {}): Reporter {
  if (json) return new JsonReporter();
  const notable = (e: EngineEvent): e is Notable => isNotable(e) && !(opts.seeding && e.event === 'complete');
  return process.stdout.isTTY ? new TtyReporter(notable) : new PlainReporter(notable);
}

class JsonReporter implements Reporter {
  event(e: EngineEvent): void {
    // The time appended to the encoded event, not spread into a copy of it: this runs once per verified piece.
    const json = JSON.stringify(e);
    process.stdout.write(`${json.slice(0, -1)},"time":"${new Date().toISOString()}"}\n`);
  }
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  }
  close(): void {}
}

class PlainReporter implements Reporter {
  private lastProgress = 0;
  constructor(private readonly notable: (e: EngineEvent) => e is Notable) {}
  event(e: EngineEvent): void {
    if (e.event === 'progress') {
      const now = Date.now();
      if (now - this.lastProgress < 5000) return;
      this.lastProgress = now;
      process.stdout.write(`${progressLine(e)}\n`);
    } else if (this.notable(e)) process.stdout.write(`${describe(e)}\n`);
  }
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  }
  close(): void {}
}

class TtyReporter implements Reporter {
  private line = '';
  constructor(private readonly notable: (e: EngineEvent) => e is Notable) {}
  event(e: EngineEvent): void {
    if (e.event === 'progress') {
      this.line = progressLine(e);
      this.redraw();
      return;
    }
    if (!this.notable(e) || e.event === 'peer-connected' || e.event === 'peer-disconnected') return;
    this.clear();
    process.stdout.write(`${describe(e)}\n`);
    this.redraw();
  }
  note(text: string): void {
    this.clear();
    process.stderr.write(`${text}\n`);
    this.redraw();
  }
  close(): void {
    if (this.line) process.stdout.write('\n'); // keep the last progress line on screen
  }
  private clear(): void {
    process.stdout.write('\r\x1b[2K');
  }
  private redraw(): void {
    const width = process.stdout.columns || 100;
    process.stdout.write(`\r\x1b[2K${this.line.slice(0, width - 1)}`);
  }
}

export function progressLine(p: Omit<TorrentSummary, 'infoHash'>): string {
  const eta = p.eta !== null ? ` eta ${formatDuration(p.eta)}` : '';
  const unreachable = p.unreachable > 0 ? `, ${p.unreachable} unreachable${p.peers === 0 && p.lastUnreachable ? `: last: ${p.lastUnreachable}` : ''}` : '';
  return (
    `${p.name}: ${p.percent.toFixed(1)}% ` +
    (p.selected
      ? `${formatSize(p.selected.haveBytes)}/${formatSize(p.selected.bytes)} (${p.selected.files} of ${p.selected.of} files) `
      : `${formatSize(p.haveBytes)}/${formatSize(p.totalBytes)} `) +
    `down ${formatSize(p.downRate)}/s${limit(p.maxDown)} up ${formatSize(p.upRate)}/s${limit(p.maxUp)} ` +
    `peers ${p.peers} (v4 ${p.peers4}, v6 ${p.peers6}, seeds ${p.seeds}${unreachable})${webSeeds(p)}${eta}` +
    (p.tunnel ? ` tunnel ${p.tunnel.state}${p.tunnel.prefix ? ` ${p.tunnel.prefix}` : ''}` : '') +
    (p.mapping ? ` router v4 ${p.mapping[4]} v6 ${p.mapping[6]}` : '')
  );
}

/** How many of the torrent's web seeds are fetching now, of how many. */
function webSeeds(p: Pick<TorrentSummary, 'webSeeds'>): string {
  if (!p.webSeeds) return '';
  const busy = p.webSeeds.filter((w) => w.state === 'downloading' || w.state === 'connecting').length;
  return ` web seeds ${busy}/${p.webSeeds.length}`;
}

/** A BEP 55 step as a sentence. */
function holepunchLine(e: Extract<Notable, { event: 'holepunch' }>): string {
  switch (e.step) {
    case 'asked':
      return `holepunch: asked ${e.via} to introduce us to ${e.peer} (a direct dial failed)`;
    case 'relayed':
      return `holepunch: introduced ${e.via} and ${e.peer} to each other (relay)`;
    case 'dialing':
      return `holepunch: dialing ${e.peer} over uTP as ${e.via} asked`;
    case 'failed':
      return `holepunch to ${e.peer} via ${e.via} (${e.role}) failed: ${e.reason ?? 'unknown'}`;
  }
}

function limit(rate: number | null): string {
  return rate === null ? '' : ` (max ${formatSize(rate)}/s)`;
}

/** One notable event as a sentence (every field in words: no raw keys such as nextAnnounceInMs=...). */
export function describe(e: Notable): string {
  switch (e.event) {
    case 'listening':
      return `listening on ${e.family === 6 ? `[${e.address}]` : e.address}:${e.port} (IPv${e.family})`;
    case 'checked':
      // An unusable resume file is the user's news: it says which file and why.
      return `checked the data on disk: ${e.have} of ${e.pieces} pieces present (${checkedHow(e)})${e.resumeProblem ? `\nwarning: ${e.resumeProblem}` : ''}`;
    case 'peer-connected':
      return `peer ${e.address} connected (IPv${e.family}${e.transport === 'utp' ? ' over uTP' : ''}, ${e.direction === 'in' ? 'it dialed us' : 'we dialed it'}, ${e.client}${e.encrypted ? ', encrypted' : ''}${e.v2 ? ', v2' : ''}${e.holepunched ? ', holepunched' : ''})`;
    case 'holepunch':
      return holepunchLine(e);
    case 'peer-disconnected':
      return `peer ${e.address} left: ${e.reason}`;
    case 'peer-banned':
      return `banned ${e.ip}: it sent data that failed the hash check`;
    case 'piece-failed':
      return `piece ${e.index} failed its hash check${e.peers.length > 0 ? ` (data from ${e.peers.join(', ')})` : ''}; fetching it again`;
    case 'tracker':
      return trackerLine(e);
    case 'tunnel':
      return `tunnel ${e.state} via ${e.server}${e.prefix ? `: prefix ${e.prefix}, our address ${e.address}` : ''}${e.lastError ? ` (last error: ${e.lastError})` : ''}`;
    case 'dht-listening':
      return `DHT node on UDP ${e.address}:${e.port} (IPv4), ${e.nodes} nodes known`;
    case 'lsd-listening':
      return `local peer discovery (BEP 14) ${lsdInterfaces(e.interfaces)}`;
    case 'lsd':
      return e.announcing ? 'announced on the LAN (local peer discovery), every 5 minutes' : `not announced on the LAN: ${e.reason ?? 'off'}`;
    case 'complete':
      return 'download complete: every piece verified';
    case 'metadata':
      return `metadata received: ${e.size} bytes from ${e.sources} peer(s) in ${(e.ms / 1000).toFixed(1)} s, verified against the info hash`;
    case 'metadata-failed':
      return `metadata from peers failed its hash check${e.peers.length > 0 ? `; dropped ${e.peers.join(', ')}` : '; fetching it again from one peer at a time'}`;
    case 'port-mapping':
      return `port mapping (IPv${e.family} ${e.transport.toUpperCase()}): ${mappingLine(e)}`;
    case 'piece-blamed':
      return `piece ${e.index}: block${e.blocks.length === 1 ? '' : 's'} ${e.blocks.join(', ')} failed ${e.blocks.length === 1 ? 'its merkle hash' : 'their merkle hashes'}, sent by ${e.peers.join(', ')} (only ${e.peers.length === 1 ? 'it is' : 'they are'} blamed)`;
    case 'seed-goal':
      return `${e.reason}`;
    case 'web-seed-failed':
      return `web seed ${e.url}: ${e.reason}; ${WEB_SEED_ACTION[e.action](e.retryIn)}`;
    case 'peer-refused':
      return `peer ${e.address} refused: ${e.reason}`;
    case 'warning':
      return `warning: ${e.message}`;
    case 'error':
      return `error: ${e.message}`;
  }
}

/** What follows a web seed's failure, for people. */
const WEB_SEED_ACTION: Record<Extract<EngineEvent, { event: 'web-seed-failed' }>['action'], (retryIn?: number) => string> = {
  retry: (s) => `asking it again in ${s ?? '?'} s (it is not told again while it fails the same way)`,
  'file-dropped': () => "this file's pieces come from peers and other web seeds",
  dropped: () => 'not asked again this session',
  banned: () => 'banned for this torrent',
};

/** How the check knew: hashed, or trusted from the resume state saved last time. */
function checkedHow(e: Extract<EngineEvent, { event: 'checked' }>): string {
  if (e.hashed === 0) return e.trusted > 0 ? 'from the resume state saved last time; the files did not change' : 'no data there yet';
  const trusted = e.trusted > 0 ? `, ${e.trusted} from the saved resume state` : '';
  return `${e.hashed} hashed, ${e.valid} of them good${trusted}`;
}

/** One announce, for people: what the tracker said over which family, and when we ask again. */
function trackerLine(e: Extract<EngineEvent, { event: 'tracker' }>): string {
  const where = `tracker ${e.tracker} over IPv${e.family}`;
  if (e.announce === 'stopped') return `${where}: told we stopped${e.error ? ` (failed: ${e.error})` : ''}`;
  const next = e.nextAnnounceInMs !== undefined ? `; next announce in ${formatDuration(e.nextAnnounceInMs / 1000)}` : '';
  if (e.error) return `${where}: failed: ${e.error}${next}`;
  const dropped = e.dropped > 0 ? ` (${e.dropped} unusable entries dropped)` : '';
  return `${where}: ${e.peers4} IPv4 + ${e.peers6} IPv6 peers${dropped}${e.warning ? `; it warns: ${e.warning}` : ''}${next}`;
}

/** One port-mapping change for people: what the gateway granted, or what went wrong. */
function mappingLine(e: Extract<EngineEvent, { event: 'port-mapping' }>): string {
  const via = e.protocol ? ` by ${e.protocol === 'natpmp' ? 'NAT-PMP' : e.protocol.toUpperCase()}` : '';
  const at = e.external ? ` ${e.family === 6 ? `[${e.external.address}]` : e.external.address}:${e.external.port}` : '';
  const asked = e.requestedPort !== undefined ? ` (port ${e.requestedPort} is taken on the gateway)` : '';
  const lease = e.lifetimeSeconds !== undefined ? (e.lifetimeSeconds === 0 ? ', permanent' : `, for ${e.lifetimeSeconds} s`) : '';
  return `${e.change}${via}${at}${asked}${lease}${e.error ? `: ${e.error}` : ''}`;
}
