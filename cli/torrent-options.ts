/** Options `download` and `seed` share, parsed the same way for both. */
import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';
import type { EngineOptions } from '../src/engine/engine.js';
import { defaultStateDir } from '../src/storage/resume.js';
import { parseDecimalOption, parseDurationOption, parseIntOption, parseRateOption } from './numbers.js';
import { ANNOUNCE_IP_HELP, type AnnounceIpPolicy } from '../src/tracker/announce-ip.js';
import { isTrackerUrl } from '../src/metainfo/urls.js';
import { withConfig } from './config-options.js';
import { ENCRYPTION_POLICIES, type EncryptionPolicy } from '../src/wire/encryption-policy.js';
import { DEFAULT_BOOTSTRAP } from '../src/dht/dht.js';
import type { DhtConfig } from '../src/discovery/dht-discovery.js';
import { parseHostPort } from '../src/net/hostport.js';
import { errorMessage } from '../src/util/errors.js';
import { ENV, envValue } from '../src/util/environment.js';

export const SHARED_OPTIONS = {
  peer: { type: 'string', multiple: true },
  port: { type: 'string' },
  'no-ipv4': { type: 'boolean' },
  'no-ipv6': { type: 'boolean' },
  json: { type: 'boolean' },
  recheck: { type: 'boolean' },
  'state-dir': { type: 'string' },
  'max-peers': { type: 'string' },
  tracker: { type: 'string', multiple: true },
  'no-trackers': { type: 'boolean' },
  'announce-ip': { type: 'string' },
  tunnel: { type: 'string' },
  'tunnel-mode': { type: 'string' },
  'tunnel-id': { type: 'string' },
  'tunnel-token': { type: 'string' },
  'max-down': { type: 'string' },
  'max-up': { type: 'string' },
  'seed-ratio': { type: 'string' },
  'seed-time': { type: 'string' },
  encryption: { type: 'string' },
  'no-dht': { type: 'boolean' },
  'dht-port': { type: 'string' },
  'dht-bootstrap': { type: 'string', multiple: true },
} as const;

export const SHARED_HELP = `  --peer HOST:PORT    connect to this peer (repeatable): 1.2.3.4:6881, [2001:db8::1]:6881, host.example:6881
                      (a host name with A and AAAA records is dialed Happy-Eyeballs style, IPv6 first)
  --port N            listening port for both IPv4 and IPv6 (default 6881; 0 picks a free one)
  --no-ipv4           do not listen on or connect over IPv4
  --no-ipv6           do not listen on or connect over IPv6
  --json              print one JSON object per line on stdout (events: listening, checking, checked,
                      peer-connected, peer-disconnected, piece-verified, piece-failed, peer-banned,
                      tracker, tunnel, dht-listening, dht, progress, complete, warning, error, stopped)
                      and nothing else
  --recheck           hash all data on disk, ignoring saved resume state
  --state-dir DIR     where resume state lives (default $SIXSWARM_STATE_DIR, else $XDG_STATE_HOME/sixswarm,
                      else ~/.local/state/sixswarm)
  --max-peers N       connected peers per torrent (default 60)
  --max-down RATE     download at most RATE bytes per second (500k, 2M, 1.5MiB/s; binary units;
                      0 or absent: no limit). Requests go out only as fast as the limit lets data
                      in, shared by the peers in turn; shown in the progress line as (max ...)
  --max-up RATE       upload at most RATE bytes per second, likewise
  --seed-ratio R      once complete, seed until uploaded / downloaded reaches R (for a seed that
                      downloaded nothing: uploaded / size), then exit 0
  --seed-time DURATION
                      once complete, seed for DURATION (90, 30s, 10m, 2h, 1h30m), then exit 0;
                      with --seed-ratio too, whichever comes first
  --tracker URL       announce to this tracker too (repeatable; http, https or udp; IPv6 literals
                      in brackets: udp://[2001:db8::1]:6969). Every tracker is announced to once per
                      address family we can use (BEP 7), each from a socket of that family.
  --no-trackers       do not announce to any tracker (peers only from --peer and what they tell us: PEX)
${ANNOUNCE_IP_HELP.split('\n').map((l) => `  ${l}`).join('\n')}
  --tunnel HOST:PORT|auto|off
                      bring up the built-in IPv6-over-IPv4 tunnel for this session: a routed /64
                      from that tunnel server; the engine then binds, announces and advertises the
                      tunnel's address (prefix::1) and accepts IPv6 peers on it. auto (the default
                      when $SIXSWARM_TUNNEL_SERVER is set): only when this host has no global IPv6
                      address of its own. off: never.
  --tunnel-mode auto|tun|stream
                      tun: a TUN device carries the packets (root and /dev/net/tun); stream: the
                      tunnel server (sixswarm tunnel-server) relays our IPv6 connections, no device
                      and no root needed; auto (default): tun when it can run here, else stream
  --encryption prefer|require|allow|off
                      protocol encryption (MSE/PE, RC4) with peers. Peers that dial us are answered
                      in kind (their first bytes tell plaintext from encrypted). prefer (default):
                      dial encrypted, and in plaintext a peer that does not speak encryption
                      (remembered per peer); require: encrypted only, never a plaintext byte in
                      either direction (plaintext-only peers are not reached); allow: dial in
                      plaintext (encrypted to peers known to want it), accept both; off: plaintext
                      only, encrypted attempts are refused
  --tunnel-id ID      Id to present to the tunnel server (default: the MAC of the uplink)
  --tunnel-token T    token for a tunnel server that requires one
  --no-dht            do not use the DHT at all (no UDP socket, no lookups, no announces)
  --dht-port N        UDP port of our DHT node (default: the listening port; 0 picks a free one)
  --dht-bootstrap HOST:PORT
                      join the DHT through this node (repeatable; IPv4 address or host name),
                      instead of $SIXSWARM_DHT_BOOTSTRAP (comma-separated HOST:PORT list, or none),
                      else the public routers (router.bittorrent.com:6881 and others).
                      The DHT (BEP 5) runs over IPv4 only, by design: without IPv4 (--no-ipv4) it
                      is off. Private torrents (BEP 27) never use it. Its routing table is kept in
                      the state folder (dht-PORT.state) for the next start.
  -h, --help          this help

Every long option can also be set in the config file ($XDG_CONFIG_HOME/sixswarm/config.toml, key =
the option without its dashes); options given here win. \`sixswarm config\` shows the settings in
force and where each comes from; \`sixswarm config --help\` describes the file.`;

/** Options of `download` only. */
export const DOWNLOAD_OPTIONS = {
  output: { type: 'string', short: 'o' },
  'exit-on-complete': { type: 'boolean' },
  select: { type: 'string', multiple: true },
  skip: { type: 'string', multiple: true },
  sequential: { type: 'boolean' },
} as const;

/** Shared options `ui` refuses: they name one transfer's peers, its output or a tunnel of its own. */
export const NOT_IN_UI = ['peer', 'json', 'recheck', 'tunnel', 'tunnel-mode', 'tunnel-id', 'tunnel-token'] as const;
type UiShared = Omit<typeof SHARED_OPTIONS, (typeof NOT_IN_UI)[number]>;
const UI_SHARED = Object.fromEntries(Object.entries(SHARED_OPTIONS).filter(([k]) => !(NOT_IN_UI as readonly string[]).includes(k))) as UiShared;

/** `ui`'s own options. */
export const UI_OPTIONS = {
  session: { type: 'string' },
  output: { type: 'string', short: 'o' },
} as const;

/** The commands that read the config file, with their options (every key of the file is one of these). */
export const CONFIG_COMMANDS = {
  download: { ...SHARED_OPTIONS, ...DOWNLOAD_OPTIONS },
  seed: SHARED_OPTIONS,
  ui: { ...UI_SHARED, ...UI_OPTIONS },
} as const;

/**
 * The shared options plus `extra`; for `download` and `seed` (`config`), over the config file
 * (options given win).
 */
export function parseTorrentArgs<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>>(
  argv: string[],
  extra: T,
  config?: keyof typeof CONFIG_COMMANDS,
) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...SHARED_OPTIONS, ...extra }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}. Run with --help for the options.`);
  }
  if (!config) return parsed;
  // The config file's values have the types of the options they stand for (withConfig checks them).
  const { values } = withConfig(config, CONFIG_COMMANDS, parsed.values);
  return { values: values as typeof parsed.values, positionals: parsed.positionals };
}

export function parseAnnounceIp(text: string | undefined): AnnounceIpPolicy {
  if (text === undefined) return 'auto';
  if (text === 'auto' || text === 'always' || text === 'never') return text;
  throw new UsageError(`--announce-ip must be auto, always or never, not "${text}"`);
}

export function parseEncryption(text: string | undefined): EncryptionPolicy {
  if (text === undefined) return 'prefer';
  if ((ENCRYPTION_POLICIES as readonly string[]).includes(text)) return text as EncryptionPolicy;
  throw new UsageError(`--encryption must be prefer, require, allow or off, not "${text}"`);
}

/** Extra --tracker URLs, one tier each. */
export function parseTrackers(list: string[] | undefined): string[][] {
  return (list ?? []).map((url) => {
    if (!isTrackerUrl(url)) throw new UsageError(`--tracker "${url}" is not an http://, https:// or udp:// tracker URL`);
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
  let hp;
  try {
    hp = parseHostPort(text, what);
  } catch (e) {
    throw new UsageError(errorMessage(e));
  }
  if (hp.family === 6) throw new UsageError(`${what} "${text}": the DHT runs over IPv4 only; give an IPv4 address or a host name`);
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

type SharedValues = { [K in keyof typeof SHARED_OPTIONS]?: (typeof SHARED_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof SHARED_OPTIONS)[K] extends { type: 'boolean' } ? boolean : string };

/**
 * The engine's options from the flags `download`, `seed` and `ui` share (each command's own
 * defaults come with the flags): one place, so every command runs torrents by the same rules.
 */
export function engineOptions(values: Omit<SharedValues, (typeof NOT_IN_UI)[number]>): EngineOptions {
  if (values['no-ipv4'] && values['no-ipv6']) throw new UsageError('--no-ipv4 and --no-ipv6 together leave nothing to connect with');
  return {
    port: parseIntOption(values.port, '--port', 0, 65535) ?? 6881,
    ipv4: !values['no-ipv4'],
    ipv6: !values['no-ipv6'],
    stateDir: values['state-dir'] ?? defaultStateDir(),
    maxPeersPerTorrent: parseIntOption(values['max-peers'], '--max-peers', 1, 10_000),
    rates: { down: parseRateOption(values['max-down'], '--max-down'), up: parseRateOption(values['max-up'], '--max-up') },
    seedGoal: { ratio: parseDecimalOption(values['seed-ratio'], '--seed-ratio', 0, 1e6), seconds: parseDurationOption(values['seed-time'], '--seed-time') },
    encryption: parseEncryption(values.encryption),
    dht: parseDht(values),
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
