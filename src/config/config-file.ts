/**
 * The user's config file: `$SIXSWARM_CONFIG`, else `$XDG_CONFIG_HOME/sixswarm/config.toml` (or
 * `config.json` there; `~/.config` without XDG_CONFIG_HOME). TOML is read with smol-toml. What
 * the keys mean is the CLI's business (cli/config-options.ts); here the file is found, read
 * (a regular file of bounded size, nested to a bounded depth), parsed, and split into its
 * top-level keys and its tables, each key with its line for error messages.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ENV, envValue, xdgDir } from '../util/environment.js';
import { InputError } from '../util/errors.js';
import { lineAt, lineKey, scanJson, scanToml, type KeyLines } from './key-lines.js';

export type ConfigValue = string | number | boolean | ConfigValue[] | { [key: string]: ConfigValue };
export type ConfigTable = Record<string, ConfigValue>;

/** A config file is a few dozen lines; anything near this is not one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Tables in tables, lists in lists: no setting needs more than two. */
export const MAX_CONFIG_DEPTH = 16;

export interface ConfigFile {
  path: string;
  /** Keys outside any table (own properties only: `__proto__` is a key like any other). */
  top: ConfigTable;
  /** `[name]` tables. */
  tables: Record<string, ConfigTable>;
  /** "<path>:<line>" for a key (in `table`), or the path alone when its line is unknown. */
  at(key: string, table?: string): string;
}

/** Where the config file is looked for (it need not exist). */
export function configLocations(): string[] {
  const explicit = envValue(ENV.config);
  if (explicit) return [explicit];
  const base = xdgDir('XDG_CONFIG_HOME', '.config');
  return [join(base, 'sixswarm', 'config.toml'), join(base, 'sixswarm', 'config.json')];
}

function isTable(v: unknown): v is ConfigTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a named pipe';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The file's text: opened without blocking (a named pipe with no writer would wait forever), then
 * refused unless it is a regular file, and read no further than the size bound.
 */
function readConfigText(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new InputError(`cannot read the config file ${path}: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError(`the config file ${path} is ${kindOf(st)}, not a regular file: point SIXSWARM_CONFIG at a file`);
    const buf = Buffer.alloc(Math.min(st.size, MAX_CONFIG_BYTES) + 1);
    let got = 0;
    for (let n = -1; n !== 0 && got < buf.length; got += n) n = readSync(fd, buf, got, buf.length - got, null);
    if (got > MAX_CONFIG_BYTES) throw new InputError(`the config file ${path} is larger than ${MAX_CONFIG_BYTES / 1024} KiB, far more than any config: is it the right file?`);
    return buf.toString('utf8', 0, got);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read the config file ${path}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** "line L, column C" of a parser's complaint: smol-toml says it, JSON.parse gives an offset. */
function parseError(path: string, text: string, e: unknown): InputError {
  const err = e as Error & { line?: number; column?: number };
  const first = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
  let where = path;
  if (typeof err.line === 'number') where = `${path}:${err.line}${typeof err.column === 'number' ? `:${err.column}` : ''}`;
  else {
    const pos = /at position (\d+)/.exec(err.message);
    const at = pos ? Number(pos[1]) : /end of JSON input/.test(err.message) ? text.length : undefined;
    if (at !== undefined) where = `${path}:${lineAt(text, at)}`;
  }
  return new InputError(`cannot read the config file ${where}: ${first}`);
}

/** The config file, parsed; undefined when there is none. Anything wrong with it is an InputError naming it (and the line, where there is one). */
export function loadConfigFile(): ConfigFile | undefined {
  const explicit = envValue(ENV.config) !== undefined;
  const found = configLocations().filter((p) => existsSync(p));
  if (found.length === 0) {
    if (explicit) throw new InputError(`${ENV.config} names ${envValue(ENV.config)}, which does not exist`);
    return undefined;
  }
  if (found.length > 1) throw new InputError(`both ${found.join(' and ')} exist: keep one of them`);
  const path = found[0]!;
  const text = readConfigText(path);
  const json = path.endsWith('.json');
  const scan = json ? scanJson(text, MAX_CONFIG_DEPTH) : scanToml(text, MAX_CONFIG_DEPTH);
  if (scan.tooDeep !== undefined) throw new InputError(`the config file ${path}:${scan.tooDeep}: nested more than ${MAX_CONFIG_DEPTH} levels deep; a setting is a value or a list of values`);
  let raw: unknown;
  try {
    raw = json ? JSON.parse(text) : parseToml(text);
  } catch (e) {
    throw parseError(path, text, e);
  }
  if (!isTable(raw)) throw new InputError(`the config file ${path} must hold keys and values (an object), not ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  // Built with defineProperty semantics (Object.fromEntries): a key named `__proto__` stays a key,
  // to be refused as unknown, instead of becoming the table's prototype and its settings inherited.
  const entries = Object.entries(raw);
  const top: ConfigTable = Object.fromEntries(entries.filter(([, v]) => !isTable(v)));
  const tables: Record<string, ConfigTable> = Object.fromEntries(entries.filter(([, v]) => isTable(v)).map(([k, v]) => [k, Object.fromEntries(Object.entries(v as ConfigTable))]));
  return { path, top, tables, at: (key, table) => at(path, scan.keys, key, table) };
}

function at(path: string, lines: KeyLines, key: string, table?: string): string {
  const line = lines.get(lineKey(key, table)) ?? (table === undefined ? undefined : lines.get(table));
  return line === undefined ? path : `${path}:${line}`;
}
