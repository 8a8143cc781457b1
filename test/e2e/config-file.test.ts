/**
 * The config file, through the CLI: its keys are the long options of download, seed and ui, a
 * [download] / [seed] / [ui] table beats the top level, the command line beats both, `sixswarm config`
 * says where each setting came from, and a key that is no option (or a value of the wrong type,
 * or a file that does not parse) is an error naming it, exit 2.
 */
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
    expect(out['max-up']).toEqual(['(no limit)', 'default']);
    expect(out['sequential']).toEqual(['(off)', 'default']);
    // seed has no [seed] table here: the top level applies, download-only keys do not.
    const s = await settings(['seed'], env);
    expect(s.out['max-peers']).toEqual(['"20"', 'config file']);
    expect(s.out['exit-on-complete']).toBeUndefined();
    const none = await settings([], { XDG_CONFIG_HOME: join(path, '..', '..', 'nothing') });
    expect(none.text).toMatch(/config file: none \(looked for .*nothing\/sixswarm\/config\.toml/);
    expect(none.out['port']).toEqual(['(6881, or a free port when another program has it)', 'default']);
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
      ['max-dwon = "2M"\n', /unknown key "max-dwon" \(did you mean "max-down"\?\); the keys are the long options of download, seed and ui/],
      ['[seed]\noutput = "/x"\n', /unknown key "output" in \[seed\]/],
      ['[uplaod]\nport = 1\n', /unknown table \[uplaod\]; the tables are \[download\], \[seed\] and \[ui\]/],
      ['no-ipv4 = "yes"\n', /"no-ipv4" must be true or false, not "yes"/],
      ['port = [1, 2]\n', /"port" takes one value, not a list/],
      ['port = = 3\n', /cannot read the config file .*config\.toml: line 1, column 8: invalid value/],
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
});
