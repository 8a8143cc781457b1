/**
 * transmission-daemon 3.00 over [::1]: as the leecher, fed by a sixswarm seed that dials it
 * (transmission never dials loopback peers itself), and as a seed that sixswarm dials.
 * Transmission turns interested (as a leecher) or unchokes (as a seed) only on its 10 s rechoke
 * timer, so each transfer takes 10-20 s; the timeouts leave room for that.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadOverIPv6, expectIPv6Only, logTiming, mktorrent, seedOverIPv6, since, startTransmission, stopSeed, waitUntil, type Transmission } from '../support/peers.js';
import { cleanUpAfterEach, freePort, makeTree, runCli, tempDir, treeDigest } from '../support/sixswarm.js';

const MiB = 1024 * 1024;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** Add the torrent and wait for transmission's check of the data in `dir`: a peer arriving during it is dropped. */
async function addChecked(tr: Transmission, torrent: string, dir: string): Promise<Map<string, string>> {
  await tr.remote(['-a', torrent, '-w', dir]);
  return waitUntil(
    async () => {
      const info = await tr.info();
      return /Verifying|Queued|^$/.test(info.get('State') ?? '') ? undefined : info;
    },
    15_000,
    () => 'transmission finishing its check',
  );
}

async function transmissionDownloadsFromSixswarm(torrentOf: (d: string) => Promise<string>, tree: Record<string, number>, what: string) {
  const d = (dir = await tempDir('sixswarm-interop-tr-'));
  const env = { SIXSWARM_STATE_DIR: join(d, 'state') };
  await makeTree(join(d, 'seed'), tree);
  const torrent = await torrentOf(d);
  const bytes = Object.values(tree).reduce((a, b) => a + b, 0);

  // A fresh daemon per test: transmission keys peers by IP, and every peer here is ::1.
  const tr = await startTransmission({ configDir: join(d, 'tr'), downloadDir: join(d, 'leech'), peerPort: await freePort(), rpcPort: await freePort() });
  await addChecked(tr, torrent, join(d, 'leech'));

  const t0 = Date.now();
  const seed = await seedOverIPv6({ torrent, dir: join(d, 'seed'), dial: [tr.peerPort], env });
  const info = await waitUntil(
    async () => {
      const i = await tr.info();
      return i.get('Percent Done') === '100%' ? i : undefined;
    },
    45_000,
    () => `transmission completing\n${seed.tail()}`,
  );
  const ms = since(t0);
  // Every byte it has passed its own piece check, and none failed it.
  expect(info.get('Have')).toMatch(/^(\S+ \S+) \(\1 verified\)$/);
  expect(info.get('Corrupt DL')).toBe('None');
  expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
  expectIPv6Only(seed);
  expect(seed.events.find((e) => e.event === 'peer-connected')).toMatchObject({ direction: 'out', client: '-TR3000-' });
  expect(await stopSeed(seed)).toBeGreaterThanOrEqual(bytes);
  logTiming(`sixswarm -> transmission (${what})`, bytes, ms);
}

describe('transmission interop over [::1]', () => {
  it('transmission downloads a multi-file sixswarm-created torrent from a sixswarm seed that dials it', { timeout: 80_000 }, async () => {
    await transmissionDownloadsFromSixswarm(
      async (d) => {
        const created = await runCli(['create', join(d, 'seed', 'payload'), '-o', join(d, 'p.torrent'), '--piece-length', '64K']);
        expect(created.code, created.stderr).toBe(0);
        return join(d, 'p.torrent');
      },
      { 'payload/a.bin': 3 * MiB + 777, 'payload/sub/b.bin': 2 * MiB + 4099, 'payload/sub/c.txt': 5000 },
      'sixswarm create, multi-file',
    );
  });

  it('transmission downloads a single-file mktorrent torrent from a sixswarm seed that dials it', { timeout: 80_000 }, async () => {
    await transmissionDownloadsFromSixswarm(
      async (d) => {
        await mktorrent(join(d, 'seed', 'single.bin'), join(d, 'p.torrent'), 18);
        return join(d, 'p.torrent');
      },
      { 'single.bin': 4 * MiB + 12_345 },
      'mktorrent, single file',
    );
  });

  it('sixswarm downloads a multi-file mktorrent torrent from a transmission seed', { timeout: 80_000 }, async () => {
    const d = (dir = await tempDir('sixswarm-interop-tr-'));
    const env = { SIXSWARM_STATE_DIR: join(d, 'state') };
    const tree = { 'payload/a.bin': 3 * MiB + 777, 'payload/sub/b.bin': 2 * MiB + 4099, 'payload/sub/c.txt': 5000 };
    await makeTree(join(d, 'seed'), tree);
    await mktorrent(join(d, 'seed', 'payload'), join(d, 'p.torrent'), 18);
    const tr = await startTransmission({ configDir: join(d, 'tr'), downloadDir: join(d, 'seed'), peerPort: await freePort(), rpcPort: await freePort() });
    const info = await addChecked(tr, join(d, 'p.torrent'), join(d, 'seed'));
    expect(info.get('Percent Done'), 'transmission has all the data').toBe('100%');
    const t0 = Date.now();
    const leech = await downloadOverIPv6({ torrent: join(d, 'p.torrent'), out: join(d, 'leech'), port: tr.peerPort, env, timeoutMs: 45_000 });
    logTiming('transmission -> sixswarm (mktorrent, multi-file)', Object.values(tree).reduce((a, b) => a + b, 0), since(t0));
    expect(leech.events.find((e) => e.event === 'peer-connected')?.client).toBe('-TR3000-');
    expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
  });
});
