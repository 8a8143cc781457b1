/**
 * Test support: real third-party BitTorrent programs (aria2c, python3-libtorrent,
 * transmission-daemon, mktorrent) set up to talk over loopback only, with DHT, LSD, UPnP/NAT-PMP
 * and PEX off (libtorrent's PEX on when a test asks). Every long-running one is started with `spawnTracked`, so `stopAll` kills it.
 * Flags and pitfalls come from /work/shared/interop (measured recipes).
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { sixswarm, spawnTracked, type JsonEvent, type SixswarmProcess } from './sixswarm.js';

const execFileAsync = promisify(execFile);

/** A short-lived helper program; killed if it hangs. */
function run(command: string, args: string[]) {
  return execFileAsync(command, args, { timeout: 30_000 });
}

/** Debian's libtorrent module lives under /usr/bin/python3, not a pyenv python3 earlier in PATH. */
export const PYTHON = '/usr/bin/python3';

/** Poll `check` until it returns a value other than undefined/false; throw `what()` after `timeoutMs`. */
export async function waitUntil<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: () => string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** True once something accepts TCP connections on host:port. */
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

/** Throws once the process has exited and all its output is read: waiting on it is pointless then. */
function alive(p: SixswarmProcess): boolean {
  const exited = p.proc.pid === undefined || p.proc.exitCode !== null || p.proc.signalCode !== null;
  const out = p.proc.stdout;
  if (exited && (!out || out.readableEnded || out.destroyed)) throw new Error(`${p.label} exited: ${p.stderr}${p.stdoutRaw.slice(-2000)}`);
  return true;
}

/** Wait for output matching `re` on the process's stdout. */
export async function waitOutput(p: SixswarmProcess, re: RegExp, timeoutMs = 15_000): Promise<void> {
  await waitUntil(() => re.test(p.stdoutRaw) || (alive(p) && false), timeoutMs, () => `${p.label} printing ${re}\n${p.stdoutRaw.slice(-2000)}${p.stderr}`);
}

export async function waitListening(host: string, port: number, proc: SixswarmProcess, timeoutMs = 15_000): Promise<void> {
  await waitUntil(
    async () => alive(proc) && accepts(host, port),
    timeoutMs,
    () => `${proc.label} listening on ${host}:${port}\n${proc.stdoutRaw.slice(-2000)}${proc.stderr}`,
  );
}

// ---- mktorrent ----------------------------------------------------------------------------------

/** A tracker-less .torrent of a file or folder made by mktorrent, pieces of 2^pieceLog2 bytes. */
export async function mktorrent(target: string, out: string, pieceLog2: number): Promise<void> {
  await run('mktorrent', ['-l', String(pieceLog2), '-o', out, target]);
}

// ---- aria2c -------------------------------------------------------------------------------------

/** aria2c cannot be told to dial a peer; it listens on lo (127.0.0.1 and ::1) and accepts. */
function aria2Args(o: { torrent: string; dir: string; port: number; log: string }): string[] {
  return [
    `--dir=${o.dir}`,
    `--listen-port=${o.port}`,
    '--interface=lo',
    '--enable-dht=false',
    '--enable-dht6=false',
    '--bt-enable-lpd=false',
    '--enable-peer-exchange=false',
    '--summary-interval=0',
    '--console-log-level=notice',
    `--log=${o.log}`,
    '--log-level=info',
    o.torrent,
  ];
}

/** aria2c seeding data already in `dir` (it must check it first: --check-integrity). Runs until killed. */
export async function aria2Seed(o: { torrent: string; dir: string; port: number; log: string }): Promise<SixswarmProcess> {
  const p = spawnTracked('aria2c', ['--check-integrity=true', '--seed-ratio=0.0', ...aria2Args(o)], { label: 'aria2c seed' });
  await waitOutput(p, /Verification finished successfully/);
  await waitListening('::1', o.port, p);
  return p;
}

/** aria2c downloading into `dir`; it exits (code 0) once every piece is hash-checked and written. */
export function aria2Leech(o: { torrent: string; dir: string; port: number; log: string }): SixswarmProcess {
  return spawnTracked('aria2c', ['--seed-time=0', '--file-allocation=none', '--bt-stop-timeout=60', ...aria2Args(o)], { label: 'aria2c leech' });
}

// ---- python3-libtorrent -------------------------------------------------------------------------

/**
 * A libtorrent 2.0 session (or torrent creation) driven by one JSON argument. Prints JSON lines:
 * listening, checked, peers (the handshaken peers whenever that set changes, and in `pex` those
 * of them learned over PEX, in `lsd` those learned by local service discovery), peer-disconnected,
 * hash-failed, stats (payload totals, when asked),
 * complete (libtorrent's torrent_finished, also fired by a seed after its check),
 * error, created. Every connection is TCP, or with `utp` every one is uTP (`peers` lists those in
 * `utp`). LSD is off unless asked (then it announces every 10 s).
 */
const LIBTORRENT_DRIVER = String.raw`
import json, os, sys, time
import libtorrent as lt
cfg = json.loads(sys.argv[1])
def out(**e):
    print(json.dumps(e), flush=True)
if cfg['mode'] == 'create':
    fs = lt.file_storage()
    lt.add_files(fs, cfg['path'])
    # default flags: a v1+v2 hybrid, pad files between files; or v2 only (BEP 52), or v1 only
    t = lt.create_torrent(fs, cfg['pieceLength'], flags={'hybrid': 0, 'v2': lt.create_torrent.v2_only, 'v1': lt.create_torrent.v1_only}[cfg.get('format', 'hybrid')])
    lt.set_piece_hashes(t, os.path.dirname(cfg['path']))
    with open(cfg['out'], 'wb') as f:
        f.write(lt.bencode(t.generate()))
    out(event='created', pieces=t.num_pieces())
    sys.exit(0)
cat = lt.alert.category_t
ses = lt.session({
    'listen_interfaces': ','.join(('[%s]:%d' if ':' in h and not h.startswith('[') else '%s:%d') % (h, cfg['port']) for h in cfg.get('listen') or ['::1']),
    'enable_dht': False, 'enable_lsd': bool(cfg.get('lsd')), 'enable_upnp': False, 'enable_natpmp': False,
    **({'local_service_announce_interval': 10} if cfg.get('lsd') else {}),
    # Either TCP alone or (cfg utp) uTP alone; incomingTcp / outgoingTcp False leave one way of TCP.
    'enable_incoming_utp': bool(cfg.get('utp')), 'enable_outgoing_utp': bool(cfg.get('utp')),
    'enable_incoming_tcp': not cfg.get('utp') and cfg.get('incomingTcp', True), 'enable_outgoing_tcp': not cfg.get('utp') and cfg.get('outgoingTcp', True),
    'allow_multiple_connections_per_ip': True,  # every loopback peer shares one IP
    'alert_mask': cat.error_notification | cat.peer_notification | cat.connect_notification | cat.status_notification,
    **({'out_enc_policy': int(getattr(lt.enc_policy, cfg['encryption']['out'])), 'in_enc_policy': int(getattr(lt.enc_policy, cfg['encryption']['in'])),
        'allowed_enc_level': int(getattr(lt.enc_level, cfg['encryption']['level'])), 'prefer_rc4': True} if cfg.get('encryption') else {}),
})
if cfg.get('magnet'):
    p = lt.parse_magnet_uri(cfg['magnet'])  # the metadata comes from peers (ut_metadata)
else:
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(cfg['torrent'])
p.save_path = cfg['save']
h = ses.add_torrent(p)
if not cfg['pex']:
    h.set_flags(lt.torrent_flags.disable_pex)
checked = False
shown = None
dialed = False
last_stats = 0
while True:
    if cfg.get('magnet') and not dialed:
        dialed = True
        for peer in cfg['connect']:
            host, port = peer.rsplit(':', 1)
            h.connect_peer((host.strip('[]'), int(port)))
    for a in ses.pop_alerts():
        kind = type(a).__name__
        if kind == 'metadata_received_alert':
            out(event='metadata', pieces=h.torrent_file().num_pieces())
        elif kind == 'listen_succeeded_alert':
            out(event='listening', address=str(a.address), port=a.port, socket=str(a.socket_type))
        elif kind in ('listen_failed_alert', 'torrent_error_alert', 'file_error_alert'):
            out(event='error', message=a.message())
        elif kind == 'hash_failed_alert':
            out(event='hash-failed', index=a.piece_index)
        elif kind == 'peer_disconnected_alert':
            out(event='peer-disconnected', message=a.message())
        elif kind == 'torrent_finished_alert':
            s = h.status()
            out(event='complete', pieces=s.num_pieces, downloaded=s.total_payload_download, failed=s.total_failed_bytes)
    s = h.status()
    if not checked and s.has_metadata and s.state not in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
        checked = True
        out(event='checked', pieces=s.num_pieces, total=h.torrent_file().num_pieces(), seeding=s.is_seeding)
        for peer in ([] if cfg.get('magnet') else cfg['connect']):
            host, port = peer.rsplit(':', 1)
            h.connect_peer((host.strip('[]'), int(port)))
    peers = sorted('%s %s:%d %s' % ('out' if q.flags & q.outgoing_connection else 'in', q.ip[0], q.ip[1], q.client.decode('utf8', 'replace'))
                   for q in h.get_peer_info() if not q.flags & q.connecting and not q.flags & q.handshake)
    if peers != shown:
        shown = peers
        pex = sorted('%s:%d' % (q.ip[0], q.ip[1]) for q in h.get_peer_info() if q.source & lt.peer_info.pex and not q.flags & q.connecting and not q.flags & q.handshake)
        # peer_info::utp_socket is bit 17 in libtorrent 2.0; the Python binding has no name for it.
        utp = sorted('%s:%d' % (q.ip[0], q.ip[1]) for q in h.get_peer_info() if q.flags & (1 << 17) and not q.flags & q.connecting and not q.flags & q.handshake)
        rc4 = sorted('%s:%d' % (q.ip[0], q.ip[1]) for q in h.get_peer_info() if q.flags & q.rc4_encrypted)
        lsd = sorted('%s:%d' % (q.ip[0], q.ip[1]) for q in h.get_peer_info() if q.source & lt.peer_info.lsd and not q.flags & q.connecting and not q.flags & q.handshake)
        out(event='peers', peers=peers, pex=pex, utp=utp, rc4=rc4, lsd=lsd, uploaded=s.total_payload_upload)
    if cfg.get('stats') and time.time() - last_stats >= cfg['stats']:
        last_stats = time.time()
        out(event='stats', t=last_stats, down=s.total_payload_download, up=s.total_payload_upload)
    # A small download can start and end between two looks at the peers: look often until it is done.
    time.sleep(0.05 if s.is_seeding else 0.005)
`;

export interface LibtorrentOptions {
  /** A .torrent file, or (with `magnet`) nothing: the metadata then comes from the peers it dials. */
  torrent?: string;
  magnet?: string;
  /** The folder that holds the torrent's name. */
  save: string;
  port: number;
  /** Peers it dials once its data is checked, as [host]:port. */
  connect?: string[];
  /** ut_pex on (libtorrent's default); off unless asked, so that no test gets peers it did not plan. */
  pex?: boolean;
  /** Print `stats` (t: epoch seconds, down/up: payload bytes so far) every this many seconds. */
  stats?: number;
  /** uTP only (TCP off both ways) instead of TCP only. */
  utp?: boolean;
  /** Its encryption settings (out_enc_policy, in_enc_policy, allowed_enc_level; prefer_rc4 on); default libtorrent's. */
  encryption?: { out: 'forced' | 'enabled' | 'disabled'; in: 'forced' | 'enabled' | 'disabled'; level: 'rc4' | 'plaintext' | 'both' };
  /** A command prefix it runs under (['ip', 'netns', 'exec', NS] for a namespace, privateHosts(...) for its own /etc/hosts). */
  wrap?: string[];
  /** Addresses it listens on (default ::1 only; IPv6 with or without brackets), e.g. ['0.0.0.0', '[::]'] in a namespace. */
  listen?: string[];
  /** Local service discovery (BEP 14) on, announcing every 10 s (off by default: it multicasts on every interface). */
  lsd?: boolean;
  /** Incoming / outgoing TCP (default both): one off makes the other side the only one that can connect. */
  incomingTcp?: boolean;
  outgoingTcp?: boolean;
}

/** A libtorrent session listening on [::1] only (unless `listen` says otherwise); wait for its `checked` event before using it. */
export function libtorrentPeer(o: LibtorrentOptions): SixswarmProcess {
  const cfg = { mode: 'run', torrent: o.torrent, magnet: o.magnet, save: o.save, port: o.port, listen: o.listen, connect: o.connect ?? [], pex: o.pex ?? false, stats: o.stats, encryption: o.encryption, utp: o.utp ?? false, lsd: o.lsd, incomingTcp: o.incomingTcp ?? true, outgoingTcp: o.outgoingTcp ?? true };
  const args = [PYTHON, '-c', LIBTORRENT_DRIVER, JSON.stringify(cfg)];
  const [cmd, ...rest] = [...(o.wrap ?? []), ...args];
  return spawnTracked(cmd!, rest, { label: 'libtorrent' });
}

/** libtorrent's own .torrent of `path`: a v1+v2 hybrid with BEP 47 pad files (default), v2 only (BEP 52) or v1 only. */
export async function libtorrentCreate(path: string, out: string, pieceLength: number, format: 'hybrid' | 'v2' | 'v1' = 'hybrid'): Promise<JsonEvent> {
  const { stdout } = await run(PYTHON, ['-c', LIBTORRENT_DRIVER, JSON.stringify({ mode: 'create', path, out, pieceLength, format })]);
  return JSON.parse(stdout.trim()) as JsonEvent;
}

/** Every connection libtorrent has listed so far: "out ::1:PORT client" / "in ::1:PORT client" (one entry per list it was in). */
export function libtorrentPeers(p: SixswarmProcess): string[] {
  return p.events.filter((e) => e.event === 'peers').flatMap((e) => e.peers as string[]);
}

/** The connections libtorrent has now (its latest list). */
export function libtorrentPeersNow(p: SixswarmProcess): string[] {
  return (p.events.filter((e) => e.event === 'peers').at(-1)?.peers ?? []) as string[];
}

// ---- transmission-daemon ------------------------------------------------------------------------

export interface Transmission {
  proc: SixswarmProcess;
  peerPort: number;
  /** Run transmission-remote against this daemon; returns its stdout. */
  remote(args: string[]): Promise<string>;
  /** `transmission-remote -t 1 -i` parsed into "Key: value" pairs. */
  info(): Promise<Map<string, string>>;
}

/**
 * transmission-daemon 3.00 with its peer port on 127.0.0.1 and [::1] and RPC on 127.0.0.1.
 * It never dials loopback peers (martian addresses to it), so the other side must dial it; and it
 * keys peers by IP, so use a fresh daemon per test.
 */
export async function startTransmission(o: { configDir: string; downloadDir: string; peerPort: number; rpcPort: number; encryption?: 0 | 1 | 2; utp?: boolean }): Promise<Transmission> {
  await mkdir(o.configDir, { recursive: true });
  await mkdir(o.downloadDir, { recursive: true });
  const settings = {
    'dht-enabled': false,
    'lpd-enabled': false,
    'utp-enabled': o.utp ?? false, // uTP (libutp) besides TCP when asked
    'pex-enabled': false,
    'port-forwarding-enabled': false,
    'peer-port': o.peerPort,
    'peer-port-random-on-start': false,
    // No tracker here, so an explicit IPv4 bind (which transmission also uses for announces) is safe.
    'bind-address-ipv4': '127.0.0.1',
    'bind-address-ipv6': '::1',
    'rpc-enabled': true,
    'rpc-bind-address': '127.0.0.1',
    'rpc-port': o.rpcPort,
    'rpc-authentication-required': false,
    'rpc-whitelist-enabled': true,
    'rpc-whitelist': '127.0.0.1',
    'rpc-host-whitelist-enabled': false,
    'blocklist-enabled': false,
    'download-dir': o.downloadDir,
    'incomplete-dir-enabled': false,
    'rename-partial-files': false, // files keep their names while incomplete
    'ratio-limit-enabled': false,
    'idle-seeding-limit-enabled': false,
    encryption: o.encryption ?? 1, // 1, transmission's default: prefers MSE, accepts plaintext; 2: MSE required; 0: prefers plaintext
    'message-level': 2,
  };
  await writeFile(join(o.configDir, 'settings.json'), JSON.stringify(settings, null, 2));
  const proc = spawnTracked('transmission-daemon', ['-f', '-g', o.configDir, '-e', join(o.configDir, 'transmission.log')], { label: 'transmission-daemon' });
  await waitListening('127.0.0.1', o.rpcPort, proc);
  await waitListening('::1', o.peerPort, proc);
  const remote = async (args: string[]) => (await run('transmission-remote', [`127.0.0.1:${o.rpcPort}`, ...args])).stdout;
  return {
    proc,
    peerPort: o.peerPort,
    remote,
    async info() {
      const fields = new Map<string, string>();
      for (const line of (await remote(['-t', '1', '-i'])).split('\n')) {
        const m = /^\s+([^:]+):\s*(.*)$/.exec(line);
        if (m) fields.set(m[1]!, m[2]!.trim());
      }
      return fields;
    },
  };
}

// ---- the sixswarm side of an interop transfer ---------------------------------------------------

/** Milliseconds since `t0`, for the timing lines the interop tests print. */
export function since(t0: number): number {
  return Date.now() - t0;
}

export function logTiming(pair: string, bytes: number, ms: number): void {
  console.info(`[interop] ${pair}: ${(bytes / 1048576).toFixed(1)} MiB in ${(ms / 1000).toFixed(2)} s`);
}

/**
 * sixswarm downloads `torrent` into `out` from the peer at [::1]:port, IPv6 only, and must exit 0
 * with every piece verified exactly once and no hash failure, having talked over IPv6 only.
 */
export async function downloadOverIPv6(o: { torrent: string; out: string; port: number; env: NodeJS.ProcessEnv; timeoutMs: number; args?: string[] }): Promise<SixswarmProcess> {
  const leech = sixswarm(['download', o.torrent, '-o', o.out, '--peer', `[::1]:${o.port}`, '--port', '0', '--no-ipv4', '--exit-on-complete', '--json', ...(o.args ?? [])], {
    env: o.env,
    label: 'sixswarm download',
  });
  const checked = await leech.event('checked');
  await leech.event('complete', o.timeoutMs);
  expect(await leech.exited, leech.stderr).toBe(0);
  const verified = leech.events.filter((e) => e.event === 'piece-verified').map((e) => e.index as number);
  expect(verified.length).toBe(checked.pieces);
  expect(new Set(verified).size).toBe(checked.pieces);
  expect(leech.events.filter((e) => e.event === 'piece-failed' || e.event === 'error')).toEqual([]);
  expectIPv6Only(leech);
  return leech;
}

/** A sixswarm seed of the data in `dir`, IPv6 only, dialing `dial` ([::1] ports) once checked. */
export async function seedOverIPv6(o: { torrent: string; dir: string; dial?: number[]; env: NodeJS.ProcessEnv; args?: string[] }): Promise<SixswarmProcess> {
  const peers = (o.dial ?? []).flatMap((p) => ['--peer', `[::1]:${p}`]);
  const seed = sixswarm(['seed', o.torrent, o.dir, '--port', '0', '--no-ipv4', ...peers, '--json', ...(o.args ?? [])], { env: o.env, label: 'sixswarm seed' });
  const checked = await seed.event('checked');
  expect(checked.have, 'the seed has all its data').toBe(checked.pieces);
  return seed;
}

/** It listened on IPv6 only and every peer it connected with was an IPv6 peer. */
export function expectIPv6Only(p: SixswarmProcess): void {
  expect(p.events.filter((e) => e.event === 'listening').map((e) => e.family)).toEqual([6]);
  const connected = p.events.filter((e) => e.event === 'peer-connected');
  expect(connected.length).toBeGreaterThan(0);
  for (const c of connected) expect(c.family, JSON.stringify(c)).toBe(6);
}

/** Stop a seed with SIGTERM (it must exit 0) and return the payload bytes it uploaded. */
export async function stopSeed(seed: SixswarmProcess): Promise<number> {
  seed.kill('SIGTERM');
  expect(await seed.exited, seed.stderr).toBe(0);
  const last = seed.events.filter((e) => e.event === 'progress').at(-1);
  return (last?.uploaded as number | undefined) ?? 0;
}
