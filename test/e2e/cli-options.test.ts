/**
 * Every command's option table against the built CLI: each option is listed in the command's
 * --help (and nothing else is), each parses (all given at once get past the parser), a one-letter
 * typo of each is answered "did you mean" that option, and the config file takes exactly the keys
 * of download's, seed's and ui's tables.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { withConfig } from '../../cli/config-options.js';
import { commands } from '../../cli/commands.js';
import { flagsOf, helpLines, parseOptions, UnknownOptionError, withHelp, type OptionTable } from '../../cli/option-table.js';
import { CONFIG_COMMANDS } from '../../cli/torrent-option-tables.js';
import { unknownOptionMessage } from '../../cli/unknown-option.js';
import { cleanUpAfterEach, runCli, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** No config file, whatever the machine has. */
async function noConfig(): Promise<NodeJS.ProcessEnv> {
  dir = await tempDir('sixswarm-options-');
  return { XDG_CONFIG_HOME: join(dir, 'xdg'), SIXSWARM_CONFIG: '', SIXSWARM_STATE_DIR: join(dir, 'state') };
}

/**
 * The Options block of a --help text (or the two of a command that lists its common options
 * first: "Options people use most:", then "More options:"): each option's flags, and every line.
 */
function optionsBlock(help: string): { flags: string[]; lines: string[] } {
  const lines = help.split('\n');
  const starts = ['Options:', 'Options people use most:', 'More options:'].map((h) => lines.indexOf(h)).filter((i) => i >= 0);
  expect(starts.length, help).toBeGreaterThan(0);
  const block = starts.flatMap((start) => {
    const end = lines.indexOf('', start);
    return lines.slice(start + 1, end < 0 ? undefined : end);
  });
  // A line of flags starts two spaces in; continuation lines start at the help column.
  return { flags: block.filter((l) => /^ {2}-/.test(l)).map((l) => l.trim().split(/ {2,}/)[0]!), lines: block.map((l) => l.trim()) };
}

describe('--help lists the option table', () => {
  it('every command: each option of its table in its Options block, with its text, in the table\'s order, and nothing else', async () => {
    for (const command of commands) {
      const r = await runCli([command.name, '--help']);
      expect(r.code, r.stderr).toBe(0);
      const block = optionsBlock(r.stdout);
      const table = withHelp(command.options);
      // --help / -h are every command's: no table declares them again, and no two options share a letter.
      expect(Object.hasOwn(command.options, 'help'), command.name).toBe(false);
      const shorts = Object.values(table).flatMap((o) => (o.short ? [o.short] : []));
      expect(new Set(shorts).size, `${command.name}: ${shorts.join(' ')}`).toBe(shorts.length);
      // In the table's order, but for the common options, which come first.
      const common = command.name === 'download' ? ['output', 'exit-on-complete', 'peer', 'port', 'max-down', 'max-up', 'seed-ratio', 'seed-time', 'select', 'skip', 'sequential', 'encryption', 'json'] : [];
      const order = Object.entries(table).sort(([a], [b]) => Number(!common.includes(a)) - Number(!common.includes(b)) || (common.indexOf(a) - common.indexOf(b)));
      expect(block.flags, command.name).toEqual(order.map(([name, spec]) => flagsOf(name, spec)));
      for (const [name, spec] of Object.entries(table)) {
        for (const line of helpLines(spec)) expect(block.lines.some((l) => l.endsWith(line.trim())), `${command.name} --${name}: ${line}`).toBe(true);
      }
      // The same text as `sixswarm help`'s list promises, and the usage lines on top.
      expect(r.stdout.startsWith(`${command.usage}\n`), command.name).toBe(true);
    }
  });

  it('sixswarm --help lists --version and --help, and both work', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(optionsBlock(r.stdout).flags).toEqual(['-V, --version', '-h, --help']);
    for (const option of ['--version', '-V']) expect(await runCli([option])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^sixswarm \d+\.\d+\.\d+\n$/) });
    const typo = await runCli(['--verison']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^sixswarm: unknown option --verison; did you mean --version\?\nUsage: sixswarm <command> \[options\]\n.*\nRun `sixswarm --help` for every option\.\n$/);
  });

  it('-h is help as an option, not as the value of one', async () => {
    expect((await runCli(['create', 'x', '-h'])).stdout).toMatch(/^Usage: sixswarm create/);
    expect((await runCli(['download', 'x.torrent', '-o', 'dir', '--help'])).stdout).toMatch(/^Usage: sixswarm download/);
    const env = await noConfig();
    // --comment=-h is a comment: create runs (and finds nothing to share).
    const comment = await runCli(['create', join(dir!, 'nothing'), '--comment=-h'], { env, cwd: dir });
    expect(comment.code).toBe(2);
    expect(comment.stderr).toMatch(/^sixswarm create: no such file or folder/);
  });
});

/**
 * How each command ends when given every option of its table and nothing else: a message from
 * the command itself, past the parser (a command that takes no arguments gets one after the options,
 * which the parser refuses only once every option before it is read).
 */
const PAST_THE_PARSER: Record<string, { extra?: string[]; message: RegExp }> = {
  ui: { message: /sixswarm ui needs a terminal/ },
  daemon: { message: /--no-ipv4 and --no-ipv6 together leave nothing to connect with/ },
  demo: { message: /--size must be a size from 64K to 4G/ },
  download: { message: /download needs exactly one torrent file or magnet link/ },
  seed: { message: /seed needs a torrent file and the folder that holds its data/ },
  create: { message: /expected one file or folder to share, got 0/ },
  info: { message: /expected one torrent file or magnet link, got 0/ },
  tracker: { extra: ['past-the-options'], message: /Unexpected argument 'past-the-options'/ },
  'tracker-check': { message: /--format must be table, json, markdown or html, got "1"/ },
  tunnel: { message: /expected `sixswarm tunnel up --server HOST:PORT`/ },
  'tunnel-server': { extra: ['past-the-options'], message: /Unexpected argument 'past-the-options'/ },
  support: { extra: ['past-the-options'], message: /Unexpected argument 'past-the-options'/ },
  config: { extra: ['past-the-options'], message: /sixswarm config shows the settings of download, seed, ui or daemon, not "past-the-options"/ },
};

/** Every option of `table` on a command line: long names, or the short alias where there is one. */
function everyOption(table: OptionTable, short: boolean): string[] {
  return Object.entries(table).flatMap(([name, spec]) => [short && spec.short ? `-${spec.short}` : `--${name}`, ...(spec.type === 'string' ? ['1'] : [])]);
}

describe('every option parses', () => {
  it('each command given all its options at once (long, then short names) gets past the parser', async () => {
    const env = await noConfig();
    expect(Object.keys(PAST_THE_PARSER).sort()).toEqual(commands.map((c) => c.name).sort());
    for (const command of commands) {
      const { extra = [], message } = PAST_THE_PARSER[command.name]!;
      const forms = Object.values(command.options).some((o) => o.short) ? [false, true] : [false];
      for (const short of forms) {
        const args = [command.name, ...everyOption(command.options, short), ...extra];
        const r = await runCli(args, { env, cwd: dir });
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stderr, args.join(' ')).toMatch(message);
        expect(r.stderr).not.toMatch(/unknown option|argument missing|ambiguous|does not take an argument/);
      }
    }
  });

  it('config reads every option of download, seed, ui and daemon from its command line', async () => {
    const env = await noConfig();
    for (const [name, table] of Object.entries(CONFIG_COMMANDS)) {
      const r = await runCli(['config', name, ...everyOption(table, false)], { env });
      expect(r.code, r.stderr).toBe(0);
      const listed = settingsListed(r.stdout);
      expect(Object.keys(listed).sort(), name).toEqual(Object.keys(table).sort());
      for (const [key, spec] of Object.entries(table)) {
        const value = spec.type === 'boolean' ? 'true' : spec.multiple ? '["1"]' : '"1"';
        expect(listed[key], `${name} ${key}`).toEqual([value, 'command line']);
      }
    }
    // A typo there is told the nearest option of that command.
    const typo = await runCli(['config', 'ui', '--sesion', 'x'], { env });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^sixswarm config: unknown option --sesion; did you mean --session\?\nUsage: sixswarm config/);
  });
});

/** A one-letter typo: the middle letter of the name replaced by another. */
function typo(option: string): string {
  const name = option.slice(2);
  let i = Math.floor(name.length / 2);
  while (!/[a-z]/.test(name[i]!)) i++;
  return `--${name.slice(0, i)}${name[i] === 'q' ? 'z' : 'q'}${name.slice(i + 1)}`;
}

/** Another: the middle letter left out. */
function dropped(option: string): string {
  const name = option.slice(2);
  const i = Math.floor(name.length / 2);
  return `--${name.slice(0, i)}${name.slice(i + 1)}`;
}

describe('did you mean', () => {
  it('offers each option of every command for a one-letter typo of it (the parser\'s error, told as main.ts tells it)', () => {
    let checked = 0;
    for (const command of commands) {
      for (const option of Object.keys(withHelp(command.options)).map((n) => `--${n}`)) {
        for (const wrong of [typo(option), dropped(option)]) {
          let error: unknown;
          try {
            parseOptions(command.options, [wrong], { positionals: true });
          } catch (e) {
            error = e;
          }
          expect(error, `${command.name} ${wrong}`).toBeInstanceOf(UnknownOptionError);
          const { option: given, among } = error as UnknownOptionError;
          expect(unknownOptionMessage(command, given, among).split('\n')[0], `${command.name} ${wrong}`).toBe(`sixswarm ${command.name}: unknown option ${wrong}; did you mean ${option}?`);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(200);
  });
});

/** `sixswarm config` output as { key: [value, source] }. */
function settingsListed(stdout: string): Record<string, [string, string]> {
  const out: Record<string, [string, string]> = {};
  for (const m of stdout.matchAll(/^ {2}(\S+)\s+(\(.*?\)|\S+)\s+(.+)$/gm)) out[m[1]!] = [m[2]!, m[3]!];
  return out;
}

describe('the config file takes exactly the keys of the tables', () => {
  it('every key of a command\'s table in its [command] table is read; every other option name is refused there', async () => {
    const env = await noConfig();
    const path = join(dir!, 'config.json');
    const configEnv = { ...env, SIXSWARM_CONFIG: path };
    const everyName = new Set([...Object.values(CONFIG_COMMANDS).flatMap((t) => Object.keys(t)), 'help', 'version']);
    for (const [name, table] of Object.entries(CONFIG_COMMANDS)) {
      const values = Object.fromEntries(Object.entries(table).map(([key, spec]) => [key, spec.type === 'boolean' ? true : spec.multiple ? ['1'] : '1']));
      await writeFile(path, JSON.stringify({ [name]: values }));
      const r = await runCli(['config', name], { env: configEnv });
      expect(r.code, r.stderr).toBe(0);
      const listed = settingsListed(r.stdout);
      expect(Object.keys(listed).sort(), name).toEqual(Object.keys(table).sort());
      for (const key of Object.keys(table)) expect(listed[key]![1], `${name} ${key}`).toBe(`config file [${name}]`);

      // The first foreign key through the CLI (exit code and message), every other one through
      // the same reader in this process (a CLI per key took most of a minute).
      const foreign = [...everyName].filter((k) => !Object.hasOwn(table, k));
      await writeFile(path, JSON.stringify({ [name]: { [foreign[0]!]: true } }));
      const refused = await runCli(['config', name], { env: configEnv });
      expect(refused.code, `[${name}] ${foreign[0]}`).toBe(2);
      expect(refused.stderr).toContain(`unknown key "${foreign[0]}" in [${name}]`);
      vi.stubEnv('SIXSWARM_CONFIG', path);
      try {
        for (const other of foreign) {
          await writeFile(path, JSON.stringify({ [name]: { [other]: true } }));
          expect(() => withConfig(name, CONFIG_COMMANDS, {}), `[${name}] ${other}`).toThrow(`unknown key "${other}" in [${name}]`);
        }
      } finally {
        vi.unstubAllEnvs();
      }
    }
  });

  it('at the top level, every option of any of the four is read, and nothing else', async () => {
    const env = await noConfig();
    const path = join(dir!, 'config.json');
    const configEnv = { ...env, SIXSWARM_CONFIG: path };
    const all: Record<string, unknown> = {};
    for (const table of Object.values(CONFIG_COMMANDS)) for (const [key, spec] of Object.entries(table)) all[key] = spec.type === 'boolean' ? true : spec.multiple ? ['1'] : '1';
    await writeFile(path, JSON.stringify(all));
    for (const [name, table] of Object.entries(CONFIG_COMMANDS)) {
      const r = await runCli(['config', name], { env: configEnv });
      expect(r.code, r.stderr).toBe(0);
      for (const key of Object.keys(table)) expect(settingsListed(r.stdout)[key]![1], `${name} ${key}`).toBe('config file');
    }
    for (const other of ['help', 'version', 'server', 'headless']) {
      await writeFile(path, JSON.stringify({ [other]: true }));
      const refused = await runCli(['config'], { env: configEnv });
      expect(refused.code, other).toBe(2);
      expect(refused.stderr).toContain(`unknown key "${other}"`);
    }
  });
});
