/**
 * `download` and `seed` on a terminal: the reporter that opens the terminal UI once the torrent
 * runs (attach), shows the engine's warnings and errors on its message line, and gives the
 * terminal back on close. Notes from before it opens go to stderr as usual.
 */
import type { EngineEvent } from '../../src/status/feed.js';
import type { Reporter } from '../reporting.js';
import { TerminalUi, type UiSource } from './terminal-ui.js';

export class UiReporter implements Reporter {
  private ui?: TerminalUi;

  attach(source: UiSource): void {
    this.ui = new TerminalUi(source);
    this.ui.start();
  }

  event(e: EngineEvent): void {
    if (!this.ui) return;
    if (e.event === 'warning') this.ui.message('info', `warning: ${e.message}`);
    else if (e.event === 'error') this.ui.message('error', e.message);
    else if (e.event === 'complete') this.ui.message('info', 'download complete: every piece verified');
  }

  note(text: string): void {
    if (this.ui) this.ui.message('info', text);
    else process.stderr.write(`${text}\n`);
  }

  async close(): Promise<void> {
    await this.ui?.close();
  }
}
