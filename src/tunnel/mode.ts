/**
 * Which mode the tunnel client runs in here. The TUN mode needs the native addon, /dev/net/tun
 * and CAP_NET_ADMIN (root, as a rule) to create a device and route through it; the stream mode
 * needs nothing of the host. `auto` takes the TUN mode when it can, else the stream mode, and
 * says why.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { errorMessage } from '../util/errors.js';
import { loadTunAddon } from './native.js';

export type TunnelMode = 'tun' | 'stream';

export interface TunnelModeChoice {
  mode: TunnelMode;
  /** Why: shown in the status, the UI's network panel and `support`. */
  reason: string;
}

const CAP_NET_ADMIN = 12n;

/** Whether this process may create network devices and change routes (CAP_NET_ADMIN, which root normally has). */
export function hasNetAdmin(): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex !== undefined && ((BigInt(`0x${hex}`) >> CAP_NET_ADMIN) & 1n) === 1n;
  } catch {
    return process.getuid?.() === 0;
  }
}

/** Why the TUN mode cannot run here, or undefined when it can. */
export function tunModeProblem(): string | undefined {
  try {
    loadTunAddon();
  } catch (e) {
    return errorMessage(e);
  }
  if (!hasNetAdmin()) return 'no root (CAP_NET_ADMIN) to create a TUN device';
  try {
    // Opening configures nothing: without TUNSETIFF no device is created.
    closeSync(openSync('/dev/net/tun', 'r+'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'no /dev/net/tun (the tun module is not loaded, or a container without the device)' : `/dev/net/tun cannot be opened (${code ?? errorMessage(e)})`;
  }
  return undefined;
}

/** The mode for `requested` (auto: TUN when it can run, else streams). */
export function chooseTunnelMode(requested: TunnelMode | 'auto'): TunnelModeChoice {
  if (requested === 'tun') return { mode: 'tun', reason: 'TUN mode asked for' };
  if (requested === 'stream') return { mode: 'stream', reason: 'stream mode asked for' };
  const problem = tunModeProblem();
  return problem ? { mode: 'stream', reason: `stream mode: ${problem}` } : { mode: 'tun', reason: 'TUN mode: root and /dev/net/tun are available' };
}
