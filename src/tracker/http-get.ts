/**
 * One bounded HTTP(S) GET pinned to an address of one family: the connection goes to `address`
 * over the network given (the kernel's by default) while the Host header (and TLS server name)
 * stay the tracker's hostname.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Family } from '../net/address.js';
import { KERNEL_TRACKER_NETWORK } from '../transport/kernel/kernel-network.js';
import type { TrackerNetwork } from '../transport/network.js';
import { TrackerError, toTrackerError } from './errors.js';
import type { TrackerUrl } from './url.js';

export interface HttpGetOptions {
  address: string;
  family: Family;
  timeoutMs: number;
  maxBody: number;
  signal?: AbortSignal;
  /** Extra trusted CA certificates (PEM) for HTTPS trackers with a private CA. */
  ca?: string | Buffer;
  /** Where the connection is opened (default: the kernel's sockets). */
  network?: TrackerNetwork;
}

export interface HttpGetResult {
  status: number;
  body: Buffer;
  /** The Location header, for redirects. */
  location?: string;
}

export function httpGet(t: TrackerUrl, path: string, o: HttpGetOptions): Promise<HttpGetResult> {
  return new Promise((resolve, reject) => {
    const connect = () => {
      const stream = (o.network ?? KERNEL_TRACKER_NETWORK).openStream({ host: o.address, port: t.port, family: o.family });
      if (t.protocol !== 'https') return stream;
      // SNI carries names only; an address literal is checked against the certificate as it is.
      return tlsConnect({ socket: stream, host: t.host, ...(isIP(t.host) ? {} : { servername: t.host }), ...(o.ca ? { ca: o.ca } : {}) });
    };
    const mod = t.protocol === 'https' ? https : http;
    let settled = false;
    const finish = (err: TrackerError | undefined, res?: HttpGetResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(res!);
    };
    const req = mod.request({
      host: t.host,
      port: t.port,
      path,
      method: 'GET',
      // No agent: each request gets its own connection, made by `connect` on the pinned address.
      createConnection: connect,
      headers: { 'user-agent': 'sixswarm', accept: '*/*', connection: 'close' },
    });
    const timer = setTimeout(() => finish(new TrackerError(`no complete reply within ${Math.round(o.timeoutMs / 100) / 10} s`, { timedOut: true })), o.timeoutMs);
    const onAbort = () => finish(new TrackerError('cancelled'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => finish(toTrackerError(e, `HTTP request to ${o.address} failed`)));
    req.on('response', (res) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > o.maxBody) {
        finish(new TrackerError(`reply of ${declared} bytes exceeds the ${o.maxBody}-byte limit`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > o.maxBody) finish(new TrackerError(`reply exceeds the ${o.maxBody}-byte limit; connection dropped`));
        else chunks.push(c);
      });
      res.on('aborted', () => finish(new TrackerError('reply cut short (connection closed before the declared length)')));
      res.on('error', (e) => finish(toTrackerError(e, 'reply cut short')));
      const location = res.headers.location;
      res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks), ...(location !== undefined ? { location } : {}) }));
    });
    req.end();
  });
}
