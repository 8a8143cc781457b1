/**
 * Tracker lists in the format of the common public ones: one announce URL a line, blank lines
 * between them allowed, `#` starting a comment (a whole line, or after the URL and a space).
 * Read bounded (a file or standard input), duplicates dropped, lines that are no tracker URL
 * reported with their line number.
 */
import { open } from 'node:fs/promises';
import { parseTrackerUrl, type TrackerUrl } from '../tracker/url.js';
import { InputError } from '../util/errors.js';
import { printable } from '../util/sanitize.js';

/** Bytes read from a list at most: far above any public list (thousands of URLs). */
export const MAX_LIST_BYTES = 4 << 20;
/** URLs checked from one list at most. */
export const MAX_LIST_URLS = 10_000;

export interface ParsedList {
  urls: TrackerUrl[];
  /** Lines that are no tracker URL: "list.txt:12: ... (why)". */
  bad: string[];
  duplicates: number;
}

export function parseList(text: string, name: string): ParsedList {
  const out: ParsedList = { urls: [], bad: [], duplicates: 0 };
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    let url: TrackerUrl;
    try {
      if (/\s/.test(line)) throw new Error('one URL a line');
      url = parseTrackerUrl(line);
    } catch (e) {
      out.bad.push(`${name}:${i + 1}: ${printable(line, 120)}: ${(e as Error).message}`);
      continue;
    }
    if (seen.has(url.text)) {
      out.duplicates++;
      continue;
    }
    if (out.urls.length === MAX_LIST_URLS) throw new InputError(`${name} lists more than ${MAX_LIST_URLS} trackers; split it`);
    seen.add(url.text);
    out.urls.push(url);
  }
  return out;
}

/** The list at `path` (`-` for standard input), at most MAX_LIST_BYTES; an InputError naming the file otherwise. */
export async function readList(path: string): Promise<string> {
  const name = path === '-' ? 'standard input' : path;
  const chunks: Buffer[] = [];
  let size = 0;
  const take = (b: Buffer) => {
    size += b.length;
    if (size > MAX_LIST_BYTES) throw new InputError(`${name} is larger than ${MAX_LIST_BYTES >> 20} MiB: no tracker list is that long`);
    chunks.push(b);
  };
  if (path === '-') {
    for await (const b of process.stdin) take(b as Buffer);
  } else {
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new InputError(`cannot read the tracker list ${path}: ${(e as Error).message}`);
    }
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new InputError(`${path} is a folder, not a tracker list`);
      for await (const b of fh.createReadStream()) take(b as Buffer);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
  const text = Buffer.concat(chunks);
  if (text.includes(0)) throw new InputError(`${name} holds binary data, not a tracker list (one URL a line)`);
  return text.toString('utf8');
}
