/**
 * The terminal UI's driver (TerminalUi) on fake terminal streams: it draws at most about ten
 * frames a second however often the state changes, redraws at once on resize, sends the commands
 * keys make to its source and shows what comes back in place, quits through its source, completes
 * paths from the disk, and erases itself on close.
 */
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Command, EngineCommand, UiSnapshot } from '../../cli/ui/state.js';
import { TerminalUi, type UiSource } from '../../cli/ui/terminal-ui.js';
import { completePath } from '../../cli/ui/path-completion.js';
import { ALL, SNAPSHOT } from '../support/ui-fixtures.js';

class FakeStdout extends EventEmitter {
  isTTY = true;
  columns = 80;
  rows = 24;
  written = '';
  write = (s: string) => {
    this.written += s;
    return true;
  };
}

class FakeStdin extends EventEmitter {
  isTTY = true;
  private data: string | null = null;
  type(s: string) {
    this.data = s;
    this.emit('readable');
  }
  read = () => {
    const d = this.data;
    this.data = null;
    return d;
  };
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let ui: TerminalUi | undefined;
afterEach(async () => {
  await ui?.close();
  ui = undefined;
});

function setup(run: (c: EngineCommand) => Promise<string | undefined> = async () => undefined) {
  const stdout = new FakeStdout();
  const stdin = new FakeStdin();
  const calls = { snapshots: 0, commands: [] as Command[], quit: 0 };
  const source: UiSource = {
    title: 'test',
    can: ALL,
    snapshot: (): UiSnapshot => {
      calls.snapshots++;
      return { ...SNAPSHOT, at: Date.now() };
    },
    run: (c) => {
      calls.commands.push(c);
      return run(c);
    },
    quit: () => void calls.quit++,
  };
  ui = new TerminalUi(source, { stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream, env: { NO_COLOR: '1' }, pollMs: 1000, frameMs: 100, patchConsole: false });
  ui.start();
  return { ui, stdout, stdin, calls };
}

describe('terminal UI driver', () => {
  it('draws at most about ten frames a second, however often the state changes', async () => {
    const { ui } = setup();
    const before = ui.frames;
    const end = Date.now() + 1000;
    while (Date.now() < end) {
      ui.message('info', `tick ${Date.now()}`);
      await sleep(2);
    }
    const drawn = ui.frames - before;
    expect(drawn).toBeGreaterThanOrEqual(5); // it keeps up
    expect(drawn).toBeLessThanOrEqual(11);
  });

  it('takes a snapshot every second', async () => {
    const { calls } = setup();
    const first = calls.snapshots;
    await sleep(2200);
    expect(calls.snapshots - first).toBeGreaterThanOrEqual(2);
    expect(calls.snapshots - first).toBeLessThanOrEqual(3);
  });

  it('redraws at once when the terminal is resized', async () => {
    const { ui, stdout } = setup();
    await sleep(300);
    const before = ui.frames;
    stdout.columns = 150;
    stdout.emit('resize');
    expect(ui.frames).toBe(before + 1);
  });

  it('sends the commands keys make (Enter typed along with the text too) and quits through its source', async () => {
    const { stdin, calls } = setup(async (c) => {
      if (c.kind === 'add') throw new Error('no such torrent file: "x"');
      return `paused it`;
    });
    await sleep(150);
    stdin.type('p');
    await sleep(150);
    expect(calls.commands).toEqual([{ kind: 'pause', infoHash: SNAPSHOT.torrents[0]!.infoHash }]);
    stdin.type('a');
    await sleep(50);
    stdin.type('x\r');
    await sleep(250);
    expect(calls.commands[1]).toEqual({ kind: 'add', input: 'x' });
    stdin.type('\x03'); // Ctrl-C, as raw mode delivers it
    await sleep(100);
    expect(calls.quit).toBe(1);
  });
});

describe('path completion (Tab in the add prompt), on real folders', () => {
  it('completes one match, stops where several part, prefers folders and .torrent files, and knows ~', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sixswarm-complete-'));
    try {
      await mkdir(join(root, 'torrents', 'linux'), { recursive: true });
      await writeFile(join(root, 'torrents', 'debian-12.torrent'), 'x');
      await writeFile(join(root, 'torrents', 'debian-dvd.torrent'), 'x');
      await writeFile(join(root, 'torrents', 'debian-notes.txt'), 'x');
      await writeFile(join(root, 'torrents', '.hidden.torrent'), 'x');
      await symlink(join(root, 'torrents', 'linux'), join(root, 'torrents', 'distros'));
      expect(await completePath(join(root, 'tor'))).toEqual({ text: join(root, 'torrents/'), candidates: ['torrents/'] });
      expect(await completePath(join(root, 'torrents', 'deb'))).toEqual({ text: join(root, 'torrents', 'debian-'), candidates: ['debian-12.torrent', 'debian-dvd.torrent'] });
      expect(await completePath(join(root, 'torrents', 'debian-n'))).toEqual({ text: join(root, 'torrents', 'debian-notes.txt'), candidates: ['debian-notes.txt'] });
      expect((await completePath(join(root, 'torrents', 'd'))).candidates).toEqual(['debian-12.torrent', 'debian-dvd.torrent', 'distros/']);
      expect((await completePath(`${join(root, 'torrents')}/.`)).candidates).toEqual(['.hidden.torrent']);
      expect(await completePath(join(root, 'nothing'))).toEqual({ text: join(root, 'nothing'), candidates: [] });
      expect(await completePath('~/tor', root)).toEqual({ text: '~/torrents/', candidates: ['torrents/'] });
      expect(await completePath('magnet:?xt=urn:btih:aa')).toEqual({ text: 'magnet:?xt=urn:btih:aa', candidates: [] });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('the driver runs it: Tab fills the prompt from the disk', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sixswarm-complete-'));
    try {
      await writeFile(join(root, 'only-one.torrent'), 'x');
      const { stdin, stdout, calls } = setup();
      await sleep(150);
      stdin.type('a');
      await sleep(50);
      stdin.type(join(root, 'on'));
      await sleep(50);
      stdin.type('\t');
      await sleep(300);
      expect(stdout.written).toContain('only-one.torrent');
      stdin.type('\r');
      await sleep(200);
      expect(calls.commands.at(-1)).toEqual({ kind: 'add', input: join(root, 'only-one.torrent') });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('closing', () => {
  it('erases the UI instead of leaving a last frame whose rates go stale', async () => {
    const { ui, stdout } = setup();
    await sleep(200);
    expect(stdout.written).toContain('torrents');
    const before = stdout.written.length;
    await ui.close();
    const after = stdout.written.slice(before);
    // ink's erase-lines sequence, and no frame drawn again after it.
    expect(after).toMatch(/\x1b\[2K/);
    expect(after).not.toMatch(/torrents|↓/);
  });
});
