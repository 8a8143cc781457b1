/**
 * The config file's keys are the long options of the commands that read it, without their
 * dashes: top-level keys for every such command that has the option, `[download]`, `[seed]`,
 * `[ui]` tables for one command only. Options on the command line win over the table, the table over
 * the top level. Every key is checked, whichever command runs: a key that is no option is an
 * error naming it (and the nearest option), as is a value of the wrong type.
 */
import { loadConfigFile, type ConfigValue } from '../src/config/config-file.js';
import { InputError } from '../src/util/errors.js';
import { OptionValueError } from './usage-error.js';
import { nearestOption } from './unknown-option.js';
import type { OptionSpec, OptionTable } from './option-table.js';

export type OptionValue = string | boolean | string[];

export type Source = { from: 'command line' } | { from: 'config file'; path: string; table?: string } | { from: 'default' };

export interface Settings {
  values: Record<string, OptionValue | undefined>;
  sources: Record<string, Source>;
  /** The config file read, if any. */
  path?: string;
}

function convert(path: string, key: string, spec: OptionSpec, v: ConfigValue): OptionValue {
  const where = `the config file ${path}: "${key}"`;
  const multiple = spec.type === 'string' && spec.multiple;
  const scalar = (x: ConfigValue): string => {
    if (typeof x === 'string') return x;
    if (typeof x === 'number' && Number.isFinite(x)) return String(x);
    throw new InputError(`${where} must be ${multiple ? 'a list of strings' : 'a string or a number'}, not ${JSON.stringify(x)}`);
  };
  if (spec.type === 'boolean') {
    if (typeof v !== 'boolean') throw new InputError(`${where} must be true or false, not ${JSON.stringify(v)}`);
    return v;
  }
  if (multiple) return Array.isArray(v) ? v.map(scalar) : [scalar(v)];
  if (Array.isArray(v)) throw new InputError(`${where} takes one value, not a list`);
  return scalar(v);
}

/** "a", "a and b", "a, b and c". */
function listed(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function unknownKey(path: string, key: string, valid: string[], where: string, commands: string[]): InputError {
  const near = nearestOption(`--${key}`, valid.map((k) => `--${k}`));
  return new InputError(
    `the config file ${path}: unknown key "${key}"${where}${near ? ` (did you mean "${near.slice(2)}"?)` : ''}; ` +
      `the keys are the long options of ${listed(commands)} without their dashes (\`sixswarm config\` lists them), e.g. max-down = "2M"`,
  );
}

/**
 * The settings `command` runs with: `given` (what its command line set) over the config file's
 * `[command]` table over its top level. `commands` are all the commands that read the file,
 * with their options, so that every key is checked.
 */
export function withConfig(command: string, commands: Record<string, OptionTable>, given: Record<string, unknown>): Settings {
  const mine = commands[command]!;
  const values: Record<string, OptionValue | undefined> = {};
  const sources: Record<string, Source> = {};
  for (const key of Object.keys(mine)) {
    const v = given[key] as OptionValue | undefined;
    values[key] = v;
    sources[key] = v === undefined ? { from: 'default' } : { from: 'command line' };
  }
  const file = loadConfigFile();
  if (!file) return { values, sources };
  const { path } = file;
  const all = [...new Set(Object.values(commands).flatMap((table) => Object.keys(table)))];
  // Check the whole file first: a typo anywhere is reported, whichever command runs.
  for (const key of Object.keys(file.top)) if (!all.includes(key)) throw unknownKey(path, key, all, '', Object.keys(commands));
  for (const [name, table] of Object.entries(file.tables)) {
    const options = Object.hasOwn(commands, name) ? commands[name] : undefined;
    if (!options) throw new InputError(`the config file ${path}: unknown table [${name}]; the tables are ${listed(Object.keys(commands).map((c) => `[${c}]`))}, for keys of one command only`);
    for (const key of Object.keys(table)) if (!Object.hasOwn(options, key)) throw unknownKey(path, key, Object.keys(options), ` in [${name}]`, [name]);
  }
  for (const [name, table] of Object.entries(file.tables)) for (const [key, v] of Object.entries(table)) convert(path, key, commands[name]![key]!, v);
  for (const [key, v] of Object.entries(file.top)) for (const options of Object.values(commands)) if (options[key]) convert(path, key, options[key]!, v);
  for (const key of Object.keys(values)) {
    if (values[key] !== undefined) continue;
    const table = file.tables[command]?.[key];
    const top = file.top[key];
    if (table !== undefined) {
      values[key] = convert(path, key, mine[key]!, table);
      sources[key] = { from: 'config file', path, table: command };
    } else if (top !== undefined) {
      values[key] = convert(path, key, mine[key]!, top);
      sources[key] = { from: 'config file', path };
    }
  }
  return { values, sources, path };
}

/**
 * `e` told as coming from the config file when the option it is about was set there (`port =
 * "abc"` in the file is no bad --port given): the file and the key are named. Other errors as they are.
 */
export function attributed(e: unknown, sources: Settings['sources']): unknown {
  if (!(e instanceof OptionValueError)) return e;
  const key = e.option.replace(/^--/, '');
  const source = Object.hasOwn(sources, key) ? sources[key] : undefined;
  if (source?.from !== 'config file') return e;
  return new InputError(`the config file ${source.path}: "${key}"${source.table ? ` in [${source.table}]` : ''} ${e.problem}`);
}
