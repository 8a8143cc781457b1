/**
 * The web-seed pairs: one nginx (Debian's, its own config, one process, serving the payload on
 * [::1] only) -> one leecher given a torrent whose url-list names it and nothing else (no peer,
 * no tracker, no DHT): sixswarm, or aria2c. Both are timed the same way: from the first request
 * nginx logged (its start: $msec - $request_time) to every piece verified by the leecher's own
 * account (sixswarm's `complete` event, aria2c's "The download was complete.").
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ARIA2_COMMON, aria2Time, sixswarmArgv, withProcesses } from './pairs.js';

export const NGINX = '/usr/sbin/nginx';

/** The torrent at `torrent` with `url` as its one web seed (the info dictionary, hence the info hash, untouched). */
export async function webSeedTorrent(bencode, torrent, out, url) {
  const root = bencode.decode(await readFile(torrent));
  root.set('url-list', [Buffer.from(url)]);
  await writeFile(out, bencode.encode(root));
}

/** nginx serving ctx.dataDir on [::1]:ctx.webSeedPort, from `dir`; ready once it wrote its pid file (after binding). */
async function startNginx(start, ctx, dir) {
  const home = join(dir, 'nginx');
  await mkdir(join(home, 'temp'), { recursive: true });
  const conf = join(home, 'nginx.conf');
  await writeFile(
    conf,
    `pid ${join(home, 'nginx.pid')};
error_log ${join(home, 'error.log')} warn;
events { worker_connections 64; }
http {
  default_type application/octet-stream;
  sendfile on;
  log_format timed '$msec $request_time $status $body_bytes_sent "$http_range"';
  access_log ${join(home, 'access.log')} timed;
  client_body_temp_path ${join(home, 'temp')};
  proxy_temp_path ${join(home, 'temp')};
  fastcgi_temp_path ${join(home, 'temp')};
  uwsgi_temp_path ${join(home, 'temp')};
  scgi_temp_path ${join(home, 'temp')};
  server { listen [::1]:${ctx.webSeedPort}; root ${ctx.dataDir}; }
}
`,
  );
  const nginx = start('nginx', [NGINX, '-p', home, '-c', conf, '-g', 'daemon off; master_process off;'], join(dir, 'nginx'));
  for (const end = Date.now() + 30_000; !existsSync(join(home, 'nginx.pid')); ) {
    if (Date.now() > end) throw new Error(`nginx did not start: ${nginx.lastError()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { nginx, log: join(home, 'access.log') };
}

/** When nginx started the first request it logged, and how many it logged. */
async function firstRequest(log) {
  const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  if (lines.length === 0) throw new Error('nginx logged no request');
  const starts = lines.map((l) => {
    const [msec, took] = l.split(' ');
    return (Number(msec) - Number(took)) * 1000;
  });
  return { at: Math.min(...starts), requests: lines.length };
}

/** nginx -> sixswarm download (its only source the web seed); the nginx process is the "seed". */
export function sixswarmFromNginx(ctx, dir) {
  return withProcesses(async (start) => {
    const leechDir = join(dir, 'leech');
    await mkdir(leechDir, { recursive: true });
    const { nginx, log } = await startNginx(start, ctx, dir);
    const leech = start(
      'sixswarm leecher',
      sixswarmArgv(ctx, 'leecher', ['download', ctx.webSeedTorrent, '-o', leechDir, '--port', '0', '--no-trackers', '--no-dht', '--exit-on-complete', '--json', '--state-dir', join(dir, 'leech-state')]),
      join(dir, 'leech'),
    );
    const complete = await leech.waitFor((e) => e.event === 'complete', ctx.timeoutMs, '"complete" event');
    const { code } = await leech.waitExit(30_000);
    if (code !== 0) throw new Error(`sixswarm leecher exited with ${code}: ${leech.lastError()}`);
    await nginx.stop();
    const first = await firstRequest(log);
    return { spawnAt: leech.startedAt, connectedAt: first.at, doneAt: Date.parse(complete.time), exitAt: leech.exitedAt, requests: first.requests, file: join(leechDir, ctx.name), seedUsage: nginx.usage(), leechUsage: leech.usage() };
  });
}

/** nginx -> aria2c (its only source the web seed, BEP 19); times from its info log. */
export function aria2FromNginx(ctx, dir) {
  return withProcesses(async (start) => {
    const leechDir = join(dir, 'leech');
    await mkdir(leechDir, { recursive: true });
    const { nginx, log } = await startNginx(start, ctx, dir);
    const leechLog = join(dir, 'leech.log');
    const leech = start(
      'aria2c leecher',
      ['aria2c', ...ARIA2_COMMON, `--dir=${leechDir}`, '--seed-time=0', '--file-allocation=none', `--log=${leechLog}`, '--log-level=info', ctx.webSeedTorrent],
      join(dir, 'leech'),
    );
    const { code } = await leech.waitExit(ctx.timeoutMs);
    if (code !== 0) throw new Error(`aria2c leecher exited with ${code}: ${leech.lastError()}`);
    await nginx.stop();
    const done = (await readFile(leechLog, 'latin1')).split('\n').find((l) => l.includes('The download was complete.'));
    if (!done) throw new Error('aria2c leecher log never says "The download was complete."');
    const first = await firstRequest(log);
    return { spawnAt: leech.startedAt, connectedAt: first.at, doneAt: aria2Time(done), exitAt: leech.exitedAt, requests: first.requests, file: join(leechDir, ctx.name), seedUsage: nginx.usage(), leechUsage: leech.usage() };
  });
}
