/** The options `download`, `seed` and `ui` share, read into what the engine and the runner take. */
import { OptionValueError, UsageError } from './usage-error.js';
import type { EngineOptions } from '../src/engine/engine.js';
import { defaultStateDir } from '../src/storage/resume.js';
import { parseDecimalOption, parseDurationOption, parseIntOption, parseRateOption } from './numbers.js';
import type { AnnounceIpPolicy } from '../src/tracker/announce-ip.js';
import { trackerUrlProblem } from '../src/metainfo/urls.js';
import { attributed, withConfig } from './config-options.js';
import { parseOptions, type OptionValues } from './option-table.js';
import { CONFIG_COMMANDS, NOT_IN_UI, SHARED_OPTIONS } from './torrent-option-tables.js';
import { ENCRYPTION_POLICIES, type EncryptionPolicy } from '../src/wire/encryption-policy.js';
import { DEFAULT_BOOTSTRAP } from '../src/dht/dht.js';
import type { DhtConfig } from '../src/discovery/dht-discovery.js';
import { parseHostPortOption } from './host-ports.js';
import { checkFolderWritable } from '../src/storage/writable.js';
import { ENV, envValue } from '../src/util/environment.js';
import { TRANSPORT_KINDS } from '../src/transport/transport.js';
import type { TransportSet } from '../src/utp/tcp-and-utp-network.js';

/**
 * `argv` parsed by `command`'s table, over the config file (options given win; withConfig checks
 * every key of the file, whichever command runs). `attributed` runs the command with them: a bad
 * value it meets is told as coming from the config file when it came from there.
 */
export function parseTorrentArgs<C extends keyof typeof CONFIG_COMMANDS>(argv: string[], command: C) {
  const parsed = parseOptions(CONFIG_COMMANDS[command], argv, { positionals: true, opposites: true });
  // The config file's values have the types of the options they stand for (withConfig checks them).
  const { values, sources } = withConfig(command, CONFIG_COMMANDS, parsed.values);
  const attributedRun = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (e) {
      throw attributed(e, sources);
    }
  };
  return { values: values as typeof parsed.values, positionals: parsed.positionals, attributed: attributedRun };
}

export function parseAnnounceIp(text: string | undefined): AnnounceIpPolicy {
  if (text === undefined) return 'auto';
  if (text === 'auto' || text === 'always' || text === 'never') return text;
  throw new OptionValueError('--announce-ip', `must be auto, always or never, not "${text}"`);
}

export function parseEncryption(text: string | undefined): EncryptionPolicy {
  if (text === undefined) return 'prefer';
  if ((ENCRYPTION_POLICIES as readonly string[]).includes(text)) return text as EncryptionPolicy;
  throw new OptionValueError('--encryption', `must be prefer, require, allow or off, not "${text}"`);
}

/** --transports tcp,utp (default both): at least one, each known, none twice. */
export function parseTransports(text: string | undefined): TransportSet {
  if (text === undefined) return { tcp: true, utp: true };
  const names = text.split(',').map((s) => s.trim().toLowerCase());
  const unknown = names.find((n) => !(TRANSPORT_KINDS as readonly string[]).includes(n));
  if (unknown !== undefined) throw new OptionValueError('--transports', `is a list of tcp and utp (tcp,utp; tcp; utp), not "${text}"`);
  return { tcp: names.includes('tcp'), utp: names.includes('utp') };
}

/** Extra --tracker URLs, one tier each. */
export function parseTrackers(list: string[] | undefined): string[][] {
  return (list ?? []).map((url) => {
    const problem = trackerUrlProblem(url);
    if (problem) throw new OptionValueError('--tracker', `"${url}" is no tracker URL: ${problem}`);
    return [url];
  });
}

export interface TunnelChoice {
  server: string;
  /** Only when the host has no global IPv6 address. */
  auto: boolean;
  /** --tunnel-mode: auto takes the TUN mode when root and /dev/net/tun allow, else the stream mode. */
  mode: 'auto' | 'tun' | 'stream';
  id?: string;
  token?: string;
}

/** --tunnel HOST:PORT | auto | off, with $SIXSWARM_TUNNEL_SERVER as the configured server. */
export function parseTunnel(values: { tunnel?: string; 'tunnel-mode'?: string; 'tunnel-id'?: string; 'tunnel-token'?: string }): TunnelChoice | undefined {
  const configured = envValue(ENV.tunnelServer);
  const mode = values.tunnel ?? (configured ? 'auto' : 'off');
  const tunnelMode = values['tunnel-mode'] ?? 'auto';
  if (tunnelMode !== 'auto' && tunnelMode !== 'tun' && tunnelMode !== 'stream') throw new UsageError(`--tunnel-mode is auto, tun or stream, not "${tunnelMode}"`);
  if (mode === 'off') return undefined;
  const extra = { id: values['tunnel-id'], token: values['tunnel-token'], mode: tunnelMode as TunnelChoice['mode'] };
  if (mode === 'auto') {
    if (!configured) throw new UsageError('--tunnel auto needs a tunnel server: set SIXSWARM_TUNNEL_SERVER=HOST:PORT or give --tunnel HOST:PORT');
    return { server: configured, auto: true, ...extra };
  }
  return { server: mode, auto: false, ...extra };
}

function parseBootstrap(text: string, what: string): DhtConfig['bootstrap'][number] {
  const hp = parseHostPortOption(text, what);
  if (hp.family === 6) throw new OptionValueError(what, `"${text}": the DHT runs over IPv4 only; give an IPv4 address or a host name`);
  return { host: hp.host, port: hp.port };
}

/** --no-dht, --dht-port, --dht-bootstrap (else $SIXSWARM_DHT_BOOTSTRAP, else the public routers). */
export function parseDht(values: { 'no-dht'?: boolean; 'dht-port'?: string; 'dht-bootstrap'?: string[] }): DhtConfig | undefined {
  if (values['no-dht']) return undefined;
  const port = parseIntOption(values['dht-port'], '--dht-port', 0, 65535);
  const env = envValue(ENV.dhtBootstrap)?.trim();
  const bootstrap = values['dht-bootstrap']?.map((b) => parseBootstrap(b, '--dht-bootstrap'))
    ?? (env === 'none' ? [] : env ? env.split(',').map((b) => parseBootstrap(b.trim(), `$${ENV.dhtBootstrap}`)) : DEFAULT_BOOTSTRAP);
  return { port, bootstrap };
}

const STATE_ADVICE = 'it keeps resume state, fetched metadata and locks: give --state-dir DIR (or set SIXSWARM_STATE_DIR) to a folder you can write';

/** The state folder, created if missing and writable; else an InputError naming it and --state-dir (not a raw EACCES from deep inside). */
export function checkStateDir(dir: string): Promise<void> {
  return checkFolderWritable(dir, { name: 'the state folder', cannotCreate: STATE_ADVICE, cannotWrite: STATE_ADVICE });
}

type SharedValues = OptionValues<typeof SHARED_OPTIONS>;

/**
 * The engine's options from the flags `download`, `seed` and `ui` share (each command's own
 * defaults come with the flags): one place, so every command runs torrents by the same rules.
 */
export function engineOptions(values: Omit<SharedValues, (typeof NOT_IN_UI)[number]>): EngineOptions {
  if (values['no-ipv4'] && values['no-ipv6']) throw new UsageError('--no-ipv4 and --no-ipv6 together leave nothing to connect with');
  return {
    port: parseIntOption(values.port, '--port', 0, 65535) ?? 6881,
    // 6881 is only the default: a download while the session UI (or another client) has it listens elsewhere.
    portFallback: values.port === undefined,
    ipv4: !values['no-ipv4'],
    ipv6: !values['no-ipv6'],
    stateDir: values['state-dir'] ?? defaultStateDir(),
    maxPeersPerTorrent: parseIntOption(values['max-peers'], '--max-peers', 1, 10_000),
    rates: { down: parseRateOption(values['max-down'], '--max-down'), up: parseRateOption(values['max-up'], '--max-up') },
    seedGoal: { ratio: parseDecimalOption(values['seed-ratio'], '--seed-ratio', 0, 1e6), seconds: parseDurationOption(values['seed-time'], '--seed-time') },
    encryption: parseEncryption(values.encryption),
    transports: parseTransports(values.transports),
    dht: parseDht(values),
    // Tests and benchmarks turn it off in the environment: they must not talk to the host's router.
    portMapping: !values['no-port-mapping'] && envValue(ENV.portMapping) !== 'off',
    webSeeds: !values['no-web-seeds'],
    // Likewise: tests must not multicast on the host's LAN.
    lsd: !values['no-lsd'] && envValue(ENV.lsd) !== 'off',
    trackers: values['no-trackers'] ? undefined : { announceIp: parseAnnounceIp(values['announce-ip']), extraTiers: parseTrackers(values.tracker) },
  };
}

/** What `download` and `seed` take from the shared flags. */
export interface SharedRunOptions {
  engine: EngineOptions;
  peers: string[];
  json: boolean;
  recheck: boolean;
  tunnel?: TunnelChoice;
}

export function sharedRunOptions(values: SharedValues): SharedRunOptions {
  return { engine: engineOptions(values), peers: values.peer ?? [], json: !!values.json, recheck: !!values.recheck, tunnel: parseTunnel(values) };
}
