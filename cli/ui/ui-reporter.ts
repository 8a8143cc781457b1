/**
 * `download` and `seed` on a terminal: the reporter that opens the terminal UI once the torrent
 * runs (attach), shows the engine's warnings and errors on its message line (and in its log, l),
 * and gives the terminal back on close: the UI erased, then what should stay printed, the
 * torrent's figures at the end and every warning and error of the run. Notes from before it
 * opens go to stderr as usual, and into the log too.
 */
import type { EngineEvent, TorrentSummary } from '../../src/status/feed.js';
import type { Reporter } from '../reporting.js';
import { formatSize } from '../../src/util/size.js';
import type { Level, Message } from './state.js';
import { TerminalUi, type UiSource } from './terminal-ui.js';

/** A note's level, from how it starts ("warning: ..."). */
function levelOf(text: string): { level: Level; text: string } {
  const m = /^(warning|error): (.*)$/s.exec(text);
  return m ? { level: m[1] as Level, text: m[2]! } : { level: 'info', text };
}

/** A torrent as it stands when its process stops: how much is verified, what went up; no rates (they end here). */
export function finalLine(p: Omit<TorrentSummary, 'infoHash'>): string {
  const [have, of] = p.selected ? [p.selected.haveBytes, p.selected.bytes] : [p.haveBytes, p.totalBytes];
  const what = p.selected ? ` of the ${p.selected.files} files selected` : '';
  const done = p.totalBytes > 0 && have >= of ? `complete (${formatSize(of)}${what})` : `${p.percent.toFixed(1)}% verified (${formatSize(have)} of ${formatSize(of)}${what})`;
  const shared = p.uploaded > 0 ? `; uploaded ${formatSize(p.uploaded)}${p.ratio !== null ? ` (ratio ${p.ratio.toFixed(2)})` : ''}` : '';
  return `${p.name}: ${p.state === 'fetching-metadata' ? 'metadata not fetched yet' : done}${shared}`;
}

export class UiReporter implements Reporter {
  private ui?: TerminalUi;
  private source?: UiSource;
  /** Notes from before the UI opened, for its log. */
  private readonly early: { level: Level; text: string }[] = [];

  attach(source: UiSource): void {
    this.source = source;
    this.ui = new TerminalUi(source);
    this.ui.start();
    for (const n of this.early.splice(0)) this.ui.message(n.level, n.text);
  }

  event(e: EngineEvent): void {
    if (!this.ui) return;
    if (e.event === 'warning') this.ui.message('warning', e.message);
    else if (e.event === 'error') this.ui.message('error', e.message);
    else if (e.event === 'complete') this.ui.message('info', 'download complete: every piece verified');
  }

  note(text: string): void {
    const n = levelOf(text);
    if (this.ui) this.ui.message(n.level, n.text);
    else {
      process.stderr.write(`${text}\n`);
      this.early.push(n);
    }
  }

  async close(): Promise<void> {
    if (!this.ui) return;
    const worth: readonly Message[] = this.ui.messages().filter((m) => m.kind !== 'info');
    await this.ui.close();
    for (const t of this.source!.snapshot(undefined, 1).torrents) process.stdout.write(`${finalLine(t)}\n`);
    for (const m of worth) process.stderr.write(`${m.kind}: ${m.text}\n`);
  }
}
