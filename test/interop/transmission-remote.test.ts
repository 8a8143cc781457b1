/**
 * Transmission's own remote (Debian's transmission-cli) drives `sixswarm daemon` unchanged:
 * it adds a .torrent, lists it, watches it complete from a libtorrent seed over IPv6, shows its
 * details and peers, stops, starts, verifies and removes it. And over HTTPS with a login
 * (--ssl, -n user:password), the way a remote reaches a daemon on another machine.
 */
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../support/daemon.js';
import { libtorrentPeer, waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, freePort, seedPayload, tempDir, treeDigest } from '../support/sixswarm.js';

const execFileAsync = promisify(execFile);
let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** transmission-remote's stdout (stderr too on failure, which rejects). */
async function remote(target: string, ...args: string[]): Promise<string> {
  const { stdout, stderr } = await execFileAsync('transmission-remote', [target, ...args], { timeout: 30_000 });
  return stdout + stderr;
}

describe('transmission-remote', () => {
  it('adds a torrent, lists it, watches it complete from libtorrent, stops, starts, verifies and removes it', async () => {
    dir = await tempDir();
    const { torrent, meta } = await seedPayload(dir, { 'a.bin': 3_000_000, 'sub/b.bin': 1_200_000 }, 32 * 1024);
    // A download limit, so that the transfer is slow enough to be watched while it runs.
    const d = await startDaemon(dir, ['--max-down', '1M']);
    const target = `127.0.0.1:${d.port}`;

    expect(await remote(target, '-a', torrent)).toMatch(/responded: "success"/);
    const listed = await remote(target, '-l');
    expect(listed).toMatch(/^\s+1\s+0%\s+None\s+\S+\s+0\.0\s+0\.0\s+None\s+\S+.*\spayload$/m);
    expect(listed).toMatch(/^Sum:/m);

    // The seed dials the daemon: libtorrent on [::1], so the transfer runs over IPv6.
    const seed = libtorrentPeer({ torrent, save: join(dir, 'seed'), port: await freePort(), connect: [`[::1]:${d.peerPort}`] });
    await seed.event('checked');
    const downloading = await waitUntil(async () => {
      const out = await remote(target, '-l');
      return /\s1\s+\d+%.*\s(Downloading|Up & Down)\s+payload/.test(out) && out;
    }, 30_000, () => 'transmission-remote -l showing it downloading');
    expect(downloading).toMatch(/payload/);
    const peers = await waitUntil(async () => {
      const out = await remote(target, '-t', '1', '-pi');
      return /::1/.test(out) && out;
    }, 15_000, () => 'transmission-remote -pi listing the libtorrent seed');
    expect(peers).toMatch(/^Address\s+Flags\s+Done\s+Down\s+Up\s+Client/m);
    expect(peers).toMatch(/::1\s+\S*D\S*\s+100\.0/);

    const done = await waitUntil(async () => {
      const out = await remote(target, '-l');
      return /\s1\s+100%\s+4\.2\d? MB\s+Done\s.*\s(Seeding|Idle)\s+payload/.test(out) && out;
    }, 60_000, () => 'transmission-remote -l showing it complete');
    expect(done).toMatch(/payload/);
    expect(await treeDigest(join(d.dirs.download, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));

    const info = await remote(target, '-t', '1', '-i');
    expect(info).toMatch(new RegExp(`Hash: ${meta.infoHashHex}`));
    expect(info).toMatch(/Percent Done: 100%/);
    expect(info).toMatch(new RegExp(`Location: ${d.dirs.download.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(info).toMatch(/Piece Count: \d+/);
    const files = await remote(target, '-t', '1', '-f');
    expect(files).toMatch(/payload\/a\.bin/);
    expect(files).toMatch(/payload\/sub\/b\.bin/);

    expect(await remote(target, '-t', '1', '-S')).toMatch(/success/);
    await waitUntil(async () => /\s1\s+100%.*\sStopped\s+payload/.test(await remote(target, '-l')), 15_000, () => 'listed as stopped');
    expect(await remote(target, '-t', '1', '-s')).toMatch(/success/);
    await waitUntil(async () => /\s1\s+100%.*\s(Seeding|Idle)\s+payload/.test(await remote(target, '-l')), 15_000, () => 'listed as seeding again');

    // Verify: the data is hashed again, and every piece passes.
    expect(await remote(target, '-t', '1', '-v')).toMatch(/success/);
    const checked = await d.proc.waitFor((e) => e.event === 'checked' && e.hashed === meta.pieceCount, 30_000, 'a full re-check');
    expect(checked.have).toBe(meta.pieceCount);
    await waitUntil(async () => /\s1\s+100%.*\s(Seeding|Idle)\s+payload/.test(await remote(target, '-l')), 15_000, () => 'complete after the verify');

    expect(await remote(target, '-t', '1', '-r')).toMatch(/success/);
    await waitUntil(async () => !/payload/.test(await remote(target, '-l')), 15_000, () => 'gone from the list');
    // Removed, not deleted: the data stays.
    expect(await treeDigest(join(d.dirs.download, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
    const log = d.proc.events.filter((e) => e.event === 'remote').map((e) => e.method);
    expect(log).toEqual(['torrent-add', 'torrent-stop', 'torrent-start', 'torrent-verify', 'torrent-remove']);
  });

  it('talks to a daemon on every address over HTTPS with a login, and is refused without it', async () => {
    dir = await tempDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await execFileAsync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost']);
    const credentials = join(dir, 'users');
    await writeFile(credentials, '# who may drive the daemon\nalice:correct horse:battery\n');
    await chmod(credentials, 0o600);
    const d = await startDaemon(dir, ['--rpc-bind', '::', '--credentials', credentials, '--tls-cert', cert, '--tls-key', key], { auth: { user: 'alice', password: 'correct horse:battery' } });
    const target = `[::1]:${d.port}`;
    const info = await remote(target, '--ssl', '-n', 'alice:correct horse:battery', '-si');
    expect(info).toMatch(/RPC version: 17/);
    expect(await remote(target, '--ssl', '-n', 'alice:correct horse:battery', '-l')).toMatch(/^Sum:/m);
    await expect(remote(target, '--ssl', '-n', 'alice:wrong', '-l')).rejects.toThrow(/Unexpected response: wrong user name or password/);
    await expect(remote(target, '--ssl', '-l')).rejects.toThrow(/Unexpected response: log in/);
    // Plain HTTP on the HTTPS port gets nowhere.
    await expect(remote(target, '-n', 'alice:correct horse:battery', '-l')).rejects.toThrow();
    const refusals = d.proc.events.filter((e) => e.event === 'refused');
    expect(refusals.map((e) => e.status)).toEqual(expect.arrayContaining([401]));
  });
});
