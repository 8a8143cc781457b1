/**
 * Every environment variable sixswarm reads, in one place, with what it does; modules ask here
 * instead of reading process.env themselves. (NO_COLOR and TERM belong to the terminal UI's
 * theme, which is handed its environment.)
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export const ENV = {
  /** The config file to read instead of the XDG location (it must exist). */
  config: 'SIXSWARM_CONFIG',
  /** Where resume state, fetched metadata, locks and the DHT's table live. */
  stateDir: 'SIXSWARM_STATE_DIR',
  /** The DHT's bootstrap nodes (comma-separated HOST:PORT, or `none`) when no --dht-bootstrap is given. */
  dhtBootstrap: 'SIXSWARM_DHT_BOOTSTRAP',
  /** `off`: no port mapping whatever the options say (tests and benchmarks never talk to the host's router). */
  portMapping: 'SIXSWARM_PORT_MAPPING',
  /** `off`: no local peer discovery whatever the options say (tests and benchmarks never multicast on the host's LAN). */
  lsd: 'SIXSWARM_LSD',
  /** The tunnel server `--tunnel auto` uses; set, it makes auto the default. */
  tunnelServer: 'SIXSWARM_TUNNEL_SERVER',
  /**
   * `1`: the documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32) count as
   * global addresses. Test topologies number their "Internet" from them; on a real host they
   * never carry traffic, so they are never our global address (some sandboxes use them).
   */
  documentationAsGlobal: 'SIXSWARM_TREAT_DOCUMENTATION_RANGES_AS_GLOBAL',
  /** Transmission's web page (its folder), which `daemon` serves at /transmission/web/, as Transmission does. */
  transmissionWebHome: 'TRANSMISSION_WEB_HOME',
  /** Systemd's journal is our stderr: log lines carry a priority instead of a time. */
  journalStream: 'JOURNAL_STREAM',
} as const;

/** A variable's value, or undefined when unset or empty. */
export function envValue(name: string): string | undefined {
  return process.env[name] || undefined;
}

export function documentationRangesAreGlobal(): boolean {
  return process.env[ENV.documentationAsGlobal] === '1';
}

/** $XDG_DATA_DIRS (where installed packages keep their data), else its default. */
export function xdgDataDirs(): string[] {
  return (envValue('XDG_DATA_DIRS') ?? '/usr/local/share:/usr/share').split(':').filter((d) => d.startsWith('/'));
}

/** An XDG base folder: $NAME, else the fallback under the home folder. */
export function xdgDir(name: 'XDG_CONFIG_HOME' | 'XDG_STATE_HOME' | 'XDG_DATA_HOME' | 'XDG_DOWNLOAD_DIR', ...fallback: string[]): string {
  return envValue(name) ?? join(homedir(), ...fallback);
}
