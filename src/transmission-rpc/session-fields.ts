/**
 * session-get's fields (what Transmission 4.0's session-get reports, with sixswarm's values) and
 * session-set: the global rate limits and the default download folder can be changed; any other
 * key is accepted only when it asks for what is already so (the web pages send whole forms), and
 * otherwise refused by name. `sixswarm-*` fields report our addresses with their class, which
 * family has reached us from outside, the tunnel, the listening sockets, the peer transports and
 * the DHT.
 */
import { VERSION } from '../version.js';
import type { Args } from './args.js';
import type { RpcBackend } from './backend.js';
import { RpcError } from './rpc-error.js';

/** The RPC version we speak: Transmission 4.0's (17, semver 5.3.0), so newer clients keep to it. */
export const RPC_VERSION = 17;
export const RPC_VERSION_SEMVER = '5.3.0';
export const RPC_VERSION_MINIMUM = 14;

const ENCRYPTION = { require: 'required', prefer: 'preferred', allow: 'tolerated', off: 'tolerated' } as const;
/** Transmission speaks of kB = 1000 bytes. */
const K = 1000;

export function sessionFields(b: RpcBackend, sessionId: string): Record<string, unknown> {
  const s = b.settings();
  const st = b.status();
  return {
    'alt-speed-down': 50,
    'alt-speed-enabled': false,
    'alt-speed-time-begin': 540,
    'alt-speed-time-day': 127,
    'alt-speed-time-enabled': false,
    'alt-speed-time-end': 1020,
    'alt-speed-up': 50,
    'blocklist-enabled': false,
    'blocklist-size': 0,
    'blocklist-url': '',
    'cache-size-mb': 0,
    'config-dir': s.configDir,
    'default-trackers': '',
    'dht-enabled': s.dht,
    'download-dir': b.folders.defaultDir,
    'download-queue-enabled': false,
    'download-queue-size': 0,
    encryption: ENCRYPTION[s.encryption],
    'idle-seeding-limit': s.seedSeconds !== undefined ? Math.ceil(s.seedSeconds / 60) : 30,
    'idle-seeding-limit-enabled': false,
    'incomplete-dir': b.folders.defaultDir,
    'incomplete-dir-enabled': false,
    'lpd-enabled': s.lsd,
    'peer-limit-global': s.maxPeersPerTorrent * Math.max(1, b.summaries().length),
    'peer-limit-per-torrent': s.maxPeersPerTorrent,
    'peer-port': s.peerPort,
    'peer-port-random-on-start': false,
    'pex-enabled': true,
    'port-forwarding-enabled': false,
    'queue-stalled-enabled': false,
    'queue-stalled-minutes': 30,
    'rename-partial-files': false,
    'rpc-version': RPC_VERSION,
    'rpc-version-minimum': RPC_VERSION_MINIMUM,
    'rpc-version-semver': RPC_VERSION_SEMVER,
    'script-torrent-added-enabled': false,
    'script-torrent-added-filename': '',
    'script-torrent-done-enabled': false,
    'script-torrent-done-filename': '',
    'script-torrent-done-seeding-enabled': false,
    'script-torrent-done-seeding-filename': '',
    'seed-queue-enabled': false,
    'seed-queue-size': 0,
    seedRatioLimit: s.seedRatio ?? 2,
    seedRatioLimited: s.seedRatio !== undefined,
    'session-id': sessionId,
    'speed-limit-down': Math.round((s.rates.down ?? 100 * K) / K),
    'speed-limit-down-enabled': s.rates.down !== undefined,
    'speed-limit-up': Math.round((s.rates.up ?? 100 * K) / K),
    'speed-limit-up-enabled': s.rates.up !== undefined,
    'start-added-torrents': true,
    'trash-original-torrent-files': false,
    units: {
      'speed-units': ['kB/s', 'MB/s', 'GB/s', 'TB/s'],
      'speed-bytes': K,
      'size-units': ['kB', 'MB', 'GB', 'TB'],
      'size-bytes': K,
      'memory-units': ['KiB', 'MiB', 'GiB', 'TiB'],
      'memory-bytes': 1024,
    },
    'utp-enabled': s.transports.includes('utp'),
    version: `${VERSION} (sixswarm)`,
    'sixswarm-version': VERSION,
    'sixswarm-families': { ipv4: s.ipv4, ipv6: s.ipv6 },
    'sixswarm-transports': s.transports,
    'sixswarm-listening': st.listening,
    'sixswarm-addresses': st.addresses,
    'sixswarm-reached': st.reached,
    'sixswarm-tunnel': st.tunnel ?? null,
    'sixswarm-dht': st.dht ?? null,
    'sixswarm-lsd': st.lsd ?? null,
    'sixswarm-allowed-dirs': b.folders.roots,
  };
}

/** session-get: every field, or those asked for. */
export function sessionGet(b: RpcBackend, args: Args, sessionId: string): Record<string, unknown> {
  const all = sessionFields(b, sessionId);
  const fields = args.strings('fields', 1000, 100);
  if (!fields) return all;
  return Object.fromEntries(fields.filter((f) => Object.hasOwn(all, f)).map((f) => [f, all[f]]));
}

/** session-set: apply what can change; refuse by name what cannot. */
export async function sessionSet(b: RpcBackend, args: Args, sessionId: string): Promise<void> {
  const current = sessionFields(b, sessionId);
  const rates = { ...b.settings().rates };
  let ratesChanged = false;
  const limit = (dir: 'down' | 'up') => {
    const on = args.bool(`speed-limit-${dir}-enabled`);
    const kb = args.number(`speed-limit-${dir}`, 0, 1e9);
    if (on === undefined && kb === undefined) return;
    const enabled = on ?? rates[dir] !== undefined;
    const value = kb !== undefined ? kb * K : (rates[dir] ?? current[`speed-limit-${dir}`] as number * K);
    // Transmission lets a limit of 0 stop that direction; ours has no such state: 0 means no limit.
    rates[dir] = enabled && value > 0 ? value : undefined;
    ratesChanged = true;
  };
  limit('down');
  limit('up');
  const dir = args.string('download-dir', 4096);
  const refused: string[] = [];
  for (const key of args.keys()) {
    if (/^speed-limit-(down|up)(-enabled)?$/.test(key) || key === 'download-dir') continue;
    if (!Object.hasOwn(current, key) || JSON.stringify(current[key]) !== JSON.stringify(args.value(key))) refused.push(key);
  }
  if (refused.length > 0) {
    throw new RpcError(`sixswarm cannot change ${refused.slice(0, 10).map((k) => `"${k}"`).join(', ')} over RPC; its settings come from its command line and config file (sixswarm daemon --help)`);
  }
  if (dir !== undefined) await b.folders.setDefault(dir);
  if (ratesChanged) b.setRates(rates);
}
