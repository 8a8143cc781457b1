/**
 * Stopping at awkward moments loses nothing: a signal during the initial check leaves no resume
 * state that would hide the data, a peer that connected in does not hold the exit up, and a
 * reader that closes our stdout stops us cleanly.
 */
import { spawn } from 'node:child_process';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { RawPeer } from '../support/raw-peer.js';
import { cleanUpAfterEach, CLI, freePort, runCli, sixswarm, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** A large file that is quick to make: written sparsely, with some data at both ends. */
async function bigPayload(root: string, bytes: number): Promise<void> {
  const fh = await open(join(root, 'big.bin'), 'w');
  await fh.truncate(bytes);
  await fh.write(Buffer.alloc(4096, 1), 0, 4096, 0);
  await fh.write(Buffer.alloc(4096, 2), 0, 4096, bytes - 4096);
  await fh.close();
}

describe('shutdown', () => {
  it('a signal during the initial check leaves no resume state behind, so the next start finds all the data', async () => {
    dir = await tempDir();
    const env = { SIXSWARM_STATE_DIR: join(dir, 'state') };
    await bigPayload(dir, 1536 * 1024 * 1024);
    const torrentFile = join(dir, 't.torrent');
    expect((await runCli(['create', join(dir, 'big.bin'), '-o', torrentFile, '--piece-length', '1M'], { timeoutMs: 120_000 })).code).toBe(0);

    const first = sixswarm(['seed', torrentFile, dir, '--port', String(await freePort()), '--no-trackers', '--json'], { env, label: 'seed-1' });
    await first.event('checking');
    first.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.events.some((e) => e.event === 'checked')).toBe(false); // it really was interrupted mid-check
    const saved = await readdir(join(dir, 'state', 'resume')).catch(() => [] as string[]);
    expect(saved.filter((f) => f.endsWith('.json'))).toEqual([]);

    const second = sixswarm(['seed', torrentFile, dir, '--port', String(await freePort()), '--no-trackers', '--json'], { env, label: 'seed-2' });
    const checked = await second.event('checked', 120_000);
    expect(checked.have).toBe(checked.pieces);
    expect(checked.valid).toBe(checked.pieces);
    second.kill();
    expect(await second.exited).toBe(0);
  });

  it('exits at once on SIGTERM while a peer that connected in stays connected', async () => {
    dir = await tempDir();
    await bigPayload(dir, 1024 * 1024);
    const torrentFile = join(dir, 't.torrent');
    expect((await runCli(['create', join(dir, 'big.bin'), '-o', torrentFile])).code).toBe(0);
    const seed = sixswarm(['seed', torrentFile, dir, '--port', '0', '--no-trackers', '--json'], { env: { SIXSWARM_STATE_DIR: join(dir, 'state') }, label: 'seed' });
    const port = await seed.port();
    await seed.event('progress');
    const peer = await RawPeer.connect('::1', port);
    peer.sendHandshake((await readTorrentFile(torrentFile)).infoHash);
    await peer.readHandshake();
    await seed.event('peer-connected');
    const t0 = Date.now();
    seed.kill('SIGTERM');
    // Its listeners wait for the connections they accepted: the swarm must close them first.
    expect(await seed.exitCode(5000)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    await peer.waitClosed();
  });

  it('stops cleanly, saving resume state, when the reader of its output goes away', async () => {
    dir = await tempDir();
    const env = { ...process.env, SIXSWARM_STATE_DIR: join(dir, 'state') };
    await bigPayload(dir, 4 * 1024 * 1024);
    const torrentFile = join(dir, 't.torrent');
    expect((await runCli(['create', join(dir, 'big.bin'), '-o', torrentFile])).code).toBe(0);
    // Like `sixswarm seed --json | head`: read until the data is checked, then close the pipe.
    const proc = spawn(process.execPath, [CLI, 'seed', torrentFile, dir, '--port', String(await freePort()), '--no-trackers', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines: string[] = [];
    const rl = createInterface({ input: proc.stdout });
    await new Promise<void>((resolve) =>
      rl.on('line', (l) => {
        lines.push(l);
        if (l.includes('"checked"')) resolve();
      }),
    );
    rl.close();
    proc.stdout.destroy();
    // It only notices at its next write: progress comes when something changed, and at least every 5 s.
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/SIGTERM: closing peers and saving resume state/);
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    const saved = await readdir(join(dir, 'state', 'resume'));
    expect(saved.filter((f) => f.endsWith('.json'))).toHaveLength(1);
  });
});
