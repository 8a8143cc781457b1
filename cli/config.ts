/** `sixswarm config`: the settings `download`, `seed` or `ui` would run with, and where each came from. */
import { parseArgs } from 'node:util';
import { configLocations } from '../src/config/config-file.js';
import { UsageError } from '../src/util/errors.js';
import type { Command } from './command.js';
import { withConfig, type Source } from './config-options.js';
import { download } from './download.js';
import { seed } from './seed.js';
import { ui } from './session-ui.js';
import { CONFIG_COMMANDS } from './torrent-options.js';

const help = `Usage: sixswarm config [download|seed|ui] [OPTIONS OF THAT COMMAND]...

Prints the settings \`sixswarm download\` (or seed, or ui) would run with, each with where it came
from: the command line (options given after the command name here), the config file, or the
built-in default.

The config file is $SIXSWARM_CONFIG, else $XDG_CONFIG_HOME/sixswarm/config.toml (without
XDG_CONFIG_HOME: ~/.config/sixswarm/config.toml), or config.json in the same folder. Its keys
are the long options of download, seed and ui without their dashes; options given on the command
line override it. Top-level keys apply to every command that has that option; a [download],
[seed] or [ui] table applies to that command only and wins over the top level. A key that is no option,
or a value of the wrong type, is an error (exit 2) naming it and its line. The file must be a
regular file (not a pipe or a device) of at most 1 MiB. A boolean set true in the file
cannot be turned off by an option: remove it from the file.

  # ~/.config/sixswarm/config.toml
  max-down = "2M"
  max-up = "500k"
  port = 6881
  tracker = ["udp://tracker.example:6969"]
  [download]
  output = "/srv/downloads"
  exit-on-complete = true

Options:
  -h, --help    this help

Exit codes: 0 shown, 2 bad usage or a bad config file.
`;

const helps: Record<keyof typeof CONFIG_COMMANDS, string> = { download: download.help, seed: seed.help, ui: ui.help };

/** "(default 6881; ...)" from an option's lines in a command's help. */
function defaultOf(commandHelp: string, key: string): string | undefined {
  const lines = commandHelp.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^\\s+(?:-\\w, )?--${key}(?:\\s|$)`).test(l));
  if (start < 0) return undefined;
  let text = lines[start]!;
  for (let i = start + 1; i < lines.length && /^\s{6,}\S/.test(lines[i]!) && !/^\s+-/.test(lines[i]!); i++) text += ` ${lines[i]!.trim()}`;
  return /\(default:? ([^);]+)/.exec(text)?.[1]?.trim();
}

function describe(source: Source): string {
  if (source.from === 'command line') return 'command line';
  if (source.from === 'config file') return `config file${source.table ? ` [${source.table}]` : ''}`;
  return 'default';
}

async function run(argv: string[]): Promise<number> {
  const name = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'download';
  if (!(name in CONFIG_COMMANDS)) throw new UsageError(`sixswarm config shows the settings of download, seed or ui, not "${name}"`);
  const command = name as keyof typeof CONFIG_COMMANDS;
  const rest = argv[0] === name ? argv.slice(1) : argv;
  let given;
  try {
    given = parseArgs({ args: rest, options: CONFIG_COMMANDS[command], allowPositionals: true, strict: true }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, sources, path } = withConfig(command, CONFIG_COMMANDS, given);
  const lines = [`Settings of \`sixswarm ${command}\`; config file: ${path ?? `none (looked for ${configLocations().join(', ')})`}`];
  const width = Math.max(...Object.keys(values).map((k) => k.length));
  for (const [key, value] of Object.entries(values)) {
    const source = sources[key]!;
    const unset = CONFIG_COMMANDS[command][key as keyof (typeof CONFIG_COMMANDS)[typeof command]].type === 'boolean' ? 'off' : 'not set';
    const shown = value === undefined ? `(${defaultOf(helps[command], key) ?? unset})` : JSON.stringify(value);
    lines.push(`  ${key.padEnd(width)}  ${shown.padEnd(24)}  ${describe(source)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

export const config: Command = {
  name: 'config',
  summary: 'show the settings download, seed and ui run with, and where each comes from',
  help,
  run,
};
