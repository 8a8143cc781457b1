/**
 * What every request to a daemon passes before anything reads it: the Host header names this
 * server (localhost, an IP literal, or a name the user allowed: a page elsewhere that rebinds its
 * DNS name to us is refused), and the client has logged in (HTTP Basic) when credentials are
 * set, its failures slowed down by the LoginThrottle. Refusals are HttpErrors.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { printable } from '../util/sanitize.js';
import { basicCredentials, type Credentials } from './credentials.js';
import { HttpError } from './http-error.js';
import { LoginThrottle } from './login-throttle.js';

export interface GuardOptions {
  /** Host names (besides localhost and IP literals) the server answers to. */
  hostNames: readonly string[];
  credentials?: Credentials;
  /** The realm browsers show when they ask for the password. */
  realm: string;
}

/** The host part of a Host header ("[::1]:9091" -> "::1", "Example.org.:80" -> "example.org"). */
export function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return (colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h).replace(/\.$/, '');
}

export class RequestGuard {
  private readonly names: Set<string>;
  private readonly throttle = new LoginThrottle();

  constructor(private readonly o: GuardOptions) {
    this.names = new Set(['localhost', ...o.hostNames.map((n) => n.toLowerCase().replace(/\.$/, ''))]);
  }

  get requiresLogin(): boolean {
    return !!this.o.credentials;
  }

  /** Throws an HttpError unless `req` from `source` may go on; returns the user it logged in as. */
  check(req: IncomingMessage, source: string): string | undefined {
    const header = req.headers.host;
    if (!header) throw new HttpError(400, 'a request needs a Host header');
    const host = hostOf(header);
    if (!isIP(host) && !this.names.has(host)) {
      throw new HttpError(
        421,
        `this server does not answer to the name "${printable(host, 100)}" (a safeguard against DNS rebinding); ` +
          'reach it by IP address or localhost, or start the daemon with --rpc-host NAME',
      );
    }
    const credentials = this.o.credentials;
    if (!credentials) return undefined;
    const given = basicCredentials(req.headers.authorization);
    const challenge = { 'WWW-Authenticate': `Basic realm="${this.o.realm}", charset="UTF-8"` };
    if (!given) throw new HttpError(401, 'log in: this server needs a user name and password (HTTP Basic)', challenge);
    const wait = this.throttle.waitFor(source);
    if (wait > 0) throw new HttpError(429, `too many failed logins; try again in ${Math.ceil(wait / 1000)} s`, { 'Retry-After': String(Math.ceil(wait / 1000)) });
    if (!credentials.check(given.user, given.password)) {
      this.throttle.failed(source);
      throw new HttpError(401, 'wrong user name or password', challenge);
    }
    this.throttle.succeeded(source);
    return given.user;
  }
}
