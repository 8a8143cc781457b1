/**
 * Loads the native TUN addon (native/tun.c). It is optional at install time, so a missing or
 * broken build becomes a clear error here, raised only when a tunnel is actually started.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TunAddon } from '../../native/sixswarm_tun.js';

const ADDON = join('native', 'build', 'Release', 'sixswarm_tun.node');

/**
 * The package root: the nearest folder above this module holding sixswarm's package.json.
 * Walking up works from src/tunnel (vitest) and from dist/src/tunnel (the built CLI) alike.
 */
function packageRoot(): string {
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

let cached: TunAddon | undefined;

/** The addon, or an Error that says what is missing and how to build it. */
export function loadTunAddon(): TunAddon {
  if (cached) return cached;
  if (process.platform !== 'linux') throw new Error(`the tunnel needs a Linux TUN device; this is ${process.platform}`);
  const root = packageRoot();
  const file = join(root, ADDON);
  if (!existsSync(file)) {
    throw new Error(
      `the tunnel needs the native TUN addon, which is not built (${file} is missing). ` +
        'Build it with `npm run build:native` (needs a C compiler, make, python3 and Node\'s headers).',
    );
  }
  try {
    cached = createRequire(join(root, 'package.json'))(file) as TunAddon;
  } catch (e) {
    throw new Error(`the native TUN addon ${file} does not load (${(e as Error).message}); rebuild it with \`npm run build:native\``);
  }
  return cached;
}
