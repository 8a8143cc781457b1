/**
 * Where things are in a config file's text, for error messages that name a line: the line of
 * each top-level key and of each key in a table, and the first line where nesting goes deeper
 * than a bound (checked before parsing, so a file nested a million levels deep is refused
 * without recursing into it). TOML and JSON have their own scanners; both skip strings and
 * comments the way their grammar does.
 */

/** Key lines (1-based): `key` for a top-level key, `table\0key` for a key in a table. */
export type KeyLines = Map<string, number>;

export interface Scan {
  keys: KeyLines;
  /** The line where nesting first passed the bound, if it did. */
  tooDeep?: number;
}

export const lineKey = (key: string, table?: string): string => (table === undefined ? key : `${table}\0${key}`);

/** The line (1-based) of character offset `at`. */
export function lineAt(text: string, at: number): number {
  let line = 1;
  for (let i = 0; i < at && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** JSON: keys at depth 1 are top-level keys, keys at depth 2 belong to the depth-1 key that holds them. */
export function scanJson(text: string, maxDepth: number): Scan {
  const keys: KeyLines = new Map();
  const open: { object: boolean; key?: string }[] = [];
  let line = 1;
  let tooDeep: number | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    else if (c === '{' || c === '[') {
      open.push({ object: c === '{' });
      if (open.length > maxDepth) return { keys, tooDeep: line };
    } else if (c === '}' || c === ']') open.pop();
    else if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      const top = open.at(-1);
      if (text[j] !== ':' || !top?.object) continue;
      let key: string;
      try {
        key = JSON.parse(text.slice(start, i + 1)) as string;
      } catch {
        continue; // the parser reports it
      }
      top.key = key;
      if (open.length === 1 && !keys.has(key)) keys.set(key, line);
      if (open.length === 2 && open[0]!.key !== undefined && !keys.has(lineKey(key, open[0]!.key))) keys.set(lineKey(key, open[0]!.key), line);
    }
  }
  return { keys, tooDeep };
}

const BARE_KEY = /^[A-Za-z0-9_-]+/;

/** One TOML key at the start of `s` (bare, "basic" or 'literal'), and what follows it. */
function tomlKey(s: string): { key: string; rest: string } | undefined {
  const bare = BARE_KEY.exec(s);
  if (bare) return { key: bare[0], rest: s.slice(bare[0].length) };
  const basic = /^"((?:[^"\\]|\\.)*)"/.exec(s);
  if (basic) {
    try {
      return { key: JSON.parse(basic[0]) as string, rest: s.slice(basic[0].length) };
    } catch {
      return { key: basic[1]!, rest: s.slice(basic[0].length) };
    }
  }
  const literal = /^'([^']*)'/.exec(s);
  if (literal) return { key: literal[1]!, rest: s.slice(literal[0].length) };
  return undefined;
}

/**
 * TOML: `[table]` headers, `key = ...` lines (a dotted `table.key = ...` at the top level counts
 * for both), and nesting of arrays and inline tables, skipping strings of all four kinds and
 * comments.
 */
export function scanToml(text: string, maxDepth: number): Scan {
  const keys: KeyLines = new Map();
  let table: string | undefined;
  let depth = 0;
  let line = 1;
  let lineStart = true;
  const note = (k: string, l: number) => {
    if (!keys.has(k)) keys.set(k, l);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      lineStart = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') continue;
    if (lineStart && depth === 0) {
      lineStart = false;
      const rest = text.slice(i, text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i));
      const header = /^\[\[?\s*([^\]]*?)\s*\]\]?/.exec(rest);
      if (header) {
        const first = tomlKey(header[1]!);
        table = first?.key;
        if (table !== undefined) note(table, line);
        i += header[0].length - 1;
        continue;
      }
      const k = tomlKey(rest);
      if (k) {
        if (table === undefined) {
          note(k.key, line);
          const dotted = /^\s*\.\s*/.exec(k.rest);
          const inner = dotted ? tomlKey(k.rest.slice(dotted[0].length)) : undefined;
          if (inner) note(lineKey(inner.key, k.key), line);
        } else note(lineKey(k.key, table), line);
      }
    }
    lineStart = false;
    if (c === '#') {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      const multi = text.startsWith(c.repeat(3), i);
      const end = multi ? c.repeat(3) : c;
      for (i += end.length; i < text.length && !text.startsWith(end, i); i++) {
        if (c === '"' && text[i] === '\\') {
          if (text[++i] === '\n') line++; // a line-ending backslash
        } else if (text[i] === '\n') {
          if (!multi) break; // an unterminated string: the parser reports it
          line++;
        }
      }
      if (text[i] === '\n') i--; // let the newline be counted above
      else i += end.length - 1;
    } else if (c === '[' || c === '{') {
      if (++depth > maxDepth) return { keys, tooDeep: line };
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
  }
  return { keys, tooDeep: undefined };
}
