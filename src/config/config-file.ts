/**
 * The user's config file: `$SIXSWARM_CONFIG`, else `$XDG_CONFIG_HOME/sixswarm/config.toml` (or
 * `config.json` there; `~/.config` without XDG_CONFIG_HOME). TOML is read with smol-toml. What
 * the keys mean is the CLI's business (cli/config-options.ts); here the file is found, parsed and
 * split into its top-level keys and its tables.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ENV, envValue, xdgDir } from '../util/environment.js';
import { InputError } from '../util/errors.js';

export type ConfigValue = string | number | boolean | ConfigValue[] | { [key: string]: ConfigValue };
export type ConfigTable = Record<string, ConfigValue>;

export interface ConfigFile {
  path: string;
  /** Keys outside any table. */
  top: ConfigTable;
  /** `[name]` tables. */
  tables: Record<string, ConfigTable>;
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

/** What a parser said, with where in the file: smol-toml knows the line and column ("line 2, column 8: invalid value"). */
function parseProblem(e: unknown): string {
  const { message, line, column } = e as Error & { line?: number; column?: number };
  const what = message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
  return typeof line === 'number' ? `line ${line}${typeof column === 'number' ? `, column ${column}` : ''}: ${what}` : what;
}

/** The config file, parsed; undefined when there is none. A file that does not parse is an InputError naming it. */
export function loadConfigFile(): ConfigFile | undefined {
  const explicit = envValue(ENV.config) !== undefined;
  const found = configLocations().filter((p) => existsSync(p));
  if (found.length === 0) {
    if (explicit) throw new InputError(`${ENV.config} names ${envValue(ENV.config)}, which does not exist`);
    return undefined;
  }
  if (found.length > 1) throw new InputError(`both ${found.join(' and ')} exist: keep one of them`);
  const path = found[0]!;
  let raw: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    raw = path.endsWith('.json') ? JSON.parse(text) : parseToml(text);
  } catch (e) {
    throw new InputError(`cannot read the config file ${path}: ${parseProblem(e)}`);
  }
  if (!isTable(raw)) throw new InputError(`the config file ${path} must hold keys and values (an object), not ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  const top: ConfigTable = {};
  const tables: Record<string, ConfigTable> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (isTable(v)) tables[k] = { ...v };
    else top[k] = v as ConfigValue;
  }
  return { path, top, tables };
}
