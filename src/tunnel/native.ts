/**
 * Loads the native TUN addon (native/tun.c). It is optional at install time, so a missing or
 * broken build becomes a clear error here, raised only when a tunnel is actually started.
 */
import type { TunAddon } from '../../native/sixswarm_tun.js';
import { loadNativeAddon } from '../util/native-addon.js';

/** The addon, or an Error that says what is missing and how to build it. */
export function loadTunAddon(): TunAddon {
  if (process.platform !== 'linux') throw new Error(`the tunnel needs a Linux TUN device; this is ${process.platform}`);
  const r = loadNativeAddon<TunAddon>('sixswarm_tun');
  if (r.addon) return r.addon;
  if (!r.built) {
    throw new Error(
      `the tunnel needs the native TUN addon, which is not built (${r.file} is missing). ` +
        'Build it with `npm run build:native` (needs a C compiler, make, python3 and Node\'s headers).',
    );
  }
  throw new Error(`the native TUN addon ${r.missing}`);
}
