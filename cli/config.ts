/** `sixswarm config`: the settings `download`, `seed`, `ui` or `daemon` would run with, and where each came from. */
import { configLocations } from '../src/config/config-file.js';
import { UsageError } from './usage-error.js';
import { command } from './command.js';
import { withConfig, type Source } from './config-options.js';
import { helpLines, parseOptions, type OptionSpec } from './option-table.js';
import { CONFIG_COMMANDS } from './torrent-option-tables.js';

const usage = 'Usage: sixswarm config [download|seed|ui|daemon] [OPTIONS OF THAT COMMAND]...';

const about = `Prints the settings \`sixswarm download\` (or seed, ui, daemon) would run with, each with where it came
from: the command line (options given after the command name here), the config file, or the
built-in default.

The config file is $SIXSWARM_CONFIG, else $XDG_CONFIG_HOME/sixswarm/config.toml (without
XDG_CONFIG_HOME: ~/.config/sixswarm/config.toml), or config.json in the same folder. Its keys
are the long options of download, seed, ui and daemon without their dashes; options given on the command
line override it. Top-level keys apply to every command that has that option; a [download],
[seed], [ui] or [daemon] table applies to that command only and wins over the top level. A key that
is no option, or a value of the wrong type, is an error (exit 2) naming it and its line. The file
must be a regular file (not a pipe or a device) of at most 1 MiB. A boolean set true in the file
cannot be turned off by an option: remove it from the file.

  # ~/.config/sixswarm/config.toml
  max-down = "2M"
  max-up = "500k"
  port = 6881
  tracker = ["udp://tracker.example:6969"]
  [download]
  output = "/srv/downloads"
  exit-on-complete = true`;

/** "(default 6881; ...)" in an option's help: its default, as the listing shows it. */
function defaultOf(spec: OptionSpec): string | undefined {
  return /\(default:? ([^);]+)/.exec(helpLines(spec).join(' '))?.[1]?.trim();
}

function describe(source: Source): string {
  if (source.from === 'command line') return 'command line';
  if (source.from === 'config file') return `config file${source.table ? ` [${source.table}]` : ''}`;
  return 'default';
}

async function run(argv: string[]): Promise<number> {
  const name = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'download';
  if (!Object.hasOwn(CONFIG_COMMANDS, name)) throw new UsageError(`sixswarm config shows the settings of download, seed, ui or daemon, not "${name}"`);
  const target = name as keyof typeof CONFIG_COMMANDS;
  const rest = argv[0] === name ? argv.slice(1) : argv;
  const { values: given, positionals } = parseOptions(CONFIG_COMMANDS[target], rest, { positionals: true });
  if (positionals.length > 0) throw new UsageError(`sixswarm config takes one command name, then options of that command; not "${positionals[0]}"`);
  const { values, sources, path } = withConfig(target, CONFIG_COMMANDS, given);
  const lines = [`Settings of \`sixswarm ${target}\`; config file: ${path ?? `none (looked for ${configLocations().join(', ')})`}`];
  const width = Math.max(...Object.keys(values).map((k) => k.length));
  for (const [key, value] of Object.entries(values)) {
    const source = sources[key]!;
    const spec: OptionSpec = CONFIG_COMMANDS[target][key as keyof (typeof CONFIG_COMMANDS)[typeof target]];
    const shown = value === undefined ? `(${defaultOf(spec) ?? (spec.type === 'boolean' ? 'off' : 'not set')})` : JSON.stringify(value);
    lines.push(`  ${key.padEnd(width)}  ${shown.padEnd(24)}  ${describe(source)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

export const config = command({
  name: 'config',
  summary: 'show the settings download, seed, ui and daemon run with, and where each comes from',
  usage,
  about,
  options: {},
  notes: 'Exit codes: 0 shown, 2 bad usage or a bad config file.\n',
  run,
});
