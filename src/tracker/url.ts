/** Tracker URL parsing: http, https and udp, with bracketed IPv6 literals and hostnames. */
import { canonicalIp, familyOf, type Family } from '../net/address.js';

export type TrackerProtocol = 'http' | 'https' | 'udp';

export interface TrackerUrl {
  /** The URL as given (used as the tracker's name in events). */
  text: string;
  protocol: TrackerProtocol;
  /** Hostname or canonical IP literal, without brackets. */
  host: string;
  port: number;
  /** Set when host is an IP literal: the only family this tracker can be reached on. */
  literalFamily?: Family;
  /** Path plus query (`/announce?passkey=x`), HTTP only. */
  path: string;
}

const DEFAULT_PORT: Record<TrackerProtocol, number> = { http: 80, https: 443, udp: 80 };

export function parseTrackerUrl(text: string): TrackerUrl {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a URL`);
  }
  const protocol = u.protocol.slice(0, -1);
  if (protocol !== 'http' && protocol !== 'https' && protocol !== 'udp') {
    throw new Error(`unsupported tracker protocol "${protocol}:" in ${text} (http, https and udp are supported)`);
  }
  if (u.username || u.password) throw new Error(`tracker URL ${text} carries credentials; refusing it`);
  if (protocol === 'udp' && !u.port) throw new Error(`UDP tracker URL ${text} has no port`);
  const bare = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  if (!bare) throw new Error(`tracker URL ${text} has no host`);
  const literalFamily = familyOf(bare);
  return {
    text,
    protocol,
    host: literalFamily ? canonicalIp(bare)! : bare,
    port: u.port ? Number(u.port) : DEFAULT_PORT[protocol],
    ...(literalFamily ? { literalFamily } : {}),
    path: `${u.pathname || '/'}${u.search}`,
  };
}

/** BEP 48: the scrape URL replaces a final "announce" path component with "scrape". */
export function scrapePath(t: TrackerUrl): string {
  const q = t.path.indexOf('?');
  const pathname = q < 0 ? t.path : t.path.slice(0, q);
  const slash = pathname.lastIndexOf('/');
  const last = pathname.slice(slash + 1);
  if (!last.startsWith('announce')) throw new Error(`tracker ${t.text} does not support scrape (its path does not end in /announce)`);
  return `${pathname.slice(0, slash + 1)}scrape${last.slice('announce'.length)}${q < 0 ? '' : t.path.slice(q)}`;
}
