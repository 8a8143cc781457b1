/**
 * How a running torrent talks to the user: `--json` prints one JSON object per line on stdout
 * and nothing else; a terminal gets a progress line that rewrites itself; anything else (a log
 * file, a pipe) gets plain lines.
 */
import type { TunnelStatus } from '../src/tunnel/client.js';
import { formatSize } from '../src/util/size.js';

export interface ProgressSnapshot {
  name: string;
  pieces: number;
  have: number;
  totalBytes: number;
  haveBytes: number;
  downRate: number;
  upRate: number;
  downloaded: number;
  uploaded: number;
  peers: number;
  peers4: number;
  peers6: number;
  seeds: number;
  candidates: number;
  /** The session's tunnel, when one is up or trying. */
  tunnel?: TunnelStatus;
}

export type ReportEvent = { event: string } & Record<string, unknown>;

export interface Reporter {
  event(e: ReportEvent): void;
  progress(p: ProgressSnapshot): void;
  /** A human message (warnings, hints); goes to stderr in every mode. */
  note(text: string): void;
  close(): void;
}

/** Events a person wants to see in the log; the rest (every piece) is only for --json. */
const NOTABLE = new Set(['listening', 'checked', 'peer-connected', 'peer-disconnected', 'peer-banned', 'piece-failed', 'complete', 'warning', 'error', 'tracker', 'tunnel']);

export function createReporter(json: boolean): Reporter {
  if (json) return new JsonReporter();
  return process.stdout.isTTY ? new TtyReporter() : new PlainReporter();
}

class JsonReporter implements Reporter {
  event(e: ReportEvent): void {
    process.stdout.write(`${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`);
  }
  progress(p: ProgressSnapshot): void {
    this.event({ event: 'progress', ...p, percent: percent(p) });
  }
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  }
  close(): void {}
}

class PlainReporter implements Reporter {
  private lastProgress = 0;
  event(e: ReportEvent): void {
    if (NOTABLE.has(e.event)) process.stdout.write(`${describe(e)}\n`);
  }
  progress(p: ProgressSnapshot): void {
    const now = Date.now();
    if (now - this.lastProgress < 5000) return;
    this.lastProgress = now;
    process.stdout.write(`${progressLine(p)}\n`);
  }
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  }
  close(): void {}
}

class TtyReporter implements Reporter {
  private line = '';
  event(e: ReportEvent): void {
    if (!NOTABLE.has(e.event) || e.event === 'peer-connected' || e.event === 'peer-disconnected') return;
    this.clear();
    process.stdout.write(`${describe(e)}\n`);
    this.redraw();
  }
  progress(p: ProgressSnapshot): void {
    this.line = progressLine(p);
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

function percent(p: ProgressSnapshot): number {
  return p.totalBytes === 0 ? 100 : Math.floor((p.haveBytes / p.totalBytes) * 10000) / 100;
}

function progressLine(p: ProgressSnapshot): string {
  const eta = p.downRate > 0 && p.haveBytes < p.totalBytes ? ` eta ${formatDuration((p.totalBytes - p.haveBytes) / p.downRate)}` : '';
  return (
    `${p.name}: ${percent(p).toFixed(1)}% ${formatSize(p.haveBytes)}/${formatSize(p.totalBytes)} ` +
    `down ${formatSize(p.downRate)}/s up ${formatSize(p.upRate)}/s ` +
    `peers ${p.peers} (v4 ${p.peers4}, v6 ${p.peers6}, seeds ${p.seeds})${eta}` +
    (p.tunnel ? ` tunnel ${p.tunnel.state}${p.tunnel.prefix ? ` ${p.tunnel.prefix}` : ''}` : '')
  );
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

function describe(e: ReportEvent): string {
  const { event, ...rest } = e;
  switch (event) {
    case 'listening':
      return `listening on ${rest.family === 6 ? `[${String(rest.address)}]` : String(rest.address)}:${String(rest.port)} (IPv${String(rest.family)})`;
    case 'peer-connected':
      return `peer ${String(rest.address)} connected (IPv${String(rest.family)}, ${String(rest.direction)}, ${String(rest.client)})`;
    case 'peer-disconnected':
      return `peer ${String(rest.address)} left: ${String(rest.reason)}`;
    case 'complete':
      return 'download complete: every piece verified';
    case 'warning':
      return `warning: ${String(rest.message)}`;
    case 'error':
      return `error: ${String(rest.message)}`;
    default:
      return `${event}: ${Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}`;
  }
}
