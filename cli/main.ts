#!/usr/bin/env node
/** sixswarm entry point: picks the subcommand and turns errors into messages and exit codes. */
import type { Command } from './command.js';
import { errorMessage, InputError } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import { commands } from './commands.js';
import { nearestName, unknownOptionMessage } from './unknown-option.js';
import { parseArgs } from 'node:util';
import { asksForHelp, parseOptions, parserOptions, renderOptions, UnknownOptionError, withOpposites, type OptionTable } from './option-table.js';
import { VERSION } from '../src/version.js';
import { terminalUiPossible } from './ui/has-terminal.js';

/** `sixswarm`'s own options, before any command (--help besides). */
const TOP = {
  usage: 'Usage: sixswarm <command> [options]\n       sixswarm [ui] [--session DIR] [-o DIR] [options of ui]   (on a terminal)',
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
    'Run `sixswarm <command> --help` (or `sixswarm help <command>`) for the options of one command.',
    'Exit codes: 0 done, 1 runtime failure, 2 bad usage or bad input, 129 / 130 / 143 a download',
    'stopped by SIGHUP (its terminal closed) / SIGINT / SIGTERM before it finished.',
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
    // `sixswarm help download` is `sixswarm download --help`.
    const about = name === 'help' && rest[0] !== undefined ? rest[0] : undefined;
    if (about === undefined) {
      process.stdout.write(mainHelp(commands));
      return 0;
    }
    const cmd = commands.find((c) => c.name === about);
    if (!cmd) return unknownCommand(about);
    process.stdout.write(cmd.help.endsWith('\n') ? cmd.help : `${cmd.help}\n`);
    return 0;
  }
  const ui = commands.find((c) => c.name === 'ui')!;
  // `sixswarm -o DIR ...`: the options of ui, as `sixswarm [ui] [-o DIR]` promises.
  if (name.startsWith('-') && name !== '-') return isOptionOf(ui, name) ? runCommand(ui, argv) : topLevel(name, ui);
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) return unknownCommand(name);
  // --help or -h as an option, not as the value of one (a comment, a path).
  if (asksForHelp(cmd.options, rest)) {
    process.stdout.write(cmd.help.endsWith('\n') ? cmd.help : `${cmd.help}\n`);
    return 0;
  }
  return runCommand(cmd, rest);
}

/** A command that does not exist: the nearest one, if any is near. */
function unknownCommand(name: string): number {
  const near = nearestName(name, commands.map((c) => c.name));
  process.stderr.write(`sixswarm: unknown command "${name}"${near ? `; did you mean \`sixswarm ${near}\`?` : '.'} Run \`sixswarm --help\` for the list.\n`);
  return 2;
}

/** Whether `option` (`-o`, `--port=1`) is one of `cmd`'s. */
function isOptionOf(cmd: Command, option: string): boolean {
  const table = withOpposites(cmd.options);
  const { tokens } = parseArgs({ args: [option], options: parserOptions(table), allowPositionals: true, strict: false, tokens: true });
  return tokens.some((t) => t.kind === 'option' && Object.hasOwn(table, t.name));
}

/** `sixswarm --version`, or an option neither sixswarm itself nor `ui` has: the nearest of both. */
function topLevel(option: string, ui: Command): number {
  try {
    parseOptions(TOP.options, [option], { positionals: false });
  } catch (e) {
    return failed(TOP, e instanceof UnknownOptionError ? new UnknownOptionError(e.option, { ...TOP.options, ...ui.options }) : e);
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
// (resume saved, trackers told), instead of dying on an unhandled EPIPE. The terminal closed
// (EIO): as on the SIGHUP that comes with it.
let outputGone = false;
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if ((e.code !== 'EPIPE' && e.code !== 'EIO') || outputGone) return;
    outputGone = true;
    process.kill(process.pid, e.code === 'EIO' ? 'SIGHUP' : 'SIGTERM');
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
