/**
 * Connecting to a web server over the engine's Network, as peers are connected: every address of
 * the host name (A and AAAA), Happy Eyeballs across them (IPv6 first, families turned off never
 * tried), then TLS for https (the certificate checked against the host name, or against the
 * address for a literal), all within one deadline. The result is an HttpConnection.
 */
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { familyOf, type Family } from '../net/address.js';
import { dial, resolveTargets, targetFamily, type Connector } from '../transport/happy-eyeballs.js';
import type { DialOneOptions, DialTarget, Network } from '../transport/network.js';
import { HttpConnection, type ConnectionTimeouts } from './connection.js';
import { HttpClientError } from './client-error.js';

/** What HTTP needs of a network: byte streams to one address. */
export type HttpNetwork = Pick<Network, 'openStream'>;

/** Where a request goes: scheme, host and port of a URL. */
export interface Origin {
  tls: boolean;
  /** The host name or address literal (an IPv6 one without brackets). */
  hostname: string;
  port: number;
}

export function originOf(url: URL): Origin {
  const tls = url.protocol === 'https:';
  return { tls, hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : tls ? 443 : 80 };
}

export function sameOrigin(a: Origin, b: Origin): boolean {
  return a.tls === b.tls && a.hostname === b.hostname && a.port === b.port;
}

export interface ConnectOptions extends ConnectionTimeouts {
  families: { 4: boolean; 6: boolean };
  /** For the name lookup, every connection attempt and the TLS handshake together. */
  connectTimeoutMs: number;
}

interface Opened {
  stream: Duplex;
  target: DialTarget;
  close(): void;
}

/** Streams from Network.openStream, counted as connected on their 'connect' (a socket's). */
class StreamConnector implements Connector<Opened> {
  constructor(private readonly network: HttpNetwork) {}

  dial(target: DialTarget, opts: DialOneOptions): Promise<Opened> {
    return new Promise((resolve, reject) => {
      if (opts.signal.aborted) return reject(new Error('connect aborted'));
      const stream = this.network.openStream({ host: target.host, port: target.port, family: targetFamily(target) });
      const done = () => {
        opts.signal.removeEventListener('abort', onAbort);
        stream.removeListener('error', onError);
      };
      const onAbort = () => {
        done();
        stream.destroy();
        reject(new Error('connect aborted'));
      };
      const onError = (e: Error) => {
        done();
        stream.destroy();
        reject(e);
      };
      opts.signal.addEventListener('abort', onAbort, { once: true });
      stream.once('error', onError);
      stream.once('connect', () => {
        done();
        (stream as Duplex & { setNoDelay?(on: boolean): void }).setNoDelay?.(true);
        resolve({ stream, target, close: () => stream.destroy() });
      });
    });
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string, onLate: (v: T) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new HttpClientError(`${what} took longer than ${ms / 1000} s`, 'timeout'));
    }, ms);
    p.then(
      (v) => (late ? onLate(v) : (clearTimeout(timer), resolve(v))),
      (e: unknown) => {
        clearTimeout(timer);
        if (!late) reject(e);
      },
    );
  });
}

/** A connection to `origin`, connected (and TLS-secured for https). Failures are HttpErrors of kind connect, tls or timeout. */
export async function openConnection(network: HttpNetwork, origin: Origin, opts: ConnectOptions): Promise<HttpConnection> {
  const started = Date.now();
  const left = () => Math.max(1, opts.connectTimeoutMs - (Date.now() - started));
  const name = origin.hostname;
  let targets: DialTarget[];
  try {
    targets = await withDeadline(resolveTargets(name, origin.port), left(), `looking up ${name}`, () => {});
  } catch (e) {
    if (e instanceof HttpClientError) throw e;
    throw new HttpClientError(`cannot look up ${name}: ${(e as Error).message}`, 'connect');
  }
  let opened: Opened;
  try {
    opened = await dial(new StreamConnector(network), targets, { timeoutMs: left(), families: opts.families });
  } catch (e) {
    const msg = (e as Error).message;
    throw new HttpClientError(`cannot connect to ${name} port ${origin.port}: ${msg}`, /timed out/.test(msg) ? 'timeout' : 'connect');
  }
  const family: Family = familyOf(opened.target.host) ?? 4;
  const remote = { host: opened.target.host, port: opened.target.port, family };
  if (!origin.tls) return new HttpConnection(opened.stream, remote, opts);
  const secured = new Promise<TLSSocket>((resolve, reject) => {
    // SNI carries names only; an address literal is checked against the certificate as it is.
    const tls = tlsConnect({ socket: opened.stream, host: name, ...(isIP(name) ? {} : { servername: name }), ALPNProtocols: ['http/1.1'] });
    let secure = false;
    tls.once('secureConnect', () => {
      secure = true;
      resolve(tls);
    });
    // Kept after the handshake (a no-op then): the connection's own listener takes over.
    tls.on('error', (e) => {
      if (secure) return;
      tls.destroy();
      // A certificate the system does not trust: say how to trust it.
      const hint = /certificate|CERT_|self.signed/i.test(`${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`) ? ' (to trust another certificate authority, set NODE_EXTRA_CA_CERTS to its PEM file)' : '';
      reject(new HttpClientError(`TLS with ${name} failed: ${e.message}${hint}`, 'tls'));
    });
  });
  const tls = await withDeadline(secured, left(), `the TLS handshake with ${name}`, (s) => s.destroy()).catch((e: unknown) => {
    opened.close();
    throw e;
  });
  return new HttpConnection(tls, remote, opts);
}
