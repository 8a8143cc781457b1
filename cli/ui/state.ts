/**
 * The terminal UI's state and the one pure function that changes it: a snapshot arrives, a key is
 * pressed, an action the engine ran reports back. Keys that ask the engine for something return
 * a command; running it is the driver's job (terminal-ui.tsx). Tested apart from rendering.
 */
import type { Key } from 'ink';
import type { EngineStatus, TorrentDetail, TorrentSummary } from '../../src/status/feed.js';

/** What the engine shows the UI, all plain data (the same as `--json` carries). */
export interface UiSnapshot {
  torrents: TorrentSummary[];
  /** The selected torrent's detail, while the detail view is open. */
  detail?: TorrentDetail;
  engine: Omit<EngineStatus, 'torrents'>;
  /** Date.now() when it was taken. */
  at: number;
}

/** What the engine behind this UI can do (a single `download` cannot add or remove torrents). */
export type Capability = 'add' | 'pause' | 'resume' | 'remove' | 'recheck';

export type View = 'list' | 'detail' | 'network';
export type Tab = 'peers' | 'trackers' | 'files' | 'pieces';
export const TABS: readonly Tab[] = ['peers', 'trackers', 'files', 'pieces'];

export type Overlay =
  | { kind: 'help' }
  | { kind: 'prompt'; text: string; error?: string; busy: boolean }
  | { kind: 'confirm-remove'; infoHash: string; name: string };

export interface Message {
  kind: 'error' | 'info';
  text: string;
  at: number;
}

export interface RateHistory {
  down: number[];
  up: number[];
}

export interface UiState {
  /** What the header says this UI runs: "session ~/.local/share/sixswarm", "download ubuntu.iso". */
  title: string;
  snapshot: UiSnapshot;
  selected?: string;
  view: View;
  tab: Tab;
  /** First row shown of the open tab (the list scrolls with the selection instead). */
  scroll: number;
  overlay?: Overlay;
  message?: Message;
  /** Per torrent, one rate sample per second (snapshots in between only refresh), newest last. */
  history: Record<string, RateHistory>;
  /** snapshot.at of the last sample taken into `history`. */
  sampledAt: number;
  can: ReadonlySet<Capability>;
  quitting: boolean;
}

export type Command =
  | { kind: 'add'; input: string }
  | { kind: 'pause' | 'resume' | 'recheck'; infoHash: string }
  | { kind: 'remove'; infoHash: string; deleteData: boolean }
  /** `now`: Ctrl-C again while quitting: do not wait for the clean shutdown. */
  | { kind: 'quit'; now?: boolean };

export type Action =
  | { type: 'snapshot'; snapshot: UiSnapshot }
  | { type: 'key'; input: string; key: Partial<Key> }
  | { type: 'message'; kind: Message['kind']; text: string }
  /** The prompt's torrent was added: the prompt closes. */
  | { type: 'added'; name: string }
  /** The prompt's input was refused: the prompt stays, with why. */
  | { type: 'add-failed'; error: string };

export interface Update {
  state: UiState;
  command?: Command;
}

/** Rate samples kept per torrent: five minutes at one snapshot a second. */
export const HISTORY_SAMPLES = 300;
/** Snapshots closer together than this refresh the screen without a new history sample. */
export const SAMPLE_MS = 900;
/** Info messages go away after this; errors stay until the next key. */
export const INFO_MESSAGE_MS = 8000;

const EMPTY_ENGINE: UiSnapshot['engine'] = { listening: [], addresses: [], reached: {}, refused: 0 };

export function initialState(title: string, can: Iterable<Capability>, snapshot?: UiSnapshot): UiState {
  const s: UiState = {
    title,
    snapshot: snapshot ?? { torrents: [], engine: EMPTY_ENGINE, at: 0 },
    view: 'list',
    tab: 'peers',
    scroll: 0,
    history: {},
    sampledAt: -Infinity,
    can: new Set(can),
    quitting: false,
  };
  return snapshot ? onSnapshot(s, snapshot) : s;
}

export function update(state: UiState, action: Action): Update {
  switch (action.type) {
    case 'snapshot':
      return { state: onSnapshot(state, action.snapshot) };
    case 'message':
      return { state: { ...state, message: { kind: action.kind, text: action.text, at: state.snapshot.at } } };
    case 'added':
      return {
        state: {
          ...state,
          overlay: state.overlay?.kind === 'prompt' ? undefined : state.overlay,
          message: { kind: 'info', text: `added ${action.name}`, at: state.snapshot.at },
        },
      };
    case 'add-failed':
      if (state.overlay?.kind !== 'prompt') return { state: { ...state, message: { kind: 'error', text: action.error, at: state.snapshot.at } } };
      return { state: { ...state, overlay: { ...state.overlay, busy: false, error: action.error } } };
    case 'key':
      return onKey(state, action.input, action.key);
  }
}

/** The selected torrent's summary, if any. */
export function selectedTorrent(state: UiState): TorrentSummary | undefined {
  return state.snapshot.torrents.find((t) => t.infoHash === state.selected);
}

function onSnapshot(state: UiState, snap: UiSnapshot): UiState {
  const sample = snap.at - state.sampledAt >= SAMPLE_MS;
  const history: Record<string, RateHistory> = {};
  for (const t of snap.torrents) {
    const h = state.history[t.infoHash] ?? { down: [], up: [] };
    history[t.infoHash] = sample ? { down: [...h.down, t.downRate].slice(-HISTORY_SAMPLES), up: [...h.up, t.upRate].slice(-HISTORY_SAMPLES) } : h;
  }
  const selected = snap.torrents.some((t) => t.infoHash === state.selected) ? state.selected : snap.torrents[0]?.infoHash;
  const message = state.message?.kind === 'info' && snap.at - state.message.at > INFO_MESSAGE_MS ? undefined : state.message;
  // The detail of a torrent that went away (removed) closes.
  const view = state.view === 'detail' && !selected ? 'list' : state.view;
  return { ...state, snapshot: snap, history, sampledAt: sample ? snap.at : state.sampledAt, selected, message, view };
}

const NEEDS: Record<'pause' | 'resume' | 'recheck' | 'remove' | 'add', string> = {
  add: 'adding torrents',
  pause: 'pausing',
  resume: 'resuming',
  recheck: 're-checking',
  remove: 'removing torrents',
};

function unavailable(state: UiState, what: Capability): Update {
  return {
    state: {
      ...state,
      message: { kind: 'error', text: `${NEEDS[what]} needs a session: quit (q) and run \`sixswarm ui\`, then add the torrent there (a)`, at: state.snapshot.at },
    },
  };
}

function onKey(state: UiState, input: string, key: Partial<Key>): Update {
  // Esc and the key after it, typed fast, arrive as one chunk that reads as Alt+key: both count.
  if (key.meta && !key.escape && [...input].length === 1 && state.overlay?.kind !== 'prompt') {
    const back = onKey(state, '', { escape: true });
    return back.command ? back : onKey(back.state, input, { ...key, meta: false });
  }
  if (key.ctrl && input === 'c') return { state: { ...state, quitting: true }, command: state.quitting ? { kind: 'quit', now: true } : { kind: 'quit' } };
  if (state.quitting) return { state }; // shutting down: nothing else to do
  const o = state.overlay;
  if (o?.kind === 'prompt') return promptKey(state, o, input, key);
  if (o?.kind === 'confirm-remove') return confirmKey(state, o, input, key);
  if (o?.kind === 'help') return { state: { ...state, overlay: undefined } }; // any key closes it
  // A key press is the answer to an error shown: it goes.
  const s: UiState = state.message?.kind === 'error' ? { ...state, message: undefined } : state;
  const torrents = s.snapshot.torrents;
  const at = torrents.findIndex((t) => t.infoHash === s.selected);
  const sel = torrents[at];
  const needSelection = (cap: Capability, run: (t: TorrentSummary) => Update): Update => {
    if (!s.can.has(cap)) return unavailable(s, cap);
    if (!sel) return { state: { ...s, message: { kind: 'error', text: 'no torrent selected: add one first (a)', at: s.snapshot.at } } };
    return run(sel);
  };

  if (input === 'q') return { state: { ...s, quitting: true }, command: { kind: 'quit' } };
  if (input === '?') return { state: { ...s, overlay: { kind: 'help' } } };
  // ink reports the Backspace key (DEL) as `delete`: both go back, never remove anything.
  if (key.escape || key.leftArrow || key.backspace || key.delete) return { state: { ...s, view: 'list', scroll: 0 } };
  if (input === 'n') return { state: { ...s, view: s.view === 'network' ? 'list' : 'network', scroll: 0 } };
  if (key.return || key.rightArrow) return sel ? { state: { ...s, view: 'detail', scroll: 0 } } : { state: s };

  if (s.view === 'detail') {
    const n = Number(input);
    if (Number.isInteger(n) && n >= 1 && n <= TABS.length) return { state: { ...s, tab: TABS[n - 1]!, scroll: 0 } };
    if (key.tab) {
      const i = TABS.indexOf(s.tab);
      return { state: { ...s, tab: TABS[(i + (key.shift ? TABS.length - 1 : 1)) % TABS.length]!, scroll: 0 } };
    }
    if (key.upArrow || input === 'k') return { state: { ...s, scroll: Math.max(0, s.scroll - 1) } };
    if (key.downArrow || input === 'j') return { state: { ...s, scroll: s.scroll + 1 } };
    if (key.pageUp) return { state: { ...s, scroll: Math.max(0, s.scroll - 10) } };
    if (key.pageDown) return { state: { ...s, scroll: s.scroll + 10 } };
  } else {
    const move = (to: number): Update => ({ state: { ...s, selected: torrents[Math.max(0, Math.min(torrents.length - 1, to))]?.infoHash } });
    if (key.upArrow || input === 'k') return move(at - 1);
    if (key.downArrow || input === 'j') return move(at + 1);
    if (key.pageUp) return move(at - 10);
    if (key.pageDown) return move(at + 10);
    if (key.home) return move(0);
    if (key.end) return move(torrents.length - 1);
  }

  if (input === 'a') {
    if (!s.can.has('add')) return unavailable(s, 'add');
    return { state: { ...s, overlay: { kind: 'prompt', text: '', busy: false } } };
  }
  if (input === 'p') return needSelection('pause', (t) => ({ state: s, command: { kind: 'pause', infoHash: t.infoHash } }));
  if (input === 'r') return needSelection('resume', (t) => ({ state: s, command: { kind: 'resume', infoHash: t.infoHash } }));
  if (input === ' ') {
    return needSelection('pause', (t) => ({ state: s, command: { kind: t.state === 'paused' ? 'resume' : 'pause', infoHash: t.infoHash } }));
  }
  if (input === 'c') return needSelection('recheck', (t) => ({ state: s, command: { kind: 'recheck', infoHash: t.infoHash } }));
  if (input === 'd') {
    return needSelection('remove', (t) => ({ state: { ...s, overlay: { kind: 'confirm-remove', infoHash: t.infoHash, name: t.name } } }));
  }
  return { state: s };
}

function promptKey(state: UiState, o: Extract<Overlay, { kind: 'prompt' }>, input: string, key: Partial<Key>): Update {
  if (key.escape) return { state: { ...state, overlay: undefined } };
  if (o.busy) return { state }; // adding: wait for the answer
  if (key.return) {
    if (!o.text.trim()) return { state: { ...state, overlay: { ...o, error: 'type the path of a .torrent file or a magnet link, or Esc to cancel' } } };
    return { state: { ...state, overlay: { ...o, busy: true, error: undefined } }, command: { kind: 'add', input: o.text.trim() } };
  }
  if (key.backspace || key.delete) return { state: { ...state, overlay: { ...o, text: [...o.text].slice(0, -1).join(''), error: undefined } } };
  if (key.ctrl && input === 'u') return { state: { ...state, overlay: { ...o, text: '', error: undefined } } };
  if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) return { state };
  // Typed or pasted text. Keys typed fast arrive as one chunk: a line break in it is Enter
  // ("path\r"), a Ctrl-U clears what came before ("\x15path"), other control characters go.
  const br = input.search(/[\r\n]/);
  let text = br < 0 ? input : input.slice(0, br);
  const cleared = text.lastIndexOf('\x15');
  const before = cleared >= 0 ? '' : o.text;
  text = text.slice(cleared + 1).replace(/[\u0000-\u001f\u007f]/g, '');
  const typed: Extract<Overlay, { kind: 'prompt' }> = { ...o, text: (before + text).slice(0, 8192), error: undefined };
  if (br >= 0) return promptKey({ ...state, overlay: typed }, typed, '', { return: true });
  if (!text && cleared < 0) return { state };
  return { state: { ...state, overlay: typed } };
}

function confirmKey(state: UiState, o: Extract<Overlay, { kind: 'confirm-remove' }>, input: string, key: Partial<Key>): Update {
  if (input === 'k') return { state: { ...state, overlay: undefined }, command: { kind: 'remove', infoHash: o.infoHash, deleteData: false } };
  if (input === 'D') return { state: { ...state, overlay: undefined }, command: { kind: 'remove', infoHash: o.infoHash, deleteData: true } };
  if (key.escape || input === 'n' || input === 'q') return { state: { ...state, overlay: undefined } };
  return { state };
}
