/**
 * Piece layers fetched from peers, end to end: a sixswarm downloader given only a v2 magnet gets
 * the metadata and then every file's piece layer from a sixswarm seed, in chunks, and completes.
 * Two files with the same content (one merkle root) both get their layer from the answers for
 * that root; a file of more than 1024 pieces of 16 KiB (its layer in three chunks, at level 0 of
 * its tree) beside a small one downloads to the end. Over loopback only.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { ensureBuilt } from '../support/build.js';
import { cleanUpAfterEach, runCli, sixswarm, tempDir, treeDigest, type SixswarmProcess } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** Seed `files` (name -> content) as a v2 torrent and download it by its magnet; returns the downloader's events. */
async function magnetDownload(files: Record<string, Buffer>, pieceLength: number, timeoutMs: number): Promise<SixswarmProcess> {
  ensureBuilt();
  dir = await tempDir('sixswarm-v2-layers-');
  for (const [name, data] of Object.entries(files)) {
    await mkdir(join(dir, 'seed', 'payload', name, '..'), { recursive: true });
    await writeFile(join(dir, 'seed', 'payload', name), data);
  }
  const file = join(dir, 'v2.torrent');
  const made = await runCli(['create', join(dir, 'seed', 'payload'), '-o', file, '--piece-length', String(pieceLength), '--v2']);
  expect(made.code, made.stderr).toBe(0);
  const meta = await readTorrentFile(file);
  const magnet = (await runCli(['info', file, '--magnet'])).stdout.trim();
  expect(magnet).toMatch(/urn:btmh:/);
  expect(magnet).not.toMatch(/urn:btih:/);
  const leech = sixswarm(['download', magnet, '-o', join(dir, 'leech'), '--port', '0', '--no-ipv6', '--no-dht', '--exit-on-complete', '--json'], {
    env: { SIXSWARM_STATE_DIR: join(dir, 'state-leech') },
    label: 'leech',
  });
  // The seed dials the downloader: the magnet names no peers.
  const seed = sixswarm(['seed', file, join(dir, 'seed'), '--port', '0', '--no-ipv6', '--no-dht', '--json', '--peer', `127.0.0.1:${await leech.port()}`], {
    env: { SIXSWARM_STATE_DIR: join(dir, 'state-seed') },
    label: 'seed',
  });
  try {
    expect((await seed.event('checked')).have).toBe(meta.pieceCount);
    await leech.event('complete', timeoutMs);
    expect(await leech.exited).toBe(0);
  } finally {
    seed.kill('SIGTERM');
    leech.kill('SIGTERM');
    await Promise.all([seed.exited, leech.exited]);
  }
  expect(await treeDigest(join(dir, 'leech', 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
  // No peer was dropped for its hashes (an answer filed under the wrong file, or counted as unsolicited).
  expect(leech.events.filter((e) => e.event === 'peer-disconnected' && /protocol error/.test(String(e.reason)))).toEqual([]);
  return leech;
}

describe('piece layers from a v2 magnet', () => {
  it('two files with the same content (one merkle root) both get their layer, and the download completes', async () => {
    const same = randomBytes(40 * 32 * 1024 + 123);
    await magnetDownload({ 'a.bin': same, 'b/copy.bin': same, 'c.bin': randomBytes(100_000) }, 32 * 1024, 60_000);
  });

  it('a file of more than 1024 pieces of 16 KiB beside a small one: its layer comes in chunks, and the download completes', async () => {
    await magnetDownload({ 'big.bin': randomBytes(20 * 1024 * 1024 + 5), 'small.txt': randomBytes(3000) }, 16 * 1024, 90_000);
  });
});
