/**
 * The HTTP UPnP needs, bounded: URLs of the form http://IP[:port]/path only (a gateway names
 * itself by address; a hostname could point anywhere), and one request at a time with a
 * deadline for the whole exchange (a slow-loris gateway dripping bytes cannot hold us), a cap on
 * headers and body (an endless description cannot grow memory), sent from a chosen local
 * address (an IPv6 pinhole is granted only to the address that asks for it).
 */
import http from 'node:http';
import { canonicalIp, classify, familyOf } from '../../net/address.js';
import { PortMapError } from '../errors.js';

export interface HttpUrl {
  /** Canonical IP literal, no brackets, no zone. */
  host: string;
  port: number;
  /** Path and query, starting with '/'. */
  path: string;
}

/** Parses an absolute http:// URL whose host is an IP literal; throws an Error saying what is wrong. */
export function parseHttpUrl(text: string): HttpUrl {
  const m = /^http:\/\/(\[[0-9a-fA-F:.]+\]|[0-9.]+)(?::(\d{1,5}))?(\/[^\s#]*)?$/i.exec(text.trim());
  if (!m) {
    if (/^https?:\/\/[^/]*[a-z]/i.test(text) && !/^https?:\/\/\[/i.test(text)) throw new Error(`URL ${JSON.stringify(text.slice(0, 120))} names a host by name, not by address`);
    throw new Error(`not an http://ADDRESS[:PORT]/PATH URL: ${JSON.stringify(text.slice(0, 120))}`);
  }
  const host = canonicalIp(m[1]!.replace(/^\[|\]$/g, ''));
  if (!host) throw new Error(`URL ${JSON.stringify(text.slice(0, 120))} has no valid address`);
  const port = m[2] ? Number(m[2]) : 80;
  if (port < 1 || port > 65535) throw new Error(`URL ${JSON.stringify(text.slice(0, 120))} has port ${port}`);
  return { host, port, path: m[3] ?? '/' };
}

/** `ref` (absolute, absolute-path or relative) against `base`, as RFC 3986 resolves them (without dot segments, which UPnP never uses). */
export function resolveUrl(base: HttpUrl, ref: string): HttpUrl {
  const r = ref.trim();
  if (/^[a-z][a-z0-9+.-]*:/i.test(r)) return parseHttpUrl(r);
  if (r.startsWith('//')) return parseHttpUrl(`http:${r}`);
  if (r.startsWith('/')) return { ...base, path: r };
  const dir = base.path.split('?')[0]!.replace(/[^/]*$/, '');
  return { ...base, path: dir + r };
}

export function formatUrl(u: HttpUrl): string {
  const host = familyOf(u.host) === 6 ? `[${u.host}]` : u.host;
  return `http://${host}${u.port === 80 ? '' : `:${u.port}`}${u.path}`;
}

export interface HttpRequestOptions {
  url: HttpUrl;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Source address of the connection. */
  localAddress?: string;
  /** Interface for a link-local host. */
  zone?: string;
  timeoutMs: number;
  maxBytes: number;
  /** Aborts the request (the mapper stopping). */
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  contentType: string;
  body: string;
}

const MAX_HEADER_BYTES = 8 * 1024;

export function httpRequest(o: HttpRequestOptions): Promise<HttpResponse> {
  const where = formatUrl(o.url);
  return new Promise((resolve, reject) => {
    let settled = false;
    const onAbort = () => fail('unreachable', 'cancelled');
    const fail = (kind: 'unreachable' | 'bad-reply', why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      o.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      reject(new PortMapError('upnp', kind, `${o.method} ${where}: ${why}`));
    };
    const linkLocal = classify(o.url.host)?.kind === 'link-local';
    const body = o.body === undefined ? undefined : Buffer.from(o.body, 'utf8');
    const req = http.request({
      host: linkLocal && o.zone ? `${o.url.host}%${o.zone}` : o.url.host,
      port: o.url.port,
      path: o.url.path,
      method: o.method,
      agent: false,
      setHost: false,
      maxHeaderSize: MAX_HEADER_BYTES,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      headers: {
        host: `${familyOf(o.url.host) === 6 ? `[${o.url.host}]` : o.url.host}:${o.url.port}`,
        'user-agent': 'sixswarm UPnP/1.1',
        connection: 'close',
        ...(body ? { 'content-length': String(body.length) } : {}),
        ...o.headers,
      },
    });
    const deadline = setTimeout(() => fail('unreachable', `no complete reply within ${o.timeoutMs / 1000} s`), o.timeoutMs);
    if (o.signal?.aborted) queueMicrotask(onAbort);
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) => fail(e.code === 'HPE_HEADER_OVERFLOW' ? 'bad-reply' : 'unreachable', e.code === 'HPE_HEADER_OVERFLOW' ? `reply headers exceed ${MAX_HEADER_BYTES} bytes` : e.message));
    req.on('response', (res) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > o.maxBytes) return fail('bad-reply', `reply of ${declared} bytes exceeds the ${o.maxBytes}-byte limit`);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > o.maxBytes) fail('bad-reply', `reply exceeds the ${o.maxBytes}-byte limit; connection dropped`);
        else chunks.push(c);
      });
      res.on('error', (e) => fail('unreachable', `reply cut short: ${e.message}`));
      res.on('aborted', () => fail('unreachable', 'reply cut short'));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        o.signal?.removeEventListener('abort', onAbort);
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(body);
  });
}
