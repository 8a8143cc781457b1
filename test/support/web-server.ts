/**
 * Test support for web seeds: a real nginx (Debian's) run by the test on loopback ports, over
 * 127.0.0.1 and [::1], plain and with a self-signed certificate made by openssl, from a config,
 * pid file, logs and temp paths of its own under the test's folder (never the system's nginx);
 * and torrents given a `url-list` or `httpseeds` (the info dictionary, hence the info hash,
 * untouched).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BDict, decode, encode } from '../../src/bencode/index.js';
import { spawnTracked, freePort, type SixswarmProcess } from './sixswarm.js';
import { waitUntil } from './peers.js';

const execFileAsync = promisify(execFile);

export const NGINX = '/usr/sbin/nginx';

export interface Certificate {
  cert: string;
  key: string;
}

/** A self-signed certificate for localhost, 127.0.0.1 and ::1 (trust it with NODE_EXTRA_CA_CERTS=cert). */
export async function selfSignedCertificate(dir: string): Promise<Certificate> {
  await mkdir(dir, { recursive: true });
  const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
  await execFileAsync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
  ], { timeout: 30_000 });
  return { cert, key };
}

export interface Nginx {
  proc: SixswarmProcess;
  /** Plain HTTP on 127.0.0.1 and [::1]. */
  port: number;
  /** HTTPS on both, when a certificate was given. */
  tlsPort?: number;
  /** Its access log's lines, one per request: `$remote_addr $scheme $request $status $body_bytes_sent "$http_range" $connection_requests`. */
  requests(): Promise<string[]>;
}

export interface NginxConfig {
  root: string;
  /** Where its config, pid file, logs and temp paths go. */
  dir: string;
  /** Plain HTTP on these host:port (an IPv6 host in brackets). */
  listen: string[];
  /** HTTPS on these, with `tls`. */
  tlsListen?: string[];
  tls?: Certificate;
  /** Directives for its server blocks (limit_rate 2m;). */
  extra?: string;
}

/** An nginx config of the test's own (never the system's): one process, logs and temp paths under `dir`. */
export async function writeNginxConfig(o: NginxConfig): Promise<string> {
  await mkdir(join(o.dir, 'temp'), { recursive: true });
  const server = (listen: string[], ssl: string) => `server {
    ${listen.map((l) => `listen ${l}${ssl};`).join(' ')}
    root ${o.root};
    ${ssl && o.tls ? `ssl_certificate ${o.tls.cert}; ssl_certificate_key ${o.tls.key};` : ''}
    ${o.extra ?? ''}
  }`;
  const conf = `
pid ${join(o.dir, 'nginx.pid')};
error_log ${join(o.dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  default_type application/octet-stream;
  sendfile on;
  keepalive_timeout 65;
  log_format ranges '$remote_addr $scheme $request $status $body_bytes_sent "$http_range" $connection_requests';
  access_log ${join(o.dir, 'access.log')} ranges;
  client_body_temp_path ${join(o.dir, 'temp', 'body')};
  proxy_temp_path ${join(o.dir, 'temp', 'proxy')};
  fastcgi_temp_path ${join(o.dir, 'temp', 'fastcgi')};
  uwsgi_temp_path ${join(o.dir, 'temp', 'uwsgi')};
  scgi_temp_path ${join(o.dir, 'temp', 'scgi')};
  ${server(o.listen, '')}
  ${o.tlsListen?.length ? server(o.tlsListen, ' ssl') : ''}
}
`;
  const file = join(o.dir, 'nginx.conf');
  await writeFile(file, conf);
  return file;
}

/**
 * The command line that runs nginx from `conf` in the foreground as one process (no master, no
 * workers): killing it stops it all, nothing is left behind.
 */
export function nginxArgs(dir: string, conf: string): string[] {
  return ['-p', dir, '-c', conf, '-g', 'daemon off; master_process off;'];
}

/** Resolves once nginx wrote its pid file, which it does after opening every listening socket. */
export async function nginxReady(dir: string, proc: { stderr: string }): Promise<void> {
  await waitUntil(() => existsSync(join(dir, 'nginx.pid')), 15_000, () => `nginx starting: ${proc.stderr}`);
}

/** The access log's lines. */
export async function accessLog(dir: string): Promise<string[]> {
  return (await readFile(join(dir, 'access.log'), 'utf8').catch(() => '')).split('\n').filter((l) => l.length > 0);
}

/** nginx serving `root` on loopback (both families, a free port each for HTTP and HTTPS), from `dir`. */
export async function startNginx(o: { root: string; dir: string; tls?: Certificate; extra?: string }): Promise<Nginx> {
  const port = await freePort();
  const tlsPort = o.tls ? await freePort() : undefined;
  const conf = await writeNginxConfig({
    root: o.root,
    dir: o.dir,
    listen: [`127.0.0.1:${port}`, `[::1]:${port}`],
    ...(o.tls && tlsPort ? { tls: o.tls, tlsListen: [`127.0.0.1:${tlsPort}`, `[::1]:${tlsPort}`] } : {}),
    ...(o.extra ? { extra: o.extra } : {}),
  });
  const proc = spawnTracked(NGINX, nginxArgs(o.dir, conf), { label: 'nginx' });
  await nginxReady(o.dir, proc);
  return { proc, port, ...(tlsPort ? { tlsPort } : {}), requests: () => accessLog(o.dir) };
}

/** Write `out`: the torrent at `torrent` with these web seeds (the info dictionary kept byte for byte). */
export async function withWebSeeds(torrent: string, out: string, seeds: { urlList?: string[]; httpSeeds?: string[] }): Promise<string> {
  const root = decode(await readFile(torrent));
  if (!(root instanceof BDict)) throw new Error(`${torrent} is not a torrent`);
  if (seeds.urlList) root.set('url-list', seeds.urlList.map((u) => Buffer.from(u)));
  if (seeds.httpSeeds) root.set('httpseeds', seeds.httpSeeds.map((u) => Buffer.from(u)));
  await writeFile(out, encode(root));
  return out;
}
