/** The UI's reducer on its own: snapshots, history, selection, keys and the commands they make. */
import { describe, expect, it } from 'vitest';
import { HISTORY_SAMPLES, INFO_MESSAGE_MS, initialState, update, type Action, type UiState } from '../../cli/ui/state.js';
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
