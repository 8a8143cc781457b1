/** How a running torrent talks to the user; the plain, JSON and TTY reporters (reporter.ts) and the terminal UI (ui/ui-reporter.ts) implement it. */
import type { EngineEvent } from '../src/status/feed.js';

export interface Reporter {
  event(e: EngineEvent): void;
  /** A human message (warnings, hints); goes to stderr in every mode. */
  note(text: string): void;
  close(): void | Promise<void>;
}
