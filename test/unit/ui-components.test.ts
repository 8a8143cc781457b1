/**
 * The terminal UI's components, rendered with ink-testing-library from fixed state: every panel
 * at 80x24 and on a wide terminal, what each must show, that nothing runs past the screen, and
 * that NO_COLOR leaves no colour codes (while the characters still say what colour would).
 */
import { describe, expect, it, vi } from 'vitest';

// ink's colours come from chalk, which decides at import whether the output takes colour: force it,
// so that "no colour" below is the theme's doing and not the test runner's pipe.
vi.hoisted(() => {
  process.env.FORCE_COLOR = '3';
});

const { render } = await import('ink-testing-library');
const { createElement } = await import('react');
const { App } = await import('../../cli/ui/app.js');
const { themeFor } = await import('../../cli/ui/theme.js');
const { update } = await import('../../cli/ui/state.js');
const { KEYS } = await import('../../cli/ui/help-overlay.js');
const { brailleChart } = await import('../../cli/ui/rate-chart.js');
const { fixedState, UBUNTU, BROKEN, DEBIAN } = await import('../support/ui-fixtures.js');
type UiState = import('../../cli/ui/state.js').UiState;

const COLOUR = themeFor({});
const PLAIN = themeFor({ NO_COLOR: '1' });
// SGR foreground / background colour codes (30-37, 38;..., 40-47, 48;..., 90-97, 100-107).
const COLOUR_CODE = /\x1b\[(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])[;m]/;
const ANSI = /\x1b\[[0-9;]*m/g;

/** The frame as text (attributes such as bold stripped); `raw` keeps the escape codes. */
function frame(state: UiState, width: number, height: number, theme = PLAIN, raw = false): string {
  const el = () => createElement(App, { state, width, height, theme });
  const r = render(el());
  // ink-testing-library's terminal is 100 columns; the UI is laid out for `width`, so ink must be too.
  Object.defineProperty(r.stdout, 'columns', { value: width, configurable: true });
  r.rerender(el());
  const out = r.lastFrame() ?? '';
  r.unmount();
  return raw ? out : out.replace(ANSI, '');
}

function keys(state: UiState, ...presses: (string | Record<string, boolean>)[]): UiState {
  let s = state;
  for (const p of presses) s = update(s, typeof p === 'string' ? { type: 'key', input: p, key: {} } : { type: 'key', input: '', key: p }).state;
  return s;
}

/** Every line within `width` columns, and fewer lines than the terminal has rows. */
function fits(out: string, width: number, height: number): void {
  const lines = out.replace(ANSI, '').split('\n');
  expect(lines.length).toBeLessThanOrEqual(height - 1);
  for (const l of lines) expect([...l].length, l).toBeLessThanOrEqual(width);
}

const SIZES = [
  [80, 24],
  [160, 40],
] as const;

describe.each(SIZES)('at %ix%i', (width, height) => {
  it('the torrent list shows name, size, progress bar, rates, ETA, ratio, peers v4/v6 and state', () => {
    const out = frame(fixedState(), width, height);
    fits(out, width, height);
    expect(out).toContain(UBUNTU.name);
    expect(out).toContain(DEBIAN.name);
    expect(out).toMatch(/█+[▏▎▍▌▋▊▉]?·+/); // a part-filled bar
    expect(out).toContain('45.2%');
    expect(out).toContain('12.5M/s');
    expect(out).toContain('44s');
    expect(out).toContain('0.09');
    expect(out).toMatch(width >= 120 ? /1\/3/ : /v4\/v6 1\/3/);
    for (const state of ['downloading', 'paused', 'error']) expect(out).toContain(state);
    expect(out).toMatch(/^> ubuntu/m); // the selection
  });

  it('an error is shown in place with what to do next', () => {
    const s = keys(fixedState(), { downArrow: true }, { downArrow: true });
    const out = frame(s, width, height);
    fits(out, width, height);
    expect(out).toContain('✗');
    expect(out).toMatch(/no space left on device; free some space/);
    expect(s.selected).toBe(BROKEN.infoHash);
  });

  it('details: rate history chart, peers split into IPv6, the tunnel and IPv4 with flags and where they were learned', () => {
    const out = frame(keys(fixedState(), { return: true }), width, height);
    fits(out, width, height);
    expect(out).toMatch(/↓ \S+\/s +[⠀-⣿]+/);
    expect(out).toMatch(/↑ \S+\/s +[⠀-⣿]+/);
    expect(out).toMatch(/[⡀-⣿]/); // dots are drawn, not only blank braille
    expect(out).toContain('IPv6 — 2 peers');
    expect(out).toContain('IPv6 via tunnel — 1 peer');
    expect(out).toContain('IPv4 — 1 peer');
    expect(out.indexOf('IPv6 — 2 peers')).toBeLessThan(out.indexOf('IPv4 — 1 peer'));
    expect(out).toContain('[2001:db8::7]:6881');
    expect(out).toContain('198.51.100.20:6881');
    expect(out).toMatch(/D-E out/); // downloading, encrypted, we dialed
    expect(out).toMatch(/DU- in/); // both ways, it dialed us
    expect(out).toMatch(/d-- out/); // interested, choked by it
    expect(out).toMatch(/ man(ual)?$/m); // learned from --peer
    expect(out).toMatch(/ pex\b/);
  });

  it('details: the web seeds after the peers, with state, family, rate and failures', () => {
    const out = frame(keys(fixedState(), { return: true }), width, height);
    fits(out, width, height);
    expect(out).toContain('Web seeds — 2');
    expect(out.indexOf('IPv4 — 1 peer')).toBeLessThan(out.indexOf('Web seeds — 2'));
    // A long URL keeps both ends.
    expect(out).toMatch(/https:\/\/mirro\S*…\S*ubuntu\/ +downloading v6 +2\.0M\/s +120M in all/);
    expect(out).toMatch(/http:\/\/old\S*seed\.php +waiting 31s +0B\/s +3 failed: busy \(HTTP 503/);
  });

  it('details: trackers, one row per family, with the error text of the failing one', () => {
    const out = frame(keys(fixedState(), { return: true }, '2'), width, height);
    fits(out, width, height);
    expect(out).toMatch(/✓ udp:\/\/tracker\.example:6969\/announce +IPv6 +12s ago +0\/3 +in 29m48s/);
    expect(out).toMatch(/✗ udp:\/\/tracker\.example:6969\/announce +IPv4 +12s ago: connection refused/);
    expect(out).toMatch(/IPv6 +5m00s ago +1\/2/);
  });

  it('details: files with progress', () => {
    const out = frame(keys(fixedState(), { return: true }, '3'), width, height);
    fits(out, width, height);
    expect(out).toMatch(/ubuntu-24\.04-desktop-amd64\.iso +990M +█+[▏▎▍▌▋▊▉]?·+ +45\.\d%/);
    expect(out).toMatch(/SHA256SUMS +10\.0M +█+ +100%/);
  });

  it('details: the piece map and availability', () => {
    const out = frame(keys(fixedState(), { return: true }, '4'), width, height);
    fits(out, width, height);
    expect(out).toContain('Pieces: 452 of 1000 verified');
    expect(out).toMatch(/ █{28}▒·{35}/);
    expect(out).toMatch(/ 1234123412341234?·?/);
  });

  it('the network panel: addresses with their class, reached from outside per family, the tunnel', () => {
    const out = frame(keys(fixedState(), 'n'), width, height);
    fits(out, width, height);
    expect(out).toMatch(/IPv6 fd00::2 +ULA/);
    expect(out).toMatch(/IPv6 fe80::1 +link-local/);
    expect(out).toMatch(/IPv6 2001:db8:77::1 +tunnel \(ours\) .*advertised/);
    expect(out).toMatch(/IPv4 192\.0\.2\.2 +documentation range/);
    expect(out).toMatch(/IPv6 ✓ yes, last from \[2001:db8::7\]:50000/);
    expect(out).toMatch(/IPv4 ✗ not yet/);
    expect(out).toMatch(/Tunnel up via 198\.51\.100\.1:3653/);
    expect(out).toMatch(/prefix 2001:db8:77::\/64 .*since 12m05s .*reconnects 1/);
    expect(out).toMatch(/Listening IPv6 \[::\]:6881 +IPv4 0\.0\.0\.0:6881/);
    expect(out).toMatch(/DHT IPv4 node on 0\.0\.0\.0:6881, 143 nodes known, 7 lookups done/);
  });

  it('the help overlay lists every key', () => {
    const out = frame(keys(fixedState(), '?'), width, height);
    fits(out, width, height);
    for (const k of KEYS) expect(out).toContain(k.what.slice(0, Math.min(k.what.length, width - 30)));
    expect(out).toContain('Peer flags');
  });

  it('the add prompt shows what is typed, and a refusal in place', () => {
    let s = keys(fixedState(), 'a', 'm', 'a', 'g');
    expect(frame(s, width, height)).toMatch(/Add a torrent[\s\S]*mag /);
    s = update(s, { type: 'add-failed', error: 'no such torrent file: "mag"' }).state;
    const out = frame(s, width, height);
    fits(out, width, height);
    expect(out).toContain('✗ no such torrent file: "mag"');
    expect(out).toContain(UBUNTU.name); // the list stays above the prompt
  });

  it('removing asks first: keep the data, or delete its files', () => {
    const out = frame(keys(fixedState(), 'd'), width, height);
    fits(out, width, height);
    expect(out).toContain(`Remove "${UBUNTU.name}" from the session?`);
    expect(out).toMatch(/k +remove it, keep the data/);
    expect(out).toMatch(/D +remove it and delete its files/);
  });
});

describe('colour', () => {
  it('is used by default and not at all with NO_COLOR, while bars and marks still show', () => {
    for (const s of [fixedState(), keys(fixedState(), { return: true }), keys(fixedState(), { return: true }, '2'), keys(fixedState(), 'n')]) {
      expect(frame(s, 80, 24, COLOUR, true)).toMatch(COLOUR_CODE);
      const plain = frame(s, 80, 24, PLAIN, true);
      expect(plain).not.toMatch(COLOUR_CODE);
      expect(plain).toMatch(/[█✓✗⣿]|IPv/);
    }
  });

  it('themeFor follows NO_COLOR (set and non-empty)', () => {
    expect(themeFor({ NO_COLOR: '1' })).toEqual({});
    expect(themeFor({ NO_COLOR: '' }).down).toBeTruthy();
    expect(themeFor({}).down).toBeTruthy();
  });
});

describe('layout', () => {
  it('uses a wide terminal: one line per torrent with more columns, peers beside trackers', () => {
    const narrow = frame(fixedState(), 80, 24);
    const wide = frame(fixedState(), 160, 40);
    expect(narrow).not.toContain('Seeds');
    expect(wide).toMatch(/Peers 4\/6 +Seeds/);
    const detail = frame(keys(fixedState(), { return: true }), 160, 40);
    const line = detail.split('\n').find((l) => l.includes('IPv6 — 2 peers'))!;
    expect(line).toMatch(/IPv6 — 2 peers +✓ /); // a tracker row on the same line
  });

  it('a resize redraws for the new size', () => {
    const s = fixedState();
    const el = (w: number) => createElement(App, { state: s, width: w, height: 30, theme: PLAIN });
    const r = render(el(80));
    Object.defineProperty(r.stdout, 'columns', { value: 80, configurable: true });
    r.rerender(el(80));
    expect(r.lastFrame()!.replace(ANSI, '')).not.toContain('Seeds');
    Object.defineProperty(r.stdout, 'columns', { value: 150, configurable: true });
    r.rerender(el(150));
    expect(r.lastFrame()!.replace(ANSI, '')).toMatch(/Seeds/);
    r.unmount();
  });

  it('fits a very small terminal without running past it', () => {
    fits(frame(keys(fixedState(), { return: true }), 40, 10), 40, 10);
  });
});

describe('braille chart', () => {
  it('draws the newest sample at the right edge, scaled to the maximum', () => {
    const [top, bottom] = brailleChart([0, 4, 8], 2, 2, 8);
    // 4 columns of samples: 0, 0, 4, 8 -> left cell empty, right cell half (left dots) and full (right dots).
    expect(top).toBe('⠀⢸');
    expect(bottom).toBe('⠀⣿');
    expect(brailleChart([], 3, 1, 0)).toEqual(['⠀⠀⠀']);
    // any rate above zero shows at least one dot
    expect(brailleChart([1], 1, 1, 1000)[0]).toBe('⢀');
  });
});
