/**
 * The package root: the nearest folder above a module holding sixswarm's package.json. Walking
 * up works from src/ (vitest), dist/src/ (compiled) and dist/bin/ (the bundled CLI) alike; the native addons live
 * under it (native/build/Release/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let found: string | undefined;

export function packageRoot(): string {
  return (found ??= search());
}

function search(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'sixswarm') return dir;
      } catch {
        // not ours (or unreadable): keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the sixswarm package root (package.json) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}
