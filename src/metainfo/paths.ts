/**
 * Path safety for names and file paths that come from a torrent. Every component the storage
 * layer will ever join onto the download folder passes `componentProblem`, so a hostile torrent
 * cannot climb out of the folder, hit a device name form, or smuggle separators.
 */
import { hasControl, printable } from '../util/sanitize.js';

/**
 * Longest path (name included, components joined with '/') a torrent may describe, in bytes:
 * Linux's PATH_MAX, so no file a real torrent lists could be created past it anyway.
 */
export const MAX_PATH_BYTES = 4096;
/**
 * Most components in one path (name included). Real torrents nest a few levels (an album, a disc,
 * a season: rarely past 15); 4096 bytes would allow 2048 one-byte folders, and a limit far below
 * that keeps a path's cost small without refusing anything anyone shares.
 */
export const MAX_PATH_COMPONENTS = 256;
/** Longest single component, in bytes: the common file-system limit. */
export const MAX_COMPONENT_BYTES = 255;

/** A string in double quotes (inner quotes and backslashes escaped, controls as \\xNN), safe to print in messages. */
export function quote(text: string): string {
  return `"${printable(text.replace(/["\\]/g, (c) => `\\${c}`))}"`;
}

/** Why one path component is unsafe, or undefined when it is fine. */
export function componentProblem(component: string): string | undefined {
  if (component.length === 0) return 'empty component';
  if (component === '.' || component === '..') return `component "${component}"`;
  if (component.startsWith('/') || component.startsWith('\\')) return `absolute path in component ${quote(component)}`;
  if (/^[A-Za-z]:/.test(component)) return `drive letter in component ${quote(component)}`;
  if (component.includes('/') || component.includes('\\')) return `separator in component ${quote(component)}`;
  // NUL, the C0 and C1 controls and DEL never belong in a file name; in a terminal they are escape sequences.
  if (hasControl(component)) return `control character in component ${quote(component)}`;
  if (Buffer.byteLength(component, 'utf8') > MAX_COMPONENT_BYTES) {
    return `component longer than ${MAX_COMPONENT_BYTES} bytes`;
  }
  return undefined;
}

/** Why a whole relative path is unsafe, or undefined when every component and its total length are fine. */
export function pathProblem(components: readonly string[]): string | undefined {
  if (components.length === 0) return 'empty path';
  if (components.length > MAX_PATH_COMPONENTS) return `path of ${components.length} components is deeper than ${MAX_PATH_COMPONENTS}`;
  let bytes = components.length - 1; // the separators
  for (const c of components) {
    const problem = componentProblem(c);
    if (problem) return problem;
    bytes += Buffer.byteLength(c, 'utf8');
  }
  if (bytes > MAX_PATH_BYTES) return `path of ${bytes} bytes is longer than ${MAX_PATH_BYTES}`;
  return undefined;
}

/** Paths longer than twice this many characters lose their middle in messages: a hostile one can be megabytes. */
const SHOWN_PATH_END = 200;

/**
 * Display form of a path for error messages: components joined with '/', quoted and escaped; of
 * a very long one only both ends are shown, around "…".
 */
export function showPath(components: readonly string[]): string {
  const text = components.join('/');
  if (text.length <= 2 * SHOWN_PATH_END) return quote(text);
  return quote(`${text.slice(0, SHOWN_PATH_END)}…${text.slice(-SHOWN_PATH_END)}`);
}

/**
 * The files of one torrent collide when two share a path or one file's path is another's folder.
 * Paths are joined with NUL, which no checked component holds and which sorts before every other
 * character: sorted, a duplicate lies next to its twin, and every path inside a file's "folder"
 * (starting with that path and NUL) lies right after it. One sort and one pass, with native string
 * comparisons: no prefix of any path is ever built, however deep the paths go. The first `shared`
 * components are the same in every path (the torrent's name) and are left out of the keys.
 */
export function pathConflict(paths: readonly (readonly string[])[], shared = 0): string | undefined {
  // A path of one component past the shared ones is its own key: a flat torrent builds no strings.
  const keys = paths.map((p) => (p.length === shared + 1 ? p[shared]! : p.slice(shared).join('\0'))).sort();
  const show = (key: string): string[] => [...paths[0]!.slice(0, shared), ...key.split('\0')];
  for (let k = 1; k < keys.length; k++) {
    const a = keys[k - 1]!, b = keys[k]!;
    if (a === b) return `duplicate file path in torrent: ${showPath(show(a))}`;
    if (b.length > a.length && b.charCodeAt(a.length) === 0 && b.startsWith(a)) return folderOfFile(show(a), show(b));
  }
  return undefined;
}

function folderOfFile(file: readonly string[], inside: readonly string[]): string {
  return `file path in torrent is also a folder of another file: ${showPath(file)} (and ${showPath(inside)})`;
}
