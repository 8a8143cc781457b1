/**
 * A command's options, declared once: name, type, short alias, value name and help text. From
 * one table come the parser (node:util parseArgs), the "Options:" block of the command's --help,
 * the list "did you mean" picks from, and (for download, seed and ui) the keys of the config
 * file, so none of them can disagree with another. `-h, --help` belongs to every table without
 * being written in it.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';

interface OptionCommon {
  /** One letter: `-o` for `--output`. */
  readonly short?: string;
  /** What it does, as printed in --help: one string per line (continuation lines are aligned for it). */
  readonly help: string | readonly string[];
}
export interface FlagOption extends OptionCommon {
  readonly type: 'boolean';
}
export interface ValueOption extends OptionCommon {
  readonly type: 'string';
  /** Given more than once, every value counts. */
  readonly multiple?: boolean;
  /** The value as --help names it: DIR, N, RATE, HOST:PORT, prefer|require|allow|off. */
  readonly value: string;
}
export type OptionSpec = FlagOption | ValueOption;
/** Long option names (no dashes) to their specs, in the order --help lists them. */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** What a table's options parse to: strings, lists of strings for `multiple`, booleans for flags. */
export type OptionValues<T extends OptionTable> = {
  -readonly [K in keyof T]?: T[K] extends { readonly multiple: true } ? string[] : T[K] extends { readonly type: 'boolean' } ? boolean : string;
};

const HELP: FlagOption = { type: 'boolean', short: 'h', help: 'this help' };

/** Every option of `table`, `--help` last. */
export function withHelp(table: OptionTable): OptionTable {
  return { ...table, help: HELP };
}

/** The help column: two spaces of indent, the flags, at least two spaces, the text. */
const INDENT = 2;
const COLUMN = 22;

/** "-o, --output DIR" */
export function flagsOf(name: string, spec: OptionSpec): string {
  return `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.value}` : ''}`;
}

/** An option's help as lines. */
export function helpLines(spec: OptionSpec): readonly string[] {
  return typeof spec.help === 'string' ? [spec.help] : spec.help;
}

/**
 * The lines under "Options:" in a command's --help: flags, then the text at column 22, or on the
 * next line when the flags leave no room; continuation lines start at column 22.
 */
export function renderOptions(table: OptionTable): string {
  const out: string[] = [];
  const pad = ' '.repeat(COLUMN);
  for (const [name, spec] of Object.entries(withHelp(table))) {
    const flags = `${' '.repeat(INDENT)}${flagsOf(name, spec)}`;
    const [first, ...rest] = helpLines(spec);
    if (flags.length + 2 <= COLUMN) out.push(`${flags.padEnd(COLUMN)}${first ?? ''}`.trimEnd());
    else out.push(flags, `${pad}${first ?? ''}`.trimEnd());
    for (const line of rest) out.push(`${pad}${line}`.trimEnd());
  }
  return out.join('\n');
}

/** Every long option of `table` with its dashes, --help included: what "did you mean" picks from. */
export function longOptions(table: OptionTable): string[] {
  return Object.keys(withHelp(table)).map((name) => `--${name}`);
}

/** An option the table does not have, given on the command line. */
export class UnknownOptionError extends UsageError {
  constructor(
    readonly option: string,
    /** The options it was looked for among: "did you mean" picks from these. */
    readonly among: OptionTable,
  ) {
    super(`unknown option ${option}`);
    this.name = 'UnknownOptionError';
  }
}

/** The option parseArgs names in its "Unknown option '--x'. To specify ..." (it has no field for it). */
const UNKNOWN = /^Unknown option '(-{1,2}[^']*)'/;

/** node:util parseArgs's view of a table: type, short and multiple only. */
function parserOptions(table: OptionTable) {
  return Object.fromEntries(
    Object.entries(withHelp(table)).map(([name, spec]) => [
      name,
      { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.type === 'string' && spec.multiple ? { multiple: true } : {}) },
    ]),
  );
}

/**
 * `argv` parsed by `table`: an unknown option throws UnknownOptionError, any other mistake (a value
 * missing, or looking like an option) a UsageError. Positional arguments are refused unless allowed.
 */
export function parseOptions<T extends OptionTable>(table: T, argv: string[], opts: { positionals: boolean }): { values: OptionValues<T>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: parserOptions(table), allowPositionals: opts.positionals, strict: true });
    delete values.help;
    return { values: values as OptionValues<T>, positionals };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const unknown = UNKNOWN.exec(message)?.[1];
    if (unknown !== undefined) throw new UnknownOptionError(unknown, table);
    throw new UsageError(`${message.replace(/\.$/, '')}. Run with --help for the options.`);
  }
}

/**
 * Whether `argv` asks for help: --help or -h as an option, not as the value of one (`-c -h` is a
 * comment) nor after `--`. Other mistakes in `argv` do not matter: help is shown anyway.
 */
export function asksForHelp(table: OptionTable, argv: string[]): boolean {
  const { tokens } = parseArgs({ args: argv, options: parserOptions(table), allowPositionals: true, strict: false, tokens: true });
  return tokens.some((t) => t.kind === 'option' && t.name === 'help');
}

/** `table` without `names`. */
export function without<T extends OptionTable, K extends keyof T & string>(table: T, names: readonly K[]): Omit<T, K> {
  return Object.fromEntries(Object.entries(table).filter(([name]) => !(names as readonly string[]).includes(name))) as Omit<T, K>;
}

/** `table` with other help texts for some options (type, short and value stay: the parser and the config file see the same options). */
export function retold<T extends OptionTable>(table: T, help: { readonly [K in keyof T]?: string | readonly string[] }): T {
  return Object.fromEntries(Object.entries(table).map(([name, spec]) => [name, help[name] === undefined ? spec : { ...spec, help: help[name] }])) as T;
}
