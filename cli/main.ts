#!/usr/bin/env node
/** sixswarm entry point: picks the subcommand and turns errors into messages and exit codes. */
import type { Command } from './command.js';
import { errorMessage, InputError } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import { commands } from './commands.js';
import { unknownOptionMessage } from './unknown-option.js';
import { asksForHelp, parseOptions, renderOptions, UnknownOptionError, type OptionTable } from './option-table.js';
import { VERSION } from '../src/version.js';
import { terminalUiPossible } from './ui/has-terminal.js';

/** `sixswarm`'s own options, before any command (--help besides). */
const TOP = {
  usage: 'Usage: sixswarm <command> [options]',
  options: { version: { type: 'boolean', short: 'V', help: 'print the version of sixswarm' } } satisfies OptionTable,
};

function mainHelp(list: Command[]): string {
  const width = Math.max(...list.map((c) => c.name.length));
  return [
    'sixswarm — a BitTorrent client for IPv6 swarms',
    '',
    TOP.usage,
    '',
    'Commands:',
    ...list.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    renderOptions(TOP.options),
    '',
    'Run `sixswarm <command> --help` for the options of one command.',
    'Exit codes: 0 done, 1 runtime failure, 2 bad usage or bad input, 130 / 143 a download stopped',
    'by SIGINT / SIGTERM before it finished.',
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    // On a terminal, `sixswarm` alone opens the session UI; elsewhere it says how to use it.
    if (terminalUiPossible(false)) return runCommand(commands.find((c) => c.name === 'ui')!, []);
    process.stderr.write(mainHelp(commands));
    return 2;
  }
  if (name === 'help' || asksForHelp(TOP.options, [name])) {
    process.stdout.write(mainHelp(commands));
    return 0;
  }
  if (name.startsWith('-') && name !== '-') return topLevel(name);
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`sixswarm: unknown command "${name}". Run \`sixswarm --help\` for the list.\n`);
    return 2;
  }
  // --help or -h as an option, not as the value of one (a comment, a path).
  if (asksForHelp(cmd.options, rest)) {
    process.stdout.write(cmd.help.endsWith('\n') ? cmd.help : `${cmd.help}\n`);
    return 0;
  }
  return runCommand(cmd, rest);
}

/** `sixswarm --version`, or an option sixswarm itself does not have. */
function topLevel(option: string): number {
  try {
    parseOptions(TOP.options, [option], { positionals: false });
  } catch (e) {
    return failed(TOP, e);
  }
  process.stdout.write(`sixswarm ${VERSION}\n`);
  return 0;
}

async function runCommand(cmd: Command, argv: string[]): Promise<number> {
  try {
    return await cmd.run(argv);
  } catch (e) {
    return failed(cmd, e);
  }
}

/** Says what went wrong; the exit code. */
function failed(cmd: { name?: string; usage: string }, e: unknown): number {
  if (e instanceof UnknownOptionError) {
    process.stderr.write(`${unknownOptionMessage(cmd, e.option, e.among)}\n`);
    return 2;
  }
  process.stderr.write(`${cmd.name ? `sixswarm ${cmd.name}` : 'sixswarm'}: ${errorMessage(e)}\n`);
  // Bad usage and bad input are the user's to fix (2); anything else is a failure (1).
  return e instanceof UsageError || e instanceof InputError ? 2 : 1;
}

// Whoever reads our output went away (`sixswarm seed --json | head`): stop as on SIGTERM, cleanly
// (resume saved, trackers told), instead of dying on an unhandled EPIPE.
let outputGone = false;
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' || outputGone) return;
    outputGone = true;
    process.kill(process.pid, 'SIGTERM');
  });
}

/** Resolves once everything written to `stream` so far has left: a full pipe makes writes wait. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

// Exit explicitly: a command that finished must not linger on a stray handle. Only after the
// output has gone, though: `info` on a big torrent into a pipe would otherwise lose all past 64 KiB.
main(process.argv.slice(2)).then(
  async (code) => {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`sixswarm: ${errorMessage(e)}\n`);
    process.exit(1);
  },
);
