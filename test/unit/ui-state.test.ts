/** The UI's reducer on its own: snapshots, history, selection, keys and the commands they make. */
import { describe, expect, it } from 'vitest';
import { HISTORY_SAMPLES, INFO_MESSAGE_MS, initialState, limitText, LOG_MESSAGES, SORTS, update, visibleTorrents, type Action, type UiState } from '../../cli/ui/state.js';
import { ALL, BROKEN, DEBIAN, fixedState, NOW, SNAPSHOT, UBUNTU } from '../support/ui-fixtures.js';

const key = (input: string, k: Record<string, boolean> = {}): Action => ({ type: 'key', input, key: k });

function press(s: UiState, ...actions: Action[]) {
  let state = s;
  let command;
  for (const a of actions) ({ state, command } = update(state, a));
  return { state, command };
}

describe('snapshots', () => {
  it('keep one rate sample per second per torrent, at most HISTORY_SAMPLES', () => {
    let s = initialState('t', ALL);
    for (let i = 0; i < HISTORY_SAMPLES + 20; i++) {
      s = update(s, { type: 'snapshot', snapshot: { ...SNAPSHOT, torrents: [{ ...UBUNTU, downRate: i, upRate: 2 * i }], at: NOW + i * 1000 } }).state;
      // a refresh in between (a command finished) takes no sample
      s = update(s, { type: 'snapshot', snapshot: { ...SNAPSHOT, torrents: [{ ...UBUNTU, downRate: -1, upRate: -1 }], at: NOW + i * 1000 + 300 } }).state;
    }
    const h = s.history[UBUNTU.infoHash]!;
    expect(h.down).toHaveLength(HISTORY_SAMPLES);
    expect(h.down.at(-1)).toBe(HISTORY_SAMPLES + 19);
    expect(h.up.at(-1)).toBe(2 * (HISTORY_SAMPLES + 19));
    expect(h.down).not.toContain(-1);
  });

  it('select the first torrent, keep a selection that stays, and forget torrents that went', () => {
    let s = fixedState();
    expect(s.selected).toBe(UBUNTU.infoHash);
    s = press(s, key('', { downArrow: true }), key('', { return: true })).state;
    expect(s.selected).toBe(DEBIAN.infoHash);
    expect(s.view).toBe('detail');
    s = update(s, { type: 'snapshot', snapshot: { ...SNAPSHOT, torrents: [UBUNTU, DEBIAN], at: NOW + 1000 } }).state;
    expect(s.selected).toBe(DEBIAN.infoHash);
    s = update(s, { type: 'snapshot', snapshot: { ...SNAPSHOT, torrents: [], at: NOW + 2000 } }).state;
    expect(s.selected).toBeUndefined();
    expect(s.view).toBe('list'); // its details closed with it
    expect(Object.keys(s.history)).toEqual([]);
  });

  it('let info messages expire and keep errors until a key is pressed', () => {
    let s = update(fixedState(), { type: 'message', kind: 'info', text: 'added x' }).state;
    s = update(s, { type: 'snapshot', snapshot: { ...SNAPSHOT, at: NOW + INFO_MESSAGE_MS + 1 } }).state;
    expect(s.message).toBeUndefined();
    s = update(s, { type: 'message', kind: 'error', text: 'boom; do this' }).state;
    s = update(s, { type: 'snapshot', snapshot: { ...SNAPSHOT, at: NOW + 10 * INFO_MESSAGE_MS } }).state;
    expect(s.message?.text).toBe('boom; do this');
    s = update(s, key('j')).state;
    expect(s.message).toBeUndefined();
  });
});

describe('keys', () => {
  it('q and Ctrl-C quit, from anywhere (Ctrl-C even from the prompt)', () => {
    expect(update(fixedState(), key('q')).command).toEqual({ kind: 'quit' });
    const prompt = update(fixedState(), key('a')).state;
    expect(update(prompt, key('q')).command).toBeUndefined(); // q is text there
    const quitting = update(prompt, key('c', { ctrl: true }));
    expect(quitting.command).toEqual({ kind: 'quit' });
    // While quitting, keys do nothing but a second Ctrl-C, which does not wait.
    expect(update(quitting.state, key('p')).command).toBeUndefined();
    expect(update(quitting.state, key('q')).command).toBeUndefined();
    expect(update(quitting.state, key('c', { ctrl: true })).command).toEqual({ kind: 'quit', now: true });
  });

  it('p, r, space and c ask the engine about the selected torrent', () => {
    const s = fixedState();
    expect(update(s, key('p')).command).toEqual({ kind: 'pause', infoHash: UBUNTU.infoHash });
    expect(update(s, key('r')).command).toEqual({ kind: 'resume', infoHash: UBUNTU.infoHash });
    expect(update(s, key(' ')).command).toEqual({ kind: 'pause', infoHash: UBUNTU.infoHash });
    const paused = update(s, key('j')).state;
    expect(update(paused, key(' ')).command).toEqual({ kind: 'resume', infoHash: DEBIAN.infoHash });
    expect(update(s, key('c')).command).toEqual({ kind: 'recheck', infoHash: UBUNTU.infoHash });
  });

  it('d asks first: k keeps the data, D deletes it, Esc keeps the torrent; Backspace never removes', () => {
    const asked = update(fixedState(), key('d'));
    expect(asked.command).toBeUndefined();
    expect(asked.state.overlay).toEqual({ kind: 'confirm-remove', infoHash: UBUNTU.infoHash, name: UBUNTU.name });
    expect(update(asked.state, key('k')).command).toEqual({ kind: 'remove', infoHash: UBUNTU.infoHash, deleteData: false });
    expect(update(asked.state, key('D')).command).toEqual({ kind: 'remove', infoHash: UBUNTU.infoHash, deleteData: true });
    const kept = update(asked.state, key('', { escape: true }));
    expect(kept.command).toBeUndefined();
    expect(kept.state.overlay).toBeUndefined();
    expect(update(asked.state, key('x')).state.overlay?.kind).toBe('confirm-remove'); // other keys do nothing
    expect(update(fixedState(), key('', { delete: true })).state.overlay).toBeUndefined();
  });

  it('a opens the prompt; typing, pasting, Backspace, Ctrl-U edit it; Enter adds and waits; a refusal is shown in it', () => {
    let { state } = press(fixedState(), key('a'), key('/tmp/x'), key('.torrentZ'), key('', { delete: true }));
    expect(state.overlay).toMatchObject({ kind: 'prompt', text: '/tmp/x.torrent' });
    const submitted = update(state, key('', { return: true }));
    // Keys typed fast come as one chunk, Enter included: the same as typing then Enter.
    expect(update(update(fixedState(), key('a')).state, key('/tmp/x.torrent\r')).command).toEqual({ kind: 'add', input: '/tmp/x.torrent' });
    expect(submitted.command).toEqual({ kind: 'add', input: '/tmp/x.torrent' });
    expect(submitted.state.overlay).toMatchObject({ busy: true });
    expect(update(submitted.state, key('', { return: true })).command).toBeUndefined(); // no second add while waiting
    state = update(submitted.state, { type: 'add-failed', error: 'no such torrent file' }).state;
    expect(state.overlay).toMatchObject({ kind: 'prompt', busy: false, error: 'no such torrent file', text: '/tmp/x.torrent' });
    expect(update(state, key('\x15/b\x01c')).state.overlay).toMatchObject({ text: '/bc' }); // Ctrl-U and text in one chunk
    state = update(state, key('u', { ctrl: true })).state;
    expect(state.overlay).toMatchObject({ text: '' });
    expect(update(state, key('', { return: true })).command).toBeUndefined(); // empty: says what to type
    expect(update(state, key('', { return: true })).state.overlay).toMatchObject({ error: expect.stringMatching(/\.torrent file or a magnet link/) });
    state = update(submitted.state, { type: 'added', name: 'x' }).state;
    expect(state.overlay).toBeUndefined();
    expect(state.message).toMatchObject({ kind: 'info', text: 'added x' });
    expect(update(update(fixedState(), key('a')).state, key('', { escape: true })).state.overlay).toBeUndefined();
  });

  it('without a session, the session keys say what to do instead', () => {
    const s = fixedState([]);
    for (const k of ['a', 'p', 'r', 'c', 'd', ' ']) {
      const u = update(s, key(k));
      expect(u.command).toBeUndefined();
      expect(u.state.overlay).toBeUndefined();
      expect(u.state.message).toMatchObject({ kind: 'error', text: expect.stringMatching(/needs a session: quit \(q\) and run `sixswarm ui`/) });
    }
  });

  it('with no torrent, the torrent keys say to add one', () => {
    const s = initialState('t', ALL, { ...SNAPSHOT, torrents: [] });
    expect(update(s, key('p')).state.message?.text).toMatch(/add one first \(a\)/);
    expect(update(s, key('', { return: true })).state.view).toBe('list');
  });

  it('arrows move the selection in the list and scroll in details; tabs by number and Tab; n and Esc switch views', () => {
    let s = press(fixedState(), key('', { downArrow: true }), key('', { downArrow: true }), key('', { downArrow: true })).state;
    expect(s.selected).toBe(BROKEN.infoHash); // stops at the end
    s = press(s, key('', { upArrow: true }), key('k')).state;
    expect(s.selected).toBe(UBUNTU.infoHash);
    s = press(s, key('', { return: true }), key('j'), key('j')).state;
    expect(s).toMatchObject({ view: 'detail', scroll: 2, selected: UBUNTU.infoHash });
    s = press(s, key('3')).state;
    expect(s).toMatchObject({ tab: 'files', scroll: 0 });
    s = press(s, key('', { tab: true })).state;
    expect(s.tab).toBe('pieces');
    s = press(s, key('', { tab: true })).state;
    expect(s.tab).toBe('peers');
    s = press(s, key('', { tab: true, shift: true })).state;
    expect(s.tab).toBe('pieces');
    // Esc and p typed fast come as one chunk (read as Alt+p): back to the list, then pause.
    const fast = update(press(s, key('', { return: true })).state, key('p', { meta: true }));
    expect(fast.state.view).toBe('list');
    expect(fast.command).toEqual({ kind: 'pause', infoHash: UBUNTU.infoHash });
    s = press(s, key('n')).state;
    expect(s.view).toBe('network');
    s = press(s, key('', { escape: true })).state;
    expect(s.view).toBe('list');
    s = press(s, key('?')).state;
    expect(s.overlay).toEqual({ kind: 'help' });
    expect(press(s, key('z')).state.overlay).toBeUndefined();
  });
});

describe('everyday controls', () => {
  it('s sorts by the next figure and S reverses it; the selection follows the list as shown', () => {
    let s = fixedState();
    expect(visibleTorrents(s).map((t) => t.name)).toEqual([UBUNTU.name, DEBIAN.name, BROKEN.name]);
    s = press(s, key('s')).state;
    expect(s.sort).toBe('name');
    expect(visibleTorrents(s).map((t) => t.name)).toEqual([BROKEN.name, DEBIAN.name, UBUNTU.name]);
    s = press(s, key('s'), key('s')).state;
    expect(s.sort).toBe('down');
    expect(visibleTorrents(s)[0]!.name).toBe(UBUNTU.name);
    s = press(s, key('S')).state;
    expect(s.reversed).toBe(true);
    expect(visibleTorrents(s).at(-1)!.name).toBe(UBUNTU.name);
    // Moving down goes down the list as shown, not as added.
    s = press(s, key('', { home: true }), key('j')).state;
    expect(s.selected).toBe(visibleTorrents(s)[1]!.infoHash);
    // Every order, then back to the first.
    let t = fixedState();
    for (let i = 0; i < SORTS.length; i++) t = press(t, key('s')).state;
    expect(t.sort).toBe('added');
  });

  it('keys typed fast come as one chunk: each goes where the one before led (a and a path, / and a filter)', () => {
    const added = update(fixedState(), key('a/tmp/x.torrent\r'));
    expect(added.command).toEqual({ kind: 'add', input: '/tmp/x.torrent' });
    const filtered = update(fixedState(), key('/deb'));
    expect(filtered.state.filter).toBe('deb');
    expect(update(fixedState(), key('jp')).command).toEqual({ kind: 'pause', infoHash: DEBIAN.infoHash });
  });

  it('/ filters by name or state as it is typed; Enter keeps it, Esc clears it; the keys act on what is shown', () => {
    let s = press(fixedState(), key('/'), key('deb')).state;
    expect(s.overlay).toEqual({ kind: 'filter' });
    expect(visibleTorrents(s).map((t) => t.name)).toEqual([DEBIAN.name]);
    expect(s.selected).toBe(DEBIAN.infoHash); // the selection moves to what is shown
    s = press(s, key('', { return: true })).state;
    expect(s.overlay).toBeUndefined();
    expect(s.filter).toBe('deb');
    expect(update(s, key('p')).command).toEqual({ kind: 'pause', infoHash: DEBIAN.infoHash });
    // By state too; nothing matching: the torrent keys say why nothing is selected.
    s = press(s, key('/'), key('u', { ctrl: true }), key('nothing-like-it'), key('', { return: true })).state;
    expect(visibleTorrents(s)).toEqual([]);
    expect(update(s, key('p')).state.message?.text).toMatch(/the filter hides them all/);
    s = press(s, key('/'), key('u', { ctrl: true }), key('error'), key('', { return: true })).state;
    expect(visibleTorrents(s).map((t) => t.name)).toEqual([BROKEN.name]);
    s = press(s, key('/'), key('', { escape: true })).state;
    expect(s.filter).toBe('');
    expect(visibleTorrents(s)).toHaveLength(3);
  });

  it('t opens the rate limits with the ones in force; Enter sets them (empty: none), a bad one is refused in place', () => {
    const limited = { ...fixedState(), snapshot: { ...fixedState().snapshot, engine: { ...fixedState().snapshot.engine, limits: { down: 2 * 1024 * 1024, up: null } } } };
    let s = press(limited, key('t')).state;
    expect(s.overlay).toEqual({ kind: 'limits', down: '2M', up: '', field: 'down', busy: false });
    s = press(s, key('', { backspace: true }), key('', { backspace: true }), key('500k'), key('', { tab: true }), key('1.5M')).state;
    expect(s.overlay).toMatchObject({ down: '500k', up: '1.5M', field: 'up' });
    const set = update(s, key('', { return: true }));
    expect(set.command).toEqual({ kind: 'limits', down: 500 * 1024, up: 1.5 * 1024 * 1024 });
    expect(set.state.overlay).toMatchObject({ busy: true });
    const done = update(set.state, { type: 'limits-set', text: 'rate limits for this run: down 500 KiB/s, up 1.5 MiB/s' }).state;
    expect(done.overlay).toBeUndefined();
    expect(done.message?.text).toMatch(/^rate limits for this run/);
    // Cleared: no limit.
    s = press(limited, key('t'), key('u', { ctrl: true })).state;
    expect(update(s, key('', { return: true })).command).toEqual({ kind: 'limits', down: null, up: null });
    // A bad value: said in the dialog, nothing sent.
    s = press(limited, key('t'), key('u', { ctrl: true }), key('fast')).state;
    const bad = update(s, key('', { return: true }));
    expect(bad.command).toBeUndefined();
    expect(bad.state.overlay).toMatchObject({ kind: 'limits', error: expect.stringMatching(/download limit must be a rate such as 500k, 2M/) });
    expect(update(bad.state, key('', { escape: true })).state.overlay).toBeUndefined();
    // Where the engine cannot change them (the demo): said so.
    expect(update(fixedState([]), key('t')).state.message?.text).toMatch(/the demo sets its own rate limits/);
    expect(limitText(512 * 1024)).toBe('512K');
    expect(limitText(1536 * 1024)).toBe('1.5M');
    expect(limitText(1000)).toBe('1000');
  });

  it('Tab in the add prompt asks to complete the path; what comes back fills it, and lists the choices', () => {
    let s = press(fixedState(), key('a'), key('/srv/tor')).state;
    const asked = update(s, key('', { tab: true }));
    expect(asked.command).toEqual({ kind: 'complete', text: '/srv/tor' });
    // Typed fast, the text and the Tab come as one chunk: the same.
    expect(update(press(fixedState(), key('a')).state, key('/srv/tor\t')).command).toEqual({ kind: 'complete', text: '/srv/tor' });
    s = update(asked.state, { type: 'completed', input: '/srv/tor', text: '/srv/torrents/', candidates: ['torrents/'] }).state;
    expect(s.overlay).toMatchObject({ kind: 'prompt', text: '/srv/torrents/' });
    expect(s.overlay).not.toHaveProperty('candidates', expect.anything());
    s = update(s, { type: 'completed', input: '/srv/torrents/', text: '/srv/torrents/de', candidates: ['debian.torrent', 'debian-dvd.torrent'] }).state;
    expect(s.overlay).toMatchObject({ text: '/srv/torrents/de', candidates: ['debian.torrent', 'debian-dvd.torrent'] });
    // Typing on drops the list; an answer for text no longer there is ignored.
    s = press(s, key('b')).state;
    expect(s.overlay).toMatchObject({ text: '/srv/torrents/deb', candidates: undefined });
    expect(update(s, { type: 'completed', input: '/srv/old', text: '/srv/older', candidates: ['older'] }).state.overlay).toMatchObject({ text: '/srv/torrents/deb' });
    s = update(s, { type: 'completed', input: '/srv/torrents/deb', text: '/srv/torrents/deb', candidates: [] }).state;
    expect(s.overlay).toMatchObject({ error: 'nothing here starts with that' });
  });

  it('every message goes to the log (l), with its level; warnings stay on the line until a key', () => {
    let s = fixedState();
    s = update(s, { type: 'message', kind: 'warning', text: 'no DHT node answered' }).state;
    s = update(s, { type: 'snapshot', snapshot: { ...SNAPSHOT, at: NOW + 10 * INFO_MESSAGE_MS } }).state;
    expect(s.message).toMatchObject({ kind: 'warning', text: 'no DHT node answered' });
    s = update(s, key('j')).state;
    expect(s.message).toBeUndefined();
    for (let i = 0; i < LOG_MESSAGES + 5; i++) s = update(s, { type: 'message', kind: 'info', text: `note ${i}` }).state;
    expect(s.log).toHaveLength(LOG_MESSAGES);
    expect(s.log.at(-1)?.text).toBe(`note ${LOG_MESSAGES + 4}`);
    s = press(s, key('l')).state;
    expect(s.view).toBe('log');
    s = press(s, key('k'), key('k')).state;
    expect(s.scroll).toBe(2);
    expect(press(s, key('l')).state.view).toBe('list');
  });

  it('in the files tab, choosing files is answered: the engine fixes them at start', () => {
    const s = press(fixedState(), key('', { return: true }), key('3')).state;
    const u = update(s, key(' '));
    expect(u.command).toBeUndefined(); // not a pause there
    expect(u.state.message).toMatchObject({ kind: 'warning', text: expect.stringMatching(/files cannot be chosen or prioritised while a torrent runs.*--select/) });
  });
});
