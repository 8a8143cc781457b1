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
  it('the torrent list shows name, size, progress bar, rates, ETA, ratio, peers by family and state, each figure labelled', () => {
    const out = frame(fixedState(), width, height);
    fits(out, width, height);
    expect(out).toContain(UBUNTU.name);
    expect(out).toContain(DEBIAN.name);
    expect(out).toMatch(/█+[▏▎▍▌▋▊▉]?·+/); // a part-filled bar
    expect(out).toContain('45.2%');
    expect(out).toContain('12.5M/s');
    expect(out).toContain('44s');
    expect(out).toContain('0.09');
    if (width >= 120) {
      expect(out).toMatch(/IPv4\/IPv6 +Seeds/);
      expect(out).toMatch(/ 1\/3 /);
    } else {
      // Narrow rows say what each figure is: no bare "r 0.09" or "v4/v6 1/3".
      expect(out).toMatch(/45\.2% of 1\.0G +↓12\.5M\/s ↑ 640K\/s +eta 44s +ratio 0\.09 peers 4/);
      expect(out).not.toMatch(/ r \d|v4\/v6/);
    }
    expect(out).toMatch(/peers: IPv4 1, IPv6 3/); // the header, in words
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
    expect(out).toMatch(/D-E- out/); // downloading, encrypted, over TCP, we dialed
    expect(out).toMatch(/DU-T in/); // both ways, over uTP, it dialed us
    expect(out).toMatch(/D--H out/); // over uTP, opened by a holepunch (BEP 55)
    expect(out).toMatch(/d--- out/); // interested, choked by it
    expect(out).toMatch(/ man(ual)?$/m); // learned from --peer
    expect(out).toMatch(/ pex\b/);
  });

  it('details: the web seeds after the peers, with state, family, rate and failures', () => {
    const out = frame(keys(fixedState(), { return: true }), width, height);
    fits(out, width, height);
    expect(out).toContain('Web seeds — 2');
    expect(out.indexOf('IPv4 — 1 peer')).toBeLessThan(out.indexOf('Web seeds — 2'));
    // A long URL keeps both ends.
    expect(out).toMatch(/https:\/\/m\S*…\S*ubuntu\/ +downloading v6 +2\.0M\/s +120M in all/);
    expect(out).toMatch(/http:\/\/ol\S*seed\.php +waiting 31s +0B\/s +3 failed: busy \(HTTP 503/);
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
    // Availability as shades (1, 2-3, 2-3, 4-9 peers; the sixteenth cell nobody's), said by the legend.
    expect(out).toMatch(/ (░▒▒▓){3}░▒▒·/);
    expect(out).toMatch(/Availability, peers that have them: · none ░ 1 ▒ 2-3 ▓ 4-9 █ 10\+/);
  });

  it('the network panel: addresses with their class, reached from outside per family, the DHT, LSD, the tunnel', () => {
    const out = frame(keys(fixedState(), 'n'), width, height);
    fits(out, width, height);
    expect(out).toMatch(/IPv6 fd00::2 +ULA/);
    expect(out).toMatch(/IPv6 fe80::1 +link-local/);
    expect(out).toMatch(/IPv6 2001:db8:77::1 +tunnel \(ours\) .*advertised/);
    expect(out).toMatch(/IPv4 192\.0\.2\.2 +documentation range/);
    expect(out).toMatch(/IPv6 ✓ yes, last from \[2001:db8::7\]:50000/);
    expect(out).toMatch(/IPv4 ✗ not yet/);
    expect(out).toMatch(/Tunnel up via 198\.51\.100\.1:3653, tun mode/);
    expect(out).toMatch(/TUN mode: root and \/dev\/net\/tun are available/);
    expect(out).toMatch(/prefix 2001:db8:77::\/64 .*since 12m05s .*reconnects 1/);
    expect(out).toMatch(/Listening IPv6 \[::\]:6881 +IPv4 0\.0\.0\.0:6881 +TCP and uTP/);
    expect(out).toMatch(/DHT IPv4 node on 0\.0\.0\.0:6881, 143 nodes known, 7 lookups done/);
    expect(out).toMatch(/LSD on eth0 \(IPv4\) and eth0 \(IPv6\): sent 12, heard 3 \(1 for our/);
  });

  it('the log shows every message with its time and level, wrapped, not cut', () => {
    let s = fixedState();
    const long = `no DHT node answered: check the bootstrap nodes and that UDP is not blocked; ${'x'.repeat(150)} the end`;
    s = update(s, { type: 'message', kind: 'warning', text: long }).state;
    s = update(s, { type: 'message', kind: 'error', text: 'cannot write /media/usb: read-only file system' }).state;
    s = update(s, { type: 'message', kind: 'info', text: 'added ubuntu' }).state;
    // On the message line: the latest, cut with a pointer to the log when it does not fit.
    const warned = update(fixedState(), { type: 'message', kind: 'warning', text: long }).state;
    const line = frame(warned, width, height).split('\n').find((l) => l.startsWith('! warning: no DHT'))!;
    expect(line).toMatch(/\(l: log\)$/);
    const out = frame(keys(s, 'l'), width, height);
    fits(out, width, height);
    expect(out).toContain('Log: 3 messages of this run');
    expect(out).toMatch(/\d\d:\d\d:\d\d ! warning no DHT node answered/);
    expect(out).toMatch(/\d\d:\d\d:\d\d ✗ error   cannot write \/media\/usb/);
    expect(out).toMatch(/\d\d:\d\d:\d\d · info    added ubuntu/);
    expect(out).toContain('the end'); // wrapped, all of it
  });

  it('the rate limits dialog, and the limits shown where the rates are', () => {
    const limited = { ...fixedState(), snapshot: { ...fixedState().snapshot, engine: { ...fixedState().snapshot.engine, limits: { down: 2 * 1024 * 1024, up: 512 * 1024 } } } };
    const s = update(limited, { type: 'snapshot', snapshot: { ...limited.snapshot, torrents: limited.snapshot.torrents.map((t) => ({ ...t, maxDown: 2 * 1024 * 1024, maxUp: 512 * 1024 })) } }).state;
    expect(frame(s, width, height)).toMatch(/↓ 12\.5M\/s of 2\.0M\/s ↑ 640K\/s of 512K\/s/);
    expect(frame(keys(s, { return: true }), width, height)).toMatch(/\d pieces · ↓ 12\.5M\/s of 2\.0M\/s ↑ 640K\/s of 512K\/s/);
    const dialog = frame(keys(s, 't'), width, height);
    fits(dialog, width, height);
    expect(dialog).toMatch(/Rate limits, all torrents together/);
    expect(dialog).toMatch(/download at most +2M/);
    expect(dialog).toMatch(/upload at most +512K/);
  });

  it('the help overlay lists every key', () => {
    const out = frame(keys(fixedState(), '?'), width, height);
    fits(out, width, height);
    for (const k of KEYS) expect(out).toContain(k.what.slice(0, Math.min(k.what.length, width - 30)));
    expect(out).toContain('Peer flags');
    expect(out).toContain('Press any key to close'); // all of it, at 80x24 too
  });

  it('the list sorted and filtered says so, and shows only what matches', () => {
    const sorted = keys(fixedState(), 's', 's');
    expect(sorted.sort).toBe('progress');
    const out = frame(sorted, width, height);
    fits(out, width, height);
    expect(out).toMatch(/sorted by progress/);
    expect(out.indexOf(DEBIAN.name)).toBeLessThan(out.indexOf(UBUNTU.name));
    const filtered = keys(fixedState(), '/', 'deb');
    const shown = frame(filtered, width, height);
    expect(shown).toContain(DEBIAN.name);
    expect(shown).not.toContain(UBUNTU.name);
    expect(shown).toMatch(/filter "deb": 1 of 3/);
    expect(shown).toMatch(/filter: deb/);
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
  it('the availability heat map: a colour per band, and with NO_COLOR the shades alone', () => {
    const pieces = keys(fixedState(), { return: true }, '4');
    const coloured = frame(pieces, 80, 24, COLOUR, true);
    const row = coloured.split('\n').find((l) => l.replace(ANSI, '').startsWith('  ░▒▒▓'))!;
    // red for one peer, yellow for two or three, green for four to nine, bright red for nobody
    expect(row).toMatch(/\x1b\[31m░/);
    expect(row).toMatch(/\x1b\[33m▒▒/);
    expect(row).toMatch(/\x1b\[32m▓/);
    expect(row).toMatch(/\x1b\[91m·/);
    const plain = frame(pieces, 80, 24, PLAIN, true);
    expect(plain).not.toMatch(COLOUR_CODE);
    expect(plain.replace(ANSI, '')).toMatch(/ (░▒▒▓){3}░▒▒·/);
  });

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
    expect(wide).toMatch(/IPv4\/IPv6 +Seeds/);
    const detail = frame(keys(fixedState(), { return: true }), 160, 40);
    const line = detail.split('\n').find((l) => l.includes('IPv6 — 2 peers'))!;
    expect(line).toMatch(/IPv6 — 2 peers +✓ /); // a tracker row on the same line
    // Beside the trackers the peers have half the width: where each was learned is in words, not "tra"/"inc".
    expect(detail).toMatch(/Learned/);
    expect(detail).toMatch(/ out manual *$/m);
  });

  it('a private torrent says why it holepunches nobody', async () => {
    const { PRIVATE_REASON } = await import('../../src/ext/ut-holepunch/index.js');
    const { SNAPSHOT } = await import('../support/ui-fixtures.js');
    const holepunch = { partners: 0, rendezvousIn: 0, relayed: 0, errorsSent: 0, relayLimited: 0, rendezvousOut: 0, errorsIn: {}, connectsIn: 0, punches: 0, connectsRefused: 0, off: PRIVATE_REASON };
    const torrents = SNAPSHOT.torrents.map((t) => (t.infoHash === UBUNTU.infoHash ? { ...t, holepunch } : t));
    const s = update(fixedState(), { type: 'snapshot', snapshot: { ...SNAPSHOT, torrents, at: Date.now() } }).state;
    expect(frame(keys(s, { return: true }), 160, 40)).toMatch(/^ubuntu-24\.04-desktop-amd64\.iso downloading · no holepunch \(private torrent\)$/m);
  });

  it('a long title (the session folder) is cut in the middle, keeping its end, and takes the room there is', () => {
    const s = { ...fixedState(), title: 'session /tmp/cerulean-long-folder-name-for-the-test/sessions/mine' };
    const narrow = frame(s, 80, 24).split('\n')[0]!;
    expect(narrow).toMatch(/…/);
    expect(narrow).toMatch(/mine · 3 torrents/);
    const wide = frame(s, 160, 40).split('\n')[0]!;
    expect(wide).toContain('session /tmp/cerulean-long-folder-name-for-the-test/sessions/mine · 3 torrents');
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
