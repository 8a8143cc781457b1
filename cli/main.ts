#!/usr/bin/env node
/** sixswarm entry point: picks the subcommand and turns errors into messages and exit codes. */
import type { Command } from './command.js';
import { errorMessage } from '../src/util/errors.js';
import { commands } from './commands.js';

const VERSION = '0.1.0';

function mainHelp(list: Command[]): string {
  const width = Math.max(...list.map((c) => c.name.length));
  return [
    'sixswarm — a BitTorrent client for IPv6 swarms',
    '',
    'Usage: sixswarm <command> [options]',
    '',
    'Commands:',
    ...list.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `sixswarm <command> --help` for the options of one command.',
    'Exit codes: 0 done, 1 runtime failure, 2 bad usage or bad input.',
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp(commands));
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`sixswarm ${VERSION}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`sixswarm: unknown command "${name}". Run \`sixswarm --help\` for the list.\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(cmd.help.endsWith('\n') ? cmd.help : `${cmd.help}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    process.stderr.write(`sixswarm ${name}: ${errorMessage(e)}\n`);
    return code === 2 ? 2 : 1;
  }
}

// Exit explicitly: a command that finished must not linger on a stray handle.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`sixswarm: ${errorMessage(e)}\n`);
    process.exit(1);
  },
);
