/**
 * `sixswarm daemon` as a service: a restart brings every torrent back in its state (seeding,
 * paused, half downloaded; labels and its own limits kept; unchanged data not hashed again);
 * after kill -9 no verified piece is lost; the session folder is locked (a second daemon and the
 * ui are refused, naming the daemon and where to reach it); in the background it says where it
 * runs and stops on SIGTERM; session-close stops it; unsafe settings are refused at start.
 */
import { chmod, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { daemonDirs, RpcClient, startDaemon } from '../support/daemon.js';
import { libtorrentPeer, waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, freePort, runCli, seedPayload, tempDir, treeDigest } from '../support/sixswarm.js';
import { Tmux } from '../support/tmux.js';

let dir: string | undefined;
let tmux: Tmux | undefined;
cleanUpAfterEach(() => dir);
afterEach(async () => {
  await tmux?.kill();
  tmux = undefined;
});

const b64 = async (file: string) => (await readFile(file)).toString('base64');
/** The pieces a `pieces` bitfield (base64) says we have. */
function piecesOf(bits: string, count: number): number[] {
  const b = Buffer.from(bits, 'base64');
  return Array.from({ length: count }, (_, i) => i).filter((i) => b[i >> 3]! & (0x80 >> (i & 7)));
}

describe('sixswarm daemon', () => {
  it('brings every torrent back in its state after a restart', async () => {
    dir = await tempDir();
    const seeded = await seedPayload(join(dir, 'a'), { 'a.bin': 400_000 }, 16 * 1024);
    const paused = await seedPayload(join(dir, 'b'), { 'b.bin': 300_000 }, 16 * 1024);
    const half = await seedPayload(join(dir, 'c'), { 'c.bin': 6_000_000 }, 32 * 1024);
    const dirs = daemonDirs(dir);
    // The first torrent's data is in the download folder already: it seeds after its check.
    await cp(join(dir, 'a', 'seed', 'payload'), join(dirs.download, 'payload'), { recursive: true });
    const peerPort = await freePort();
    let d = await startDaemon(dir, ['--port', String(peerPort), '--max-down', '400k']);
    expect((await d.rpc.call('torrent-add', { metainfo: await b64(seeded.torrent), labels: ['kept'] })).result).toBe('success');
    expect((await d.rpc.call('torrent-add', { metainfo: await b64(paused.torrent), paused: true, 'download-dir': join(dirs.download, 'later') })).result).toBe('success');
    expect((await d.rpc.call('torrent-add', { metainfo: await b64(half.torrent), 'download-dir': join(dirs.download, 'half') })).result).toBe('success');
    expect((await d.rpc.call('torrent-set', { ids: [half.meta.infoHashHex], uploadLimited: true, uploadLimit: 123 })).result).toBe('success');
    await d.rpc.waitTorrent(seeded.meta.infoHashHex, ['status', 'percentDone'], (t) => t.status === 6 && t.percentDone === 1, 15_000, 'the first seeding');
    libtorrentPeer({ torrent: half.torrent, save: join(dir, 'c', 'seed'), port: await freePort(), connect: [`[::1]:${peerPort}`] });
    const before = await d.rpc.waitTorrent(half.meta.infoHashHex, ['percentDone', 'haveValid'], (t) => (t.percentDone as number) > 0.2, 30_000, 'a fifth of the third');

    d.proc.kill('SIGTERM');
    expect(await d.proc.exitCode(30_000)).toBe(0);
    expect(d.proc.events.at(-1)).toMatchObject({ event: 'stopped', code: 0 });

    d = await startDaemon(dir, ['--port', String(peerPort)]);
    const fields = ['hashString', 'status', 'haveValid', 'percentDone', 'labels', 'downloadDir', 'uploadLimited', 'uploadLimit'];
    const after = await waitUntil(async () => {
      const list = await d.rpc.torrents(fields);
      return list.length === 3 && list.every((t) => t.status !== 1 && t.status !== 2) && list;
    }, 30_000, () => 'every torrent checked after the restart');
    const byHash = new Map(after.map((t) => [t.hashString, t]));
    expect(byHash.get(seeded.meta.infoHashHex)).toMatchObject({ status: 6, percentDone: 1, labels: ['kept'], downloadDir: dirs.download });
    expect(byHash.get(paused.meta.infoHashHex)).toMatchObject({ status: 0, downloadDir: join(dirs.download, 'later') });
    const third = byHash.get(half.meta.infoHashHex)!;
    expect(third).toMatchObject({ status: 4, uploadLimited: true, uploadLimit: 123, downloadDir: join(dirs.download, 'half') });
    expect(third.haveValid as number).toBeGreaterThanOrEqual(before.haveValid as number);
    // Resume state trusted: the seed's data was not hashed again.
    const checks = d.proc.events.filter((e) => e.event === 'checked');
    expect(checks.find((e) => e.torrent === seeded.meta.infoHashHex)).toMatchObject({ hashed: 0, have: seeded.meta.pieceCount });
    // And the third completes from a seed that dials the daemon again.
    libtorrentPeer({ torrent: half.torrent, save: join(dir, 'c', 'seed'), port: await freePort(), connect: [`[::1]:${peerPort}`] });
    await d.rpc.waitTorrent(half.meta.infoHashHex, ['percentDone'], (t) => t.percentDone === 1, 60_000, 'the third complete');
    expect(await treeDigest(join(dirs.download, 'half', 'payload'))).toEqual(await treeDigest(join(dir, 'c', 'seed', 'payload')));
  });

  it('loses no verified piece to kill -9', async () => {
    dir = await tempDir();
    const { torrent, meta } = await seedPayload(dir, { 'big.bin': 8_000_000 }, 32 * 1024);
    const peerPort = await freePort();
    let d = await startDaemon(dir, ['--port', String(peerPort), '--max-down', '600k']);
    expect((await d.rpc.call('torrent-add', { metainfo: await b64(torrent) })).result).toBe('success');
    libtorrentPeer({ torrent, save: join(dir, 'seed'), port: await freePort(), connect: [`[::1]:${peerPort}`] });
    const seen = await d.rpc.waitTorrent(meta.infoHashHex, ['pieces', 'percentDone'], (t) => (t.percentDone as number) > 0.3, 30_000, 'a third downloaded');
    const verified = piecesOf(seen.pieces as string, meta.pieceCount);
    d.proc.kill('SIGKILL');
    await d.proc.exited;

    d = await startDaemon(dir, ['--port', String(peerPort)]);
    const back = await d.rpc.waitTorrent(meta.infoHashHex, ['pieces', 'status'], (t) => t.status !== 1 && t.status !== 2, 30_000, 'checked after the crash');
    const have = new Set(piecesOf(back.pieces as string, meta.pieceCount));
    expect(verified.filter((p) => !have.has(p))).toEqual([]);
    expect(verified.length).toBeGreaterThan(meta.pieceCount * 0.3);
  });

  it('locks its session folder: a second daemon is refused naming it, and the ui shows the daemon\'s session', async () => {
    dir = await tempDir();
    const d = await startDaemon(dir);
    const dirs = daemonDirs(dir);
    const second = await runCli(['daemon', '--foreground', '--session', dirs.session, '--state-dir', dirs.state, '--port', '0', '--rpc-port', '0', '--no-dht'], { env: { XDG_CONFIG_HOME: dirs.config } });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`the session ${dirs.session} is in use by another sixswarm: pid ${d.proc.proc.pid}, started .* \\(sixswarm daemon --foreground .*\\)\\. It can be driven at http://127\\.0\\.0\\.1:${d.port}/ or http://\\[::1\\]:${d.port}/\\. Stop it first`));

    // The ui on the same session shows it from the daemon, and drives it there.
    const { torrent, meta } = await seedPayload(join(dir, 'p'), { 'a.bin': 200_000 }, 16 * 1024);
    await cp(join(dir, 'p', 'seed', 'payload'), join(dirs.download, 'payload'), { recursive: true });
    expect((await d.rpc.call('torrent-add', { metainfo: await b64(torrent) })).result).toBe('success');
    await d.rpc.waitTorrent(meta.infoHashHex, ['status'], (t) => t.status === 6, 15_000, 'seeding');
    tmux = new Tmux();
    await tmux.start('ui', ['ui', '--session', dirs.session, '--state-dir', dirs.state, '--port', '0', '--no-dht'], { env: { XDG_CONFIG_HOME: dirs.config } });
    await tmux.waitFor('ui', new RegExp(`sixswarm daemon http://127\\.0\\.0\\.1:${d.port}/`));
    await tmux.waitFor('ui', new RegExp(`this session is run by sixswarm daemon \\(pid ${d.proc.proc.pid}\\); q leaves it running`));
    await tmux.waitFor('ui', /payload +seeding/);
    await tmux.keys('ui', 'Enter');
    await tmux.waitFor('ui', /1 Peers 0 +2 Trackers 0 +3 Files 1 +4 Pieces 13/);
    await tmux.keys('ui', 'Escape');
    await tmux.waitFor('ui', /Enter details/);
    await tmux.keys('ui', 'p');
    await tmux.waitFor('ui', /payload +paused/);
    expect((await d.rpc.torrents(['status']))[0]!.status).toBe(0);
    await tmux.keys('ui', 'r');
    await tmux.waitFor('ui', /payload +seeding/);
    await tmux.keys('ui', 'q');
    expect(await tmux.exitCode('ui')).toBe(0);
    // The daemon runs on, and heard the ui's commands as a remote's.
    expect((await d.rpc.call('session-get', { fields: ['version'] })).result).toBe('success');
    expect(d.proc.events.filter((e) => e.event === 'remote').map((e) => e.method)).toEqual(['torrent-add', 'torrent-stop', 'torrent-start']);
  });

  it('goes to the background and says where it runs; SIGTERM stops it; a failed start is told with its log', async () => {
    dir = await tempDir();
    const dirs = daemonDirs(dir);
    const port = await freePort();
    const args = ['daemon', '--session', dirs.session, '--state-dir', dirs.state, '-o', dirs.download, '--port', '0', '--rpc-port', String(port), '--no-dht', '--no-trackers'];
    const started = await runCli(args, { env: { XDG_CONFIG_HOME: dirs.config }, timeoutMs: 30_000 });
    expect(started.code, started.stderr).toBe(0);
    const m = /sixswarm daemon is running \(pid (\d+)\): http:\/\/127\.0\.0\.1:(\d+)\/ http:\/\/\[::1\]:\d+\/\nits log: (\S+); stop it with: kill \d+/.exec(started.stdout);
    expect(m, started.stdout).not.toBeNull();
    const pid = Number(m![1]);
    try {
      expect(Number(m![2])).toBe(port);
      expect(m![3]).toBe(join(dirs.state, 'daemon.log'));
      const rpc = new RpcClient(port);
      expect((await rpc.call('session-get', { fields: ['rpc-version'] })).arguments).toEqual({ 'rpc-version': 17 });
      // A second one in the background fails, and says why.
      const again = await runCli([...args.slice(0, -4), '--rpc-port', '0', '--no-dht', '--no-trackers'], { env: { XDG_CONFIG_HOME: dirs.config }, timeoutMs: 30_000 });
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/sixswarm daemon did not start:[\s\S]*is in use by another sixswarm: pid \d+/);
    } finally {
      process.kill(pid, 'SIGTERM');
    }
    await waitUntil(async () => /stopped \(exit code 0\)/.test(await readFile(join(dirs.state, 'daemon.log'), 'utf8')), 20_000, () => 'the log saying it stopped');
    const log = await readFile(join(dirs.state, 'daemon.log'), 'utf8');
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z web page and Transmission RPC \(http:\/\/127\.0\.0\.1:\d+\/transmission\/rpc\) on http:\/\/127\.0\.0\.1:\d+\/$/m);
    expect(log).toMatch(/stopping \(SIGTERM\)/);
  });

  it('stops on session-close, with exit code 0', async () => {
    dir = await tempDir();
    const d = await startDaemon(dir);
    expect((await d.rpc.call('session-close')).result).toBe('success');
    expect(await d.proc.exitCode(20_000)).toBe(0);
    expect(d.proc.events.filter((e) => e.event === 'remote').map((e) => e.method)).toEqual(['session-close']);
  });

  it('refuses unsafe settings at start: another address without credentials, credentials others may read', async () => {
    dir = await tempDir();
    const dirs = daemonDirs(dir);
    const base = ['daemon', '--foreground', '--session', dirs.session, '--state-dir', dirs.state, '--port', '0', '--rpc-port', '0', '--no-dht'];
    const open = await runCli([...base, '--rpc-bind', '0.0.0.0'], { env: { XDG_CONFIG_HOME: dirs.config } });
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/--rpc-bind 0\.0\.0\.0 lets other machines reach the daemon: give --credentials FILE/);
    const users = join(dir, 'users');
    await writeFile(users, 'a:b\n');
    await chmod(users, 0o644);
    const readable = await runCli([...base, '--rpc-bind', '::', '--credentials', users], { env: { XDG_CONFIG_HOME: dirs.config } });
    expect(readable.code).toBe(2);
    expect(readable.stderr).toMatch(new RegExp(`the credentials file ${users} may be read by others \\(mode 644\\): chmod 600`));
    const name = await runCli([...base, '--rpc-bind', 'localhost'], { env: { XDG_CONFIG_HOME: dirs.config } });
    expect(name.code).toBe(2);
    expect(name.stderr).toMatch(/--rpc-bind "localhost" is not an IP address/);
    // The config file's [daemon] table is read, and checked like every table.
    const cfgDir = join(dirs.config, 'sixswarm');
    await mkdir(cfgDir, { recursive: true });
    await writeFile(join(cfgDir, 'config.toml'), '[daemon]\nrpc-port = 9999\nrpc-hots = ["x"]\n');
    const typo = await runCli([...base], { env: { XDG_CONFIG_HOME: dirs.config } });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown key "rpc-hots" in \[daemon\] \(did you mean "rpc-host"\?\)/);
    await writeFile(join(cfgDir, 'config.toml'), 'max-up = "1M"\n[daemon]\nrpc-port = 9999\n');
    const shown = await runCli(['config', 'daemon'], { env: { XDG_CONFIG_HOME: dirs.config } });
    expect(shown.stdout).toMatch(/rpc-port\s+"9999"\s+config file \[daemon\]/);
    expect(shown.stdout).toMatch(/max-up\s+"1M"\s+config file$/m);
    expect(shown.stdout).toMatch(/rpc-bind\s+\(127\.0\.0\.1 and ::1\)\s+default/);
    // And `sixswarm --help` lists the command.
    expect((await runCli(['--help'])).stdout).toMatch(/^ {2}daemon +the session, headless, driven over HTTP/m);
  });
});
