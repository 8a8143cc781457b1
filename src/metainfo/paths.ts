/**
 * Path safety for names and file paths that come from a torrent. Every component the storage
 * layer will ever join onto the download folder passes `componentProblem`, so a hostile torrent
 * cannot climb out of the folder, hit a device name form, or smuggle separators.
 */
import { hasControl, printable } from '../util/sanitize.js';

/** Longest path (name included, components joined with '/') a torrent may describe, in bytes. */
export const MAX_PATH_BYTES = 4096;
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
  for (const c of components) {
    const problem = componentProblem(c);
    if (problem) return problem;
  }
  const bytes = Buffer.byteLength(components.join('/'), 'utf8');
  if (bytes > MAX_PATH_BYTES) return `path of ${bytes} bytes is longer than ${MAX_PATH_BYTES}`;
  return undefined;
}

/** Display form of a path for error messages: components joined with '/', quoted and escaped. */
export function showPath(components: readonly string[]): string {
  return quote(components.join('/'));
}

/** The files of one torrent collide when two share a path or one file's path is another's folder. */
export function pathConflict(paths: readonly (readonly string[])[]): string | undefined {
  // Components joined with NUL: NUL cannot occur in a checked component, so keys are unambiguous.
  const files = new Set<string>();
  for (const p of paths) {
    const key = p.join('\0');
    if (files.has(key)) return `duplicate file path in torrent: ${showPath(p)}`;
    files.add(key);
  }
  for (const p of paths) {
    for (let n = 1; n < p.length; n++) {
      const dir = p.slice(0, n);
      if (files.has(dir.join('\0'))) {
        return `file path in torrent is also a folder of another file: ${showPath(dir)} (and ${showPath(p)})`;
      }
    }
  }
  return undefined;
}
