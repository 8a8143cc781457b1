/**
 * The terminal UI's state and the one pure function that changes it: a snapshot arrives, a key is
 * pressed, an action the engine ran reports back. Keys that ask the engine for something return
 * a command; running it is the driver's job (terminal-ui.tsx). Tested apart from rendering.
 */
import type { Key } from 'ink';
import type { EngineStatus, TorrentDetail, TorrentSummary } from '../../src/status/feed.js';
import { errorMessage } from '../../src/util/errors.js';
import { parseRateOption } from '../numbers.js';

/** What the engine shows the UI, all plain data (the same as `--json` carries). */
export interface UiSnapshot {
  torrents: TorrentSummary[];
  /** The selected torrent's detail, while the detail view is open. */
  detail?: TorrentDetail;
  engine: Omit<EngineStatus, 'torrents'>;
  /** Date.now() when it was taken. */
  at: number;
}

/** What the engine behind this UI can do (a single `download` cannot add or remove torrents; the demo nothing). */
export type Capability = 'add' | 'pause' | 'resume' | 'remove' | 'recheck' | 'limits';

export type View = 'list' | 'detail' | 'network' | 'log';
export type Tab = 'peers' | 'trackers' | 'files' | 'pieces';
export const TABS: readonly Tab[] = ['peers', 'trackers', 'files', 'pieces'];

export type Overlay =
  | { kind: 'help' }
  /** The add prompt; `candidates`: what Tab found for the path typed, when more than one. */
  | { kind: 'prompt'; text: string; error?: string; busy: boolean; candidates?: string[] }
  | { kind: 'confirm-remove'; infoHash: string; name: string }
  /** The rate limits, as typed (500k, 2M; empty or 0: no limit), one field at a time. */
  | { kind: 'limits'; down: string; up: string; field: 'down' | 'up'; error?: string; busy: boolean }
  /** Typing the list's filter (it applies as it is typed). */
  | { kind: 'filter' };

export type Level = 'error' | 'warning' | 'info';

export interface Message {
  kind: Level;
  text: string;
  at: number;
}

/** The list's order: as added, or by one figure (biggest first but for the name). */
export const SORTS = ['added', 'name', 'progress', 'down', 'up', 'size', 'ratio', 'state'] as const;
export type Sort = (typeof SORTS)[number];

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
  /** The latest message, on the message line. */
  message?: Message;
  /** Every message of this run, newest last (LOG_MESSAGES at most): the log view (l). */
  log: Message[];
  sort: Sort;
  /** The sort turned around (S). */
  reversed: boolean;
  /** Only torrents whose name or state contains this (/), case aside. */
  filter: string;
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
  /** The engine's rate limits, bytes per second (null: none), changed while it runs. */
  | { kind: 'limits'; down: number | null; up: number | null }
  /** Complete the path typed in the add prompt (the driver looks at the disk). */
  | { kind: 'complete'; text: string }
  /** `now`: Ctrl-C again while quitting: do not wait for the clean shutdown. */
  | { kind: 'quit'; now?: boolean };

/** The commands the engine runs (the rest the driver does itself). */
export type EngineCommand = Exclude<Command, { kind: 'quit' } | { kind: 'complete' }>;

export type Action =
  | { type: 'snapshot'; snapshot: UiSnapshot }
  | { type: 'key'; input: string; key: Partial<Key> }
  | { type: 'message'; kind: Message['kind']; text: string }
  /** What Tab found for `input` (ignored if the prompt moved on meanwhile). */
  | { type: 'completed'; input: string; text: string; candidates: string[] }
  /** The limits were set: the dialog closes. */
  | { type: 'limits-set'; text: string }
  /** The limits were refused: the dialog stays, with why. */
  | { type: 'limits-failed'; error: string }
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
/** Info messages go away after this; errors and warnings stay until the next key. */
export const INFO_MESSAGE_MS = 8000;
/** Messages the log view keeps. */
export const LOG_MESSAGES = 500;

const EMPTY_ENGINE: UiSnapshot['engine'] = { listening: [], transports: [], addresses: [], reached: {}, refused: 0 };

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
    log: [],
    sort: 'added',
    reversed: false,
    filter: '',
  };
  return snapshot ? onSnapshot(s, snapshot) : s;
}

export function update(state: UiState, action: Action): Update {
  switch (action.type) {
    case 'snapshot':
      return { state: onSnapshot(state, action.snapshot) };
    case 'message':
      return { state: said(state, action.kind, action.text) };
    case 'added':
      return { state: said({ ...state, overlay: state.overlay?.kind === 'prompt' ? undefined : state.overlay }, 'info', `added ${action.name}`) };
    case 'add-failed':
      if (state.overlay?.kind !== 'prompt') return { state: said(state, 'error', action.error) };
      return { state: { ...state, overlay: { ...state.overlay, busy: false, error: action.error } } };
    case 'limits-set':
      return { state: said({ ...state, overlay: state.overlay?.kind === 'limits' ? undefined : state.overlay }, 'info', action.text) };
    case 'limits-failed':
      if (state.overlay?.kind !== 'limits') return { state: said(state, 'error', action.error) };
      return { state: { ...state, overlay: { ...state.overlay, busy: false, error: action.error } } };
    case 'completed': {
      const o = state.overlay;
      if (o?.kind !== 'prompt' || o.busy || o.text !== action.input) return { state };
      return { state: { ...state, overlay: { ...o, text: action.text, candidates: action.candidates.length > 1 ? action.candidates : undefined, error: action.candidates.length === 0 ? 'nothing here starts with that' : undefined } } };
    }
    case 'key':
      return onKey(state, action.input, action.key);
  }
}

/** `text` on the message line and in the log. */
function said(state: UiState, kind: Level, text: string): UiState {
  const message = { kind, text, at: state.snapshot.at };
  return { ...state, message, log: [...state.log, { ...message, at: Date.now() }].slice(-LOG_MESSAGES) };
}

/** The torrents the list shows: those the filter lets through, in the chosen order. */
export function visibleTorrents(state: Pick<UiState, 'snapshot' | 'sort' | 'reversed' | 'filter'>): TorrentSummary[] {
  const needle = state.filter.trim().toLowerCase();
  const shown = needle ? state.snapshot.torrents.filter((t) => t.name.toLowerCase().includes(needle) || t.state.includes(needle)) : [...state.snapshot.torrents];
  const by = SORT_KEY[state.sort];
  if (by) shown.sort((a, b) => by(a, b) || a.name.localeCompare(b.name));
  return state.reversed ? shown.reverse() : shown;
}

/** How each sort compares two torrents (the first comes first); none for `added`, the session's own order. */
const SORT_KEY: Record<Sort, ((a: TorrentSummary, b: TorrentSummary) => number) | undefined> = {
  added: undefined,
  name: (a, b) => a.name.localeCompare(b.name),
  progress: (a, b) => b.percent - a.percent,
  down: (a, b) => b.downRate - a.downRate,
  up: (a, b) => b.upRate - a.upRate,
  size: (a, b) => b.totalBytes - a.totalBytes,
  ratio: (a, b) => (b.ratio ?? -1) - (a.ratio ?? -1),
  state: (a, b) => a.state.localeCompare(b.state),
};

/** The selected torrent's summary, if any. */
export function selectedTorrent(state: UiState): TorrentSummary | undefined {
  return state.snapshot.torrents.find((t) => t.infoHash === state.selected);
}

/** The selection kept if the list still shows it, else the list's first. */
function reselect(state: UiState): UiState {
  const shown = visibleTorrents(state);
  const selected = shown.some((t) => t.infoHash === state.selected) ? state.selected : shown[0]?.infoHash;
  // The detail of a torrent that went away (removed) closes.
  const view = state.view === 'detail' && !selected ? 'list' : state.view;
  return { ...state, selected, view };
}

function onSnapshot(state: UiState, snap: UiSnapshot): UiState {
  const sample = snap.at - state.sampledAt >= SAMPLE_MS;
  const history: Record<string, RateHistory> = {};
  for (const t of snap.torrents) {
    const h = state.history[t.infoHash] ?? { down: [], up: [] };
    history[t.infoHash] = sample ? { down: [...h.down, t.downRate].slice(-HISTORY_SAMPLES), up: [...h.up, t.upRate].slice(-HISTORY_SAMPLES) } : h;
  }
  const message = state.message?.kind === 'info' && snap.at - state.message.at > INFO_MESSAGE_MS ? undefined : state.message;
  return reselect({ ...state, snapshot: snap, history, sampledAt: sample ? snap.at : state.sampledAt, message });
}

const NEEDS: Record<Capability, string> = {
  add: 'adding torrents',
  pause: 'pausing',
  resume: 'resuming',
  recheck: 're-checking',
  remove: 'removing torrents',
  limits: 'changing the rate limits',
};

function unavailable(state: UiState, what: Capability): Update {
  if (what === 'limits') return { state: said(state, 'error', 'the demo sets its own rate limits (--rate); in `sixswarm ui`, `download` and `seed`, t changes them') };
  return { state: said(state, 'error', `${NEEDS[what]} needs a session: quit (q) and run \`sixswarm ui\`, then add the torrent there (a)`) };
}

/** A limit as the dialog shows it: 2M, 500K, 1.5M, or empty for none (bytes when no unit says it exactly). */
export function limitText(rate: number | null | undefined): string {
  if (!rate) return '';
  for (const [unit, size] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (rate >= size && Number.isInteger((rate / size) * 100)) return `${rate / size}${unit}`;
  }
  return String(rate);
}

function onKey(state: UiState, input: string, key: Partial<Key>): Update {
  // Esc and the key after it, typed fast, arrive as one chunk that reads as Alt+key: both count.
  if (key.meta && !key.escape && [...input].length === 1 && state.overlay?.kind !== 'prompt') {
    const back = onKey(state, '', { escape: true });
    return back.command ? back : onKey(back.state, input, { ...key, meta: false });
  }
  if (key.ctrl && input === 'c') return { state: { ...state, quitting: true }, command: state.quitting ? { kind: 'quit', now: true } : { kind: 'quit' } };
  // Keys typed fast arrive as one chunk ("a" and the path after it, "/" and the filter): one at a
  // time, each to whatever the one before opened, until one asks the engine for something.
  const chars = [...input];
  if (chars.length > 1 && !key.ctrl && !key.meta && !isTyping(state)) {
    const first = onKey(state, chars[0]!, {});
    return first.command ? first : onKey(first.state, chars.slice(1).join(''), key);
  }
  if (state.quitting) return { state }; // shutting down: nothing else to do
  const o = state.overlay;
  if (o?.kind === 'prompt') return promptKey(state, o, input, key);
  if (o?.kind === 'confirm-remove') return confirmKey(state, o, input, key);
  if (o?.kind === 'limits') return limitsKey(state, o, input, key);
  if (o?.kind === 'filter') return filterKey(state, input, key);
  if (o?.kind === 'help') return { state: { ...state, overlay: undefined } }; // any key closes it
  // A key press is the answer to an error or warning shown: it goes (the log keeps it).
  const s: UiState = state.message && state.message.kind !== 'info' ? { ...state, message: undefined } : state;
  const torrents = visibleTorrents(s);
  const at = torrents.findIndex((t) => t.infoHash === s.selected);
  const sel = torrents[at];
  const needSelection = (cap: Capability, run: (t: TorrentSummary) => Update): Update => {
    if (!s.can.has(cap)) return unavailable(s, cap);
    if (!sel) return { state: said(s, 'error', s.snapshot.torrents.length > 0 ? 'no torrent selected: the filter hides them all (/ then Esc clears it)' : 'no torrent selected: add one first (a)') };
    return run(sel);
  };

  if (input === 'q') return { state: { ...s, quitting: true }, command: { kind: 'quit' } };
  if (input === '?') return { state: { ...s, overlay: { kind: 'help' } } };
  // ink reports the Backspace key (DEL) as `delete`: both go back, never remove anything.
  if (key.escape || key.leftArrow || key.backspace || key.delete) return { state: { ...s, view: 'list', scroll: 0 } };
  if (input === 'n') return { state: { ...s, view: s.view === 'network' ? 'list' : 'network', scroll: 0 } };
  if (input === 'l') return { state: { ...s, view: s.view === 'log' ? 'list' : 'log', scroll: 0 } };
  if (input === 't') {
    if (!s.can.has('limits')) return unavailable(s, 'limits');
    const limits = s.snapshot.engine.limits;
    return { state: { ...s, overlay: { kind: 'limits', down: limitText(limits?.down), up: limitText(limits?.up), field: 'down', busy: false } } };
  }
  if (key.return || key.rightArrow) return sel ? { state: { ...s, view: 'detail', scroll: 0 } } : { state: s };

  if (s.view === 'log') {
    if (key.upArrow || input === 'k') return { state: { ...s, scroll: s.scroll + 1 } };
    if (key.downArrow || input === 'j') return { state: { ...s, scroll: Math.max(0, s.scroll - 1) } };
    if (key.pageUp) return { state: { ...s, scroll: s.scroll + 10 } };
    if (key.pageDown) return { state: { ...s, scroll: Math.max(0, s.scroll - 10) } };
    return { state: s };
  }
  if (s.view === 'detail' && s.tab === 'files' && (input === ' ' || input === '+' || input === '-')) {
    return { state: said(s, 'warning', 'files cannot be chosen or prioritised while a torrent runs: the engine fixes its file selection at start; give it then (download --select 1,3-5 / --skip GLOB)') };
  }
  if (s.view === 'list') {
    if (input === 's') return { state: reselect({ ...s, sort: SORTS[(SORTS.indexOf(s.sort) + 1) % SORTS.length]!, reversed: false }) };
    if (input === 'S') return { state: reselect({ ...s, reversed: !s.reversed }) };
    if (input === '/') return { state: { ...s, overlay: { kind: 'filter' } } };
  }

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

/**
 * A key for a line being typed (the add prompt, the filter, a limit): the new text, or what the
 * key did besides (enter, or nothing: a key that edits nothing). Keys typed fast arrive as one
 * chunk: a line break in it is Enter ("path\r"), a Ctrl-U clears what came before ("\x15path"),
 * other control characters go.
 */
function edit(text: string, input: string, key: Partial<Key>, max: number): { text: string; enter: boolean } | undefined {
  if (key.return) return { text, enter: true };
  if (key.backspace || key.delete) return { text: [...text].slice(0, -1).join(''), enter: false };
  if (key.ctrl && input === 'u') return { text: '', enter: false };
  if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) return undefined;
  const br = input.search(/[\r\n]/);
  let typed = br < 0 ? input : input.slice(0, br);
  const cleared = typed.lastIndexOf('\x15');
  const before = cleared >= 0 ? '' : text;
  typed = typed.slice(cleared + 1).replace(/[\u0000-\u001f\u007f]/g, '');
  if (!typed && cleared < 0 && br < 0) return undefined;
  return { text: (before + typed).slice(0, max), enter: br >= 0 };
}

/** Whether keys are text being typed (the add prompt, the filter, a limit), which take a chunk whole. */
function isTyping(state: UiState): boolean {
  const k = state.overlay?.kind;
  return k === 'prompt' || k === 'filter' || k === 'limits';
}

function promptKey(state: UiState, o: Extract<Overlay, { kind: 'prompt' }>, input: string, key: Partial<Key>): Update {
  if (key.escape) return { state: { ...state, overlay: undefined } };
  if (o.busy) return { state }; // adding: wait for the answer
  if (key.tab) return o.text.trim() ? { state, command: { kind: 'complete', text: o.text } } : { state };
  // Text and a Tab typed fast arrive as one chunk ("…/torr\t"): the text, then the Tab.
  const tab = input.indexOf('\t');
  if (tab >= 0) {
    const typed = promptKey(state, o, input.slice(0, tab), {});
    return typed.state.overlay?.kind === 'prompt' && !typed.command ? promptKey(typed.state, typed.state.overlay, '', { tab: true }) : typed;
  }
  const e = edit(o.text, input, key, 8192);
  if (!e) return { state };
  const typed: Extract<Overlay, { kind: 'prompt' }> = { ...o, text: e.text, error: undefined, candidates: e.text === o.text ? o.candidates : undefined };
  if (!e.enter) return { state: { ...state, overlay: typed } };
  if (!typed.text.trim()) return { state: { ...state, overlay: { ...typed, error: 'type the path of a .torrent file or a magnet link, or Esc to cancel' } } };
  return { state: { ...state, overlay: { ...typed, busy: true, candidates: undefined } }, command: { kind: 'add', input: typed.text.trim() } };
}

function filterKey(state: UiState, input: string, key: Partial<Key>): Update {
  // Esc clears the filter; Enter keeps it and closes the line.
  if (key.escape) return { state: reselect({ ...state, overlay: undefined, filter: '' }) };
  const e = edit(state.filter, input, key, 200);
  if (!e) return { state };
  return { state: reselect({ ...state, filter: e.text, overlay: e.enter ? undefined : state.overlay }) };
}

function limitsKey(state: UiState, o: Extract<Overlay, { kind: 'limits' }>, input: string, key: Partial<Key>): Update {
  if (key.escape) return { state: { ...state, overlay: undefined } };
  if (o.busy) return { state };
  if (key.tab || key.upArrow || key.downArrow) return { state: { ...state, overlay: { ...o, field: o.field === 'down' ? 'up' : 'down' } } };
  const e = edit(o[o.field], input, key, 32);
  if (!e) return { state };
  const typed = { ...o, [o.field]: e.text, error: undefined };
  if (!e.enter) return { state: { ...state, overlay: typed } };
  try {
    const rate = (text: string, name: string) => (text.trim() === '' ? null : (parseRateOption(text, name) ?? null));
    const down = rate(typed.down, 'download limit');
    const up = rate(typed.up, 'upload limit');
    return { state: { ...state, overlay: { ...typed, busy: true } }, command: { kind: 'limits', down, up } };
  } catch (err) {
    return { state: { ...state, overlay: { ...typed, error: errorMessage(err) } } };
  }
}

function confirmKey(state: UiState, o: Extract<Overlay, { kind: 'confirm-remove' }>, input: string, key: Partial<Key>): Update {
  if (input === 'k') return { state: { ...state, overlay: undefined }, command: { kind: 'remove', infoHash: o.infoHash, deleteData: false } };
  if (input === 'D') return { state: { ...state, overlay: undefined }, command: { kind: 'remove', infoHash: o.infoHash, deleteData: true } };
  if (key.escape || input === 'n' || input === 'q') return { state: { ...state, overlay: undefined } };
  return { state };
}
