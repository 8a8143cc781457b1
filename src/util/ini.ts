/**
 * A small INI reader for config files such as the tunnel's config.ini:
 *
 *   [server]
 *   listenport = 14629   ; comment
 *
 * Section and key names are case-insensitive (stored lower-case); values are trimmed; lines
 * starting with ; or # are comments, as is ` ;` or ` #` after a value. Keys before any section
 * belong to section "". A malformed line is an InputError naming the file and line.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from './errors.js';

export type Ini = Map<string, Map<string, string>>;

export function parseIni(text: string, source = 'config'): Ini {
  const out: Ini = new Map([['', new Map()]]);
  let section = out.get('')!;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      const name = header[1]!.trim().toLowerCase();
      section = out.get(name) ?? new Map();
      out.set(name, section);
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new InputError(`${source}, line ${i + 1}: expected "key = value" or "[section]"`);
    const value = line.slice(eq + 1).replace(/\s+[;#].*$/, '').trim();
    section.set(line.slice(0, eq).trim().toLowerCase(), value);
  });
  return out;
}

export async function readIni(file: string): Promise<Ini> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseIni(text, file);
}
