/**
 * The config file's keys are the long options of the commands that read it, without their
 * dashes: top-level keys for every such command that has the option, `[download]`, `[seed]`,
 * `[ui]` tables for one command only. Options on the command line win over the table, the table over
 * the top level. Every key is checked, whichever command runs: a key that is no option is an
 * error naming it (and the nearest option), as is a value of the wrong type.
 */
import { loadConfigFile, type ConfigValue } from '../src/config/config-file.js';
import { InputError } from '../src/util/errors.js';
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

/** A value as an error message shows it: whole when short, else its start and what it is. */
function shown(v: ConfigValue): string {
  const text = JSON.stringify(v);
  if (text.length <= 60) return text;
  const what = Array.isArray(v) ? `a list of ${v.length} values` : typeof v === 'string' ? `${v.length} characters` : 'a table';
  return `${text.slice(0, 40)}... (${what})`;
}

function convert(where: string, key: string, spec: OptionSpec, v: ConfigValue): OptionValue {
  const what = `the config file ${where}: "${key}"`;
  const multiple = spec.type === 'string' && spec.multiple;
  const scalar = (x: ConfigValue): string => {
    if (typeof x === 'string') return x;
    if (typeof x === 'number' && Number.isFinite(x)) return String(x);
    throw new InputError(`${what} must be ${multiple ? 'a list of strings' : 'a string or a number'}, not ${shown(x)}`);
  };
  if (spec.type === 'boolean') {
    if (typeof v !== 'boolean') throw new InputError(`${what} must be true or false, not ${shown(v)}`);
    return v;
  }
  if (multiple) return Array.isArray(v) ? v.map(scalar) : [scalar(v)];
  if (Array.isArray(v)) throw new InputError(`${what} takes one value, not a list`);
  return scalar(v);
}

/** "a", "a and b", "a, b and c". */
function listed(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function unknownKey(at: string, key: string, valid: string[], where: string, commands: string[]): InputError {
  const near = key.length <= 64 ? nearestOption(`--${key}`, valid.map((k) => `--${k}`)) : undefined;
  return new InputError(
    `the config file ${at}: unknown key "${key.length <= 64 ? key : `${key.slice(0, 40)}...`}"${where}${near ? ` (did you mean "${near.slice(2)}"?)` : ''}; ` +
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
  const optionOf = (options: OptionTable, key: string): OptionSpec | undefined => (Object.hasOwn(options, key) ? options[key] : undefined);
  // Check the whole file first: a typo anywhere is reported, whichever command runs.
  for (const key of Object.keys(file.top)) if (!all.includes(key)) throw unknownKey(file.at(key), key, all, '', Object.keys(commands));
  for (const [name, table] of Object.entries(file.tables)) {
    const options = Object.hasOwn(commands, name) ? commands[name] : undefined;
    if (!options) throw new InputError(`the config file ${file.at(name)}: unknown table [${name.slice(0, 64)}]; the tables are ${listed(Object.keys(commands).map((c) => `[${c}]`))}, for keys of one command only`);
    for (const key of Object.keys(table)) if (!optionOf(options, key)) throw unknownKey(file.at(key, name), key, Object.keys(options), ` in [${name}]`, [name]);
  }
  for (const [name, table] of Object.entries(file.tables)) for (const [key, v] of Object.entries(table)) convert(file.at(key, name), key, commands[name]![key]!, v);
  for (const [key, v] of Object.entries(file.top)) for (const options of Object.values(commands)) if (optionOf(options, key)) convert(file.at(key), key, options[key]!, v);
  for (const key of Object.keys(values)) {
    if (values[key] !== undefined) continue;
    const table = Object.hasOwn(file.tables, command) && Object.hasOwn(file.tables[command]!, key) ? file.tables[command]![key] : undefined;
    const top = Object.hasOwn(file.top, key) ? file.top[key] : undefined;
    if (table !== undefined) {
      values[key] = convert(file.at(key, command), key, mine[key]!, table);
      sources[key] = { from: 'config file', path, table: command };
    } else if (top !== undefined) {
      values[key] = convert(file.at(key), key, mine[key]!, top);
      sources[key] = { from: 'config file', path };
    }
  }
  return { values, sources, path };
}
