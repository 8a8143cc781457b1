/**
 * The terminal UI's driver, the only impure part: it renders the App with ink, takes a snapshot
 * from its source every second (and at once when the view changes), turns keys into actions,
 * runs the commands they produce, redraws at most ten times a second, and on resize.
 */
import { render, Text, useInput, type Instance, type Key } from 'ink';
import { errorMessage } from '../../src/util/errors.js';
import { App } from './app.js';
import { pieceCells } from './piece-map.js';
import { completePath } from './path-completion.js';
import { initialState, update, type Action, type Capability, type Command, type EngineCommand, type Level, type Message, type UiSnapshot, type UiState } from './state.js';
import { themeFor, type Theme } from './theme.js';

/** What the UI runs on: snapshots of the engine, and the commands it may send (those in `can`). */
export interface UiSource {
  title: string;
  can: Capability[];
  /** The engine now, with `detailOf`'s detail (a piece map of about `cells` cells) when given. */
  snapshot(detailOf: string | undefined, cells: number): UiSnapshot;
  /** Run a command; resolves to a notice to show (for `add`: the torrent's name), rejects with what went wrong. */
  run(command: EngineCommand): Promise<string | undefined>;
  /** The user asked to quit (q, Ctrl-C): shut down, then call close(). */
  quit(): void;
}

export interface TerminalUiOptions {
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  env?: NodeJS.ProcessEnv;
  /** Snapshot interval (ms). */
  pollMs?: number;
  /** Least time between two frames (ms): 100 = ten redraws a second at most. */
  frameMs?: number;
  /** Route console.* above the UI (default); off where console cannot be replaced (the test runner). */
  patchConsole?: boolean;
}

function Root({ state, width, height, theme, onKey }: { state: UiState; width: number; height: number; theme: Theme; onKey: (input: string, key: Key) => void }) {
  useInput(onKey);
  return <App state={state} width={width} height={height} theme={theme} />;
}

export class TerminalUi {
  private state: UiState;
  private ink?: Instance;
  private poller?: NodeJS.Timeout;
  private frameTimer?: NodeJS.Timeout;
  private lastFrame = 0;
  private readonly stdout: NodeJS.WriteStream;
  private readonly stdin: NodeJS.ReadStream;
  private readonly theme: Theme;
  private readonly pollMs: number;
  private readonly frameMs: number;
  private readonly patchConsole: boolean;
  private closed = false;
  /** Closing: the screen is given back empty, not with a last frame whose rates would go stale. */
  private cleared = false;
  /** Frames drawn (for tests and the benchmark's curiosity). */
  frames = 0;

  constructor(
    private readonly source: UiSource,
    o: TerminalUiOptions = {},
  ) {
    this.stdout = o.stdout ?? process.stdout;
    this.stdin = o.stdin ?? process.stdin;
    this.theme = themeFor(o.env ?? process.env);
    this.pollMs = o.pollMs ?? 1000;
    this.frameMs = o.frameMs ?? 100;
    this.patchConsole = o.patchConsole ?? true;
    this.state = initialState(source.title, source.can);
  }

  start(): void {
    this.state = update(this.state, { type: 'snapshot', snapshot: this.take() }).state;
    this.ink = render(this.element(), { stdout: this.stdout, stdin: this.stdin, exitOnCtrlC: false, patchConsole: this.patchConsole, maxFps: Math.round(1000 / this.frameMs) });
    this.lastFrame = Date.now();
    this.poller = setInterval(() => this.dispatch({ type: 'snapshot', snapshot: this.take() }), this.pollMs);
    this.stdout.on('resize', this.onResize);
  }

  /** A message from the owner (a warning, a note) shown on the message line and kept in the log. */
  message(kind: Level, text: string): void {
    if (this.closed) return;
    this.dispatch({ type: 'message', kind, text });
  }

  /** Every message of this run so far, oldest first (what the log view shows). */
  messages(): readonly Message[] {
    return this.state.log;
  }

  /**
   * Give the terminal back, empty: the UI's lines are erased rather than left with rates that
   * stop being true the moment it quits (the owner prints what should stay: a summary, the warnings).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poller);
    clearTimeout(this.frameTimer);
    this.stdout.off('resize', this.onResize);
    if (!this.ink) return;
    this.cleared = true;
    this.ink.rerender(this.element());
    this.ink.unmount();
    await this.ink.waitUntilExit();
  }

  private readonly onResize = () => this.draw();

  private readonly onKey = (input: string, key: Key) => this.dispatch({ type: 'key', input, key });

  private take(): UiSnapshot {
    const s = this.state;
    const detailOf = s.view === 'detail' ? s.selected : undefined;
    return this.source.snapshot(detailOf, pieceCells(this.width(), this.height() - 12));
  }

  private dispatch(action: Action): void {
    if (this.closed) return;
    const before = this.state;
    const { state, command } = update(before, action);
    this.state = state;
    // A view or selection change shows its data now, not at the next poll.
    if (action.type === 'key' && (state.view !== before.view || state.selected !== before.selected) && state.view === 'detail') {
      this.state = update(this.state, { type: 'snapshot', snapshot: this.take() }).state;
    }
    this.schedule();
    if (command) this.execute(command);
  }

  private execute(command: Command): void {
    if (command.kind === 'quit') {
      if (!command.now) return this.source.quit();
      // Ctrl-C twice: give the terminal back and go, without waiting for peers and resume state.
      this.ink?.unmount();
      process.exit(130);
    }
    if (command.kind === 'complete') {
      void completePath(command.text).then((c) => this.dispatch({ type: 'completed', input: command.text, ...c }));
      return;
    }
    this.source.run(command).then(
      (notice) => {
        if (command.kind === 'add') this.dispatch({ type: 'added', name: notice ?? command.input });
        else if (command.kind === 'limits') this.dispatch({ type: 'limits-set', text: notice ?? 'rate limits set' });
        else if (notice) this.dispatch({ type: 'message', kind: 'info', text: notice });
        this.dispatch({ type: 'snapshot', snapshot: this.take() });
      },
      (e: unknown) => {
        if (command.kind === 'add') this.dispatch({ type: 'add-failed', error: errorMessage(e) });
        else if (command.kind === 'limits') this.dispatch({ type: 'limits-failed', error: errorMessage(e) });
        else this.dispatch({ type: 'message', kind: 'error', text: errorMessage(e) });
      },
    );
  }

  /** Redraw now if the last frame is old enough, else once when it is. */
  private schedule(): void {
    if (this.frameTimer) return;
    const wait = this.frameMs - (Date.now() - this.lastFrame);
    if (wait <= 0) this.draw();
    else this.frameTimer = setTimeout(() => this.draw(), wait);
  }

  private draw(): void {
    clearTimeout(this.frameTimer);
    this.frameTimer = undefined;
    if (this.closed || !this.ink) return;
    this.lastFrame = Date.now();
    this.frames++;
    this.ink.rerender(this.element());
  }

  private width(): number {
    return this.stdout.columns || 80;
  }

  private height(): number {
    return this.stdout.rows || 24;
  }

  private element() {
    if (this.cleared) return <Text>{''}</Text>;
    return <Root state={this.state} width={this.width()} height={this.height()} theme={this.theme} onKey={this.onKey} />;
  }
}
