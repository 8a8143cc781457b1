/** HOST:PORT parsing for --peer, --server and tracker URLs: `1.2.3.4:6881`, `[2001:db8::1]:6881`, `name:80`. */
import { canonicalIp, familyOf, type Family } from './address.js';

export interface HostPort {
  host: string; // IP literal (canonical, no brackets) or a hostname
  port: number;
  /** Set when host is an IP literal. */
  family?: Family;
}

export function parseHostPort(text: string, what = 'address'): HostPort {
  const hint = `expected ${what} as 1.2.3.4:6881, [2001:db8::1]:6881 or host.example:6881`;
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') throw new Error(`bad ${what} "${text}": ${hint}`);
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (familyOf(host) !== 6) throw new Error(`bad ${what} "${text}": "${host}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new Error(`bad ${what} "${text}": missing port; ${hint}`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw new Error(`bad ${what} "${text}": put IPv6 addresses in brackets, ${hint}`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new Error(`bad ${what} "${text}": port must be 1-65535`);
  }
  if (!host || !/^[A-Za-z0-9.\-_:%]+$/.test(host)) throw new Error(`bad ${what} "${text}": bad host name`);
  const family = familyOf(host);
  return family ? { host: canonicalIp(host)!, port: Number(portText), family } : { host, port: Number(portText) };
}

/** `1.2.3.4:80` or `[2001:db8::1]:80`. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
