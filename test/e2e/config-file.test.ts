/**
 * The config file, through the CLI: its keys are the long options of download, seed and ui, a
 * [download] / [seed] / [ui] table beats the top level, the command line beats both, `sixswarm config`
 * says where each setting came from, and a key that is no option (or a value of the wrong type,
 * or a file that does not parse) is an error naming it, exit 2.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanUpAfterEach, runCli, seedPayload, sixswarm, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function withConfig(text: string, name = 'config.toml') {
  dir = await tempDir('sixswarm-config-');
  const d = dir;
  await mkdir(join(d, 'xdg', 'sixswarm'), { recursive: true });
  const path = join(d, 'xdg', 'sixswarm', name);
  await writeFile(path, text);
  return { d, path, env: { XDG_CONFIG_HOME: join(d, 'xdg'), SIXSWARM_STATE_DIR: join(d, 'state') } };
}

/** `sixswarm config ...` as { key: [value, source] }. */
async function settings(args: string[], env: NodeJS.ProcessEnv) {
  const r = await runCli(['config', ...args], { env });
  expect(r.code, r.stderr).toBe(0);
  const out: Record<string, [string, string]> = {};
  for (const m of r.stdout.matchAll(/^ {2}(\S+)\s+(\(.*?\)|\S+)\s+(.+)$/gm)) out[m[1]!] = [m[2]!, m[3]!];
  return { out, text: r.stdout };
}

describe('config file', () => {
  it('sixswarm config shows each setting and where it came from: command line over [download] over the top level', async () => {
    const { path, env } = await withConfig('max-down = "2M"\nport = 7000\nmax-peers = 20\ntracker = ["udp://[::1]:6969"]\n[download]\nmax-peers = 30\nexit-on-complete = true\n');
    const { out, text } = await settings(['download', '--port', '7001'], env);
    expect(text).toContain(`config file: ${path}`);
    expect(out['port']).toEqual(['"7001"', 'command line']);
    expect(out['max-down']).toEqual(['"2M"', 'config file']);
    expect(out['max-peers']).toEqual(['"30"', 'config file [download]']);
    expect(out['exit-on-complete']).toEqual(['true', 'config file [download]']);
    expect(out['tracker']).toEqual(['["udp://[::1]:6969"]', 'config file']);
    expect(out['max-up']).toEqual(['(not set)', 'default']);
    expect(out['sequential']).toEqual(['(off)', 'default']);
    // seed has no [seed] table here: the top level applies, download-only keys do not.
    const s = await settings(['seed'], env);
    expect(s.out['max-peers']).toEqual(['"20"', 'config file']);
    expect(s.out['exit-on-complete']).toBeUndefined();
    const none = await settings([], { XDG_CONFIG_HOME: join(path, '..', '..', 'nothing') });
    expect(none.text).toMatch(/config file: none \(looked for .*nothing\/sixswarm\/config\.toml/);
    expect(none.out['port']).toEqual(['(6881)', 'default']);
  });

  it('a download runs with the file\'s settings, and an option given overrides them (JSON config)', async () => {
    const { d, env } = await withConfig(JSON.stringify({ 'max-down': '1M', 'no-trackers': true, download: { 'max-up': '300k' } }), 'config.json');
    const { torrent } = await seedPayload(d, { 'a.bin': 100_000 }, 16_384);
    const fromFile = sixswarm(['download', torrent, '-o', join(d, 'out'), '--port', '0', '--json'], { env });
    const p = await fromFile.event('progress');
    expect(p).toMatchObject({ maxDown: 1024 * 1024, maxUp: 300 * 1024 });
    fromFile.kill('SIGTERM');
    await fromFile.exited;
    const overridden = sixswarm(['download', torrent, '-o', join(d, 'out'), '--port', '0', '--max-down', '2M', '--json'], { env });
    expect(await overridden.event('progress')).toMatchObject({ maxDown: 2 * 1024 * 1024, maxUp: 300 * 1024 });
  });

  it('ui reads it too: top-level keys it has, its [ui] table; keys of one transfer (json, peer) stay with download', async () => {
    const { path, env } = await withConfig('max-down = "2M"\njson = true\npeer = ["[::1]:1"]\noutput = "/srv/all"\n[ui]\nsession = "/tmp/ui-session"\nmax-peers = 12\n');
    const { out, text } = await settings(['ui', '--port', '7100'], env);
    expect(text).toContain(`config file: ${path}`);
    expect(out['port']).toEqual(['"7100"', 'command line']);
    expect(out['max-down']).toEqual(['"2M"', 'config file']);
    expect(out['output']).toEqual(['"/srv/all"', 'config file']);
    expect(out['session']).toEqual(['"/tmp/ui-session"', 'config file [ui]']);
    expect(out['max-peers']).toEqual(['"12"', 'config file [ui]']);
    expect(out['json']).toBeUndefined();
    expect(out['peer']).toBeUndefined();
    // The ui itself reads the file: a key no ui option is refused before it looks for a terminal.
    await writeFile(path, '[ui]\nexit-on-complete = true\n');
    const r = await runCli(['ui'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown key "exit-on-complete" in \[ui\]/);
    // And typed, the options of one transfer are still refused by name.
    await writeFile(path, 'json = true\n');
    const typed = await runCli(['ui', '--json'], { env });
    expect(typed.code).toBe(2);
    expect(typed.stderr).toMatch(/sixswarm ui has no --json/);
    // A top-level key ui does not have (json) leaves ui alone: it fails only for want of a terminal.
    const plain = await runCli(['ui'], { env });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/needs a terminal/);
  });

  it('a key that is no option, a value of the wrong type, an unknown table or a broken file: exit 2 naming it', async () => {
    const cases: [string, RegExp][] = [
      ['max-dwon = "2M"\n', /unknown key "max-dwon" \(did you mean "max-down"\?\); the keys are the long options of download, seed, ui and daemon/],
      ['[seed]\noutput = "/x"\n', /unknown key "output" in \[seed\]/],
      ['[uplaod]\nport = 1\n', /unknown table \[uplaod\]; the tables are \[download\], \[seed\], \[ui\] and \[daemon\]/],
      ['no-ipv4 = "yes"\n', /"no-ipv4" must be true or false, not "yes"/],
      ['port = [1, 2]\n', /"port" takes one value, not a list/],
      ['port = = 3\n', /cannot read the config file .*config\.toml:1:8: invalid value/],
    ];
    for (const [text, re] of cases) {
      const { path, env } = await withConfig(text);
      for (const args of [['download', 'x.torrent'], ['config']]) {
        const r = await runCli(args, { env });
        expect(r.code, `${text} ${args[0]}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(re);
        expect(r.stderr).toContain(path);
      }
    }
  });

  it('every error names the file and the line: unknown keys and tables, wrong types, parse errors (TOML and JSON)', async () => {
    const cases: [string, string, RegExp][] = [
      ['config.toml', 'port = 7000\n\n# a comment [x]\nmax-dwon = "2M"\n', /config\.toml:4: unknown key "max-dwon"/],
      ['config.toml', 'port = 1\ntracker = [\n  "a",\n  "b",\n]\n[download]\nmax-up = "1M"\nexit-on-complete = "yes"\n', /config\.toml:8: "exit-on-complete" must be true or false/],
      ['config.toml', 'port = 1\n"no-ipv4" = 3\n', /config\.toml:2: "no-ipv4" must be true or false, not 3/],
      ['config.toml', 'a = """\nmax-up = 1\n"""\n', /config\.toml:1: unknown key "a"/],
      ['config.toml', 'port = 1\n[uplaod]\nport = 1\n', /config\.toml:2: unknown table \[uplaod\]/],
      ['config.toml', 'port = 1\ndownload.max-up = true\n', /config\.toml:2: "max-up" must be a string or a number, not true/],
      ['config.toml', 'port = 1\nport = 2\n', /config\.toml:2:\d+: /],
      ['config.json', '{\n "port": 1,\n "download": {\n  "port": "x",\n  "json": 5\n }\n}\n', /config\.json:5: "json" must be true or false, not 5/],
      ['config.json', '{\n "download": {"port": 1},\n "port": [1, 2]\n}\n', /config\.json:3: "port" takes one value, not a list/],
      ['config.json', '{\n "port": 1,\n "x" 2\n}\n', /cannot read the config file .*config\.json:3: /],
      ['config.json', '{\n "port": 1,\n', /cannot read the config file .*config\.json:3: Expected double-quoted property name/],
    ];
    for (const [name, text, re] of cases) {
      const { env } = await withConfig(text, name);
      const r = await runCli(['config'], { env });
      expect(r.code, `${text}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(re);
    }
  });

  it('hostile files: nested a million deep, a huge wrong-typed value, __proto__ keys, a FIFO, /dev/zero, a 10 MB file', { timeout: 60_000 }, async () => {
    const refused = async (env: NodeJS.ProcessEnv, re: RegExp) => {
      const t0 = Date.now();
      const r = await runCli(['config'], { env, timeoutMs: 10_000 });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.length, 'a short error').toBeLessThan(600);
      expect(Date.now() - t0).toBeLessThan(5000);
      return r;
    };
    // A million deep is 2 MB (refused for its size); half a million fits under the bound and is refused for its depth.
    const million = await withConfig(`{"no-ipv4":\n${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`, 'config.json');
    await refused(million.env, /config\.json is larger than 1024 KiB/);
    const deepJson = await withConfig(`{"no-ipv4":\n${'['.repeat(500_000)}${']'.repeat(500_000)}}`, 'config.json');
    await refused(deepJson.env, /config\.json:2: nested more than 16 levels deep/);
    const deepToml = await withConfig(`port = 1\ntracker = ${'['.repeat(100_000)}\n`);
    await refused(deepToml.env, /config\.toml:2: nested more than 16 levels deep/);
    // Deep but within the bound, inside strings and comments: not nesting at all.
    const strings = await withConfig(`# ${'['.repeat(100)}\ntracker = ["${'['.repeat(100)}", '${'{'.repeat(100)}', """\n${'['.repeat(100)}"""]\n`);
    expect((await runCli(['config'], { env: strings.env })).code).toBe(0);

    const huge = await withConfig(`port = 1\nno-ipv4 = "${'x'.repeat(900_000)}"\n`);
    await refused(huge.env, /config\.toml:2: "no-ipv4" must be true or false, not "x{30,}\.\.\. \(900000 characters\)/);
    const hugeList = await withConfig(JSON.stringify({ port: Array.from({ length: 100_000 }, (_, i) => i) }), 'config.json');
    await refused(hugeList.env, /"port" takes one value, not a list/);
    const hugeKey = await withConfig(`${'k'.repeat(500_000)} = 1\n`);
    await refused(hugeKey.env, /config\.toml:1: unknown key "k{40}\.\.\."/);
    const tooBig = await withConfig(`port = 1\n${'# filler\n'.repeat(1_200_000)}`);
    await refused(tooBig.env, /config\.toml is larger than 1024 KiB/);

    // __proto__ as a table or a key: refused as unknown, its settings never applied.
    for (const [text, name, re] of [
      ['{"__proto__": {"download": {"max-up": "9M"}}}', 'config.json', /config\.json:1: unknown table \[__proto__\]/],
      ['{"download": {"__proto__": {"max-up": "9M"}}}', 'config.json', /config\.json:1: unknown key "__proto__" in \[download\]/],
      ['{"port": 1,\n"__proto__": "x"}', 'config.json', /config\.json:2: unknown key "__proto__"/],
      ['[__proto__.download]\nmax-up = "9M"\n', 'config.toml', /config\.toml:1: unknown table \[__proto__\]/],
      ['port = 1\n__proto__ = 5\n', 'config.toml', /config\.toml:2: unknown key "__proto__"/],
      ['[download]\nconstructor = 1\n', 'config.toml', /config\.toml:2: unknown key "constructor" in \[download\]/],
      ['[constructor]\nport = 1\n', 'config.toml', /config\.toml:1: unknown table \[constructor\]/],
    ] as const) {
      const { env } = await withConfig(text, name);
      const r = await refused(env, re);
      expect(r.stdout).not.toContain('9M');
    }

    // Not a regular file: a named pipe nobody writes (would wait forever), a device that never ends.
    const fifo = await withConfig('');
    execFileSync('rm', [fifo.path]);
    execFileSync('mkfifo', [fifo.path]);
    await refused(fifo.env, /the config file .*config\.toml is a named pipe, not a regular file/);
    await refused({ SIXSWARM_CONFIG: '/dev/zero' }, /the config file \/dev\/zero is a device, not a regular file/);
    await refused({ SIXSWARM_CONFIG: fifo.d }, /is a folder, not a regular file/);
  });
});
