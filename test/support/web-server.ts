/**
 * Test support for web seeds: a real nginx (Debian's) run by the test on loopback ports, over
 * 127.0.0.1 and [::1], plain and with a self-signed certificate made by openssl, from a config,
 * pid file, logs and temp paths of its own under the test's folder (never the system's nginx);
 * and torrents given a `url-list` or `httpseeds` (the info dictionary, hence the info hash,
 * untouched).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BDict, decode, encode } from '../../src/bencode/index.js';
import { spawnTracked, freePort, type SixswarmProcess } from './sixswarm.js';
import { waitUntil } from './peers.js';
import { connect } from 'node:net';

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
  /** Its access log: one line per request, `$remote_addr $scheme $request $status $body_bytes_sent "$http_range"`. */
  accessLog: string;
  requests(): Promise<string[]>;
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * nginx serving `root` on loopback (both families), in the foreground, from `dir` (config, pid,
 * logs, temp); `extra`: directives for its server blocks (limit_rate 2m;).
 */
export async function startNginx(o: { root: string; dir: string; tls?: Certificate; extra?: string }): Promise<Nginx> {
  await mkdir(join(o.dir, 'temp'), { recursive: true });
  const port = await freePort();
  const tlsPort = o.tls ? await freePort() : undefined;
  const accessLog = join(o.dir, 'access.log');
  const listen = (p: number, ssl = '') => `listen 127.0.0.1:${p}${ssl}; listen [::1]:${p}${ssl};`;
  const conf = `
pid ${join(o.dir, 'nginx.pid')};
error_log ${join(o.dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  default_type application/octet-stream;
  sendfile on;
  keepalive_timeout 65;
  log_format ranges '$remote_addr $scheme $request $status $body_bytes_sent "$http_range"';
  access_log ${accessLog} ranges;
  client_body_temp_path ${join(o.dir, 'temp', 'body')};
  proxy_temp_path ${join(o.dir, 'temp', 'proxy')};
  fastcgi_temp_path ${join(o.dir, 'temp', 'fastcgi')};
  uwsgi_temp_path ${join(o.dir, 'temp', 'uwsgi')};
  scgi_temp_path ${join(o.dir, 'temp', 'scgi')};
  server {
    ${listen(port)}
    root ${o.root};
    ${o.extra ?? ''}
  }
  ${o.tls && tlsPort ? `server {
    ${listen(tlsPort, ' ssl')}
    ssl_certificate ${o.tls.cert};
    ssl_certificate_key ${o.tls.key};
    root ${o.root};
    ${o.extra ?? ''}
  }` : ''}
}
`;
  const confFile = join(o.dir, 'nginx.conf');
  await writeFile(confFile, conf);
  // One process (no master, no workers): killing it stops it all, nothing is left behind.
  const proc = spawnTracked(NGINX, ['-p', o.dir, '-c', confFile, '-g', 'daemon off; master_process off;'], { label: 'nginx' });
  await waitUntil(async () => (await accepts('127.0.0.1', port)) && (await accepts('::1', port)), 15_000, () => `nginx listening on ${port}: ${proc.stderr}`);
  return {
    proc,
    port,
    ...(tlsPort ? { tlsPort } : {}),
    accessLog,
    requests: async () => (await readFile(accessLog, 'utf8').catch(() => '')).split('\n').filter((l) => l.length > 0),
  };
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
