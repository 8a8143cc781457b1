/**
 * Test support: `sixswarm daemon` as a real process (foreground, --json log), kept to loopback
 * and to the test's folder (its own session, download, state and config folders), and a plain
 * Transmission RPC client that speaks the protocol by hand (the 409 handshake, Basic auth), for
 * checks the third-party clients cannot make.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Metainfo } from '../../src/metainfo/types.js';
import { freePort, seedPayload, sixswarm, type SixswarmProcess } from './sixswarm.js';
import { libtorrentPeer, waitUntil } from './peers.js';

export interface RunningDaemon {
  proc: SixswarmProcess;
  /** http://127.0.0.1:PORT/ */
  url: string;
  /** The HTTP port (the same on 127.0.0.1 and ::1). */
  port: number;
  /** The port it takes peers on. */
  peerPort: number;
  rpc: RpcClient;
  dirs: { session: string; download: string; state: string };
}

/** The folders of a daemon under `dir` (a later daemon on the same `dir` resumes the same session). */
export function daemonDirs(dir: string) {
  return { session: join(dir, 'session'), download: join(dir, 'dl'), state: join(dir, 'state'), config: join(dir, 'config') };
}

/**
 * `sixswarm daemon --foreground --json` on loopback with ports picked at start, DHT and trackers
 * off (unless `args` say otherwise); resolves once it serves HTTP.
 */
export async function startDaemon(dir: string, args: string[] = [], opts: { env?: NodeJS.ProcessEnv; auth?: { user: string; password: string }; label?: string } = {}): Promise<RunningDaemon> {
  const d = daemonDirs(dir);
  const proc = sixswarm(
    ['daemon', '--foreground', '--json', '--session', d.session, '-o', d.download, '--state-dir', d.state, '--port', '0', '--rpc-port', '0', '--no-dht', '--no-trackers', ...args],
    { env: { XDG_CONFIG_HOME: d.config, ...opts.env }, label: opts.label ?? 'sixswarm daemon' },
  );
  const web = await proc.event('web-listening', 30_000);
  const peer = await proc.event('listening');
  const tls = web.tls === true;
  const port = web.port as number;
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}/`;
  return { proc, url, port, peerPort: peer.port as number, rpc: new RpcClient(port, opts.auth), dirs: d };
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request to 127.0.0.1 (or `host`), the body sent as it is. */
export function httpRequest(o: { port: number; method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; host?: string; timeoutMs?: number }): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: o.host ?? '127.0.0.1', port: o.port, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers, timeout: o.timeoutMs ?? 30_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface RpcReply {
  result: string;
  arguments: Record<string, unknown>;
  tag?: number;
}

/** The Transmission RPC spoken by hand. */
export class RpcClient {
  sessionId = '';

  constructor(
    readonly port: number,
    private readonly auth?: { user: string; password: string },
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      'Content-Type': 'application/json',
      ...(this.sessionId ? { 'X-Transmission-Session-Id': this.sessionId } : {}),
      ...(this.auth ? { Authorization: `Basic ${Buffer.from(`${this.auth.user}:${this.auth.password}`).toString('base64')}` } : {}),
      ...extra,
    };
  }

  /** POST a body as it is (after the handshake when needed); the HTTP reply. */
  async post(body: string | Buffer, extra: Record<string, string> = {}): Promise<HttpReply> {
    for (let i = 0; i < 2; i++) {
      const r = await httpRequest({ port: this.port, method: 'POST', path: '/transmission/rpc', headers: this.headers(extra), body });
      if (r.status !== 409) return r;
      this.sessionId = String(r.headers['x-transmission-session-id']);
    }
    throw new Error('409 twice');
  }

  async call(method: string, args: Record<string, unknown> = {}): Promise<RpcReply> {
    const r = await this.post(JSON.stringify({ method, arguments: args, tag: 7 }));
    if (r.status !== 200) throw new Error(`${method}: HTTP ${r.status}: ${r.body}`);
    return JSON.parse(r.body) as RpcReply;
  }

  /** torrent-get of some fields of every torrent. */
  async torrents(fields: string[], ids?: unknown): Promise<Record<string, unknown>[]> {
    const r = await this.call('torrent-get', { fields, ...(ids !== undefined ? { ids } : {}) });
    if (r.result !== 'success') throw new Error(`torrent-get: ${r.result}`);
    return r.arguments.torrents as Record<string, unknown>[];
  }

  /** Wait until the torrent with `hash` satisfies `pred` (its fields as torrent-get gives them). */
  async waitTorrent(hash: string, fields: string[], pred: (t: Record<string, unknown>) => boolean, timeoutMs = 60_000, what = 'the torrent'): Promise<Record<string, unknown>> {
    let last: Record<string, unknown> | undefined;
    return waitUntil(
      async () => {
        [last] = await this.torrents(['hashString', ...fields], [hash]);
        return last && pred(last) ? last : undefined;
      },
      timeoutMs,
      () => `${what}: last seen ${JSON.stringify(last)}`,
    );
  }
}

/**
 * A torrent the daemon downloads from two libtorrent seeds at once, one over IPv6 ([::1]) and one
 * over IPv4 (127.0.0.1), both dialing the daemon; slow enough (the daemon's --max-down) for the
 * peers to stay while a test looks. Resolves once the daemon has a peer of each family.
 */
export async function twoFamilySwarm(dir: string, d: RunningDaemon, size = 6_000_000): Promise<{ meta: Metainfo; torrent: string }> {
  const { torrent, meta } = await seedPayload(dir, { 'big.bin': size, 'small.txt': 20_000 }, 32 * 1024);
  const added = await d.rpc.call('torrent-add', { metainfo: (await readFile(torrent)).toString('base64') });
  if (added.result !== 'success') throw new Error(`torrent-add: ${added.result}`);
  for (const host of ['[::1]', '127.0.0.1']) {
    const seed = libtorrentPeer({ torrent, save: join(dir, 'seed'), port: await freePort(), listen: [host], connect: [`${host}:${d.peerPort}`] });
    await seed.event('checked');
  }
  await d.rpc.waitTorrent(meta.infoHashHex, ['sixswarm-families'], (t) => {
    const f = t['sixswarm-families'] as { ipv4: number; ipv6: number };
    return f.ipv4 > 0 && f.ipv6 > 0;
  }, 30_000, 'a peer of each family');
  return { meta, torrent };
}
