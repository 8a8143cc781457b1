/**
 * Loads the native TUN addon (native/tun.c). It is optional at install time, so a missing or
 * broken build becomes a clear error here, raised only when a tunnel is actually started.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { TunAddon } from '../../native/sixswarm_tun.js';
import { packageRoot } from '../util/package-root.js';

const ADDON = join('native', 'build', 'Release', 'sixswarm_tun.node');

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
