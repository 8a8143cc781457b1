/**
 * sixswarm against a real aria2c (1.36) over [::1] only. aria2c cannot be told to dial a peer, so
 * either sixswarm dials the aria2c seed, or the sixswarm seed dials the aria2c leecher.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aria2Leech, aria2Seed, downloadOverIPv6, expectIPv6Only, logTiming, mktorrent, seedOverIPv6, since, stopSeed, waitListening, waitOutput } from '../support/peers.js';
import { cleanUpAfterEach, freePort, makeTree, runCli, tempDir, treeDigest } from '../support/sixswarm.js';

const MiB = 1024 * 1024;
/** Files that do not line up with pieces, one far smaller than a piece. */
const TREE = {
  'a.bin': 3 * MiB + 777,
  'sub/b.bin': 2 * MiB + 4099,
  'sub/c.txt': 5000,
};
const TREE_BYTES = Object.values(TREE).reduce((a, b) => a + b, 0);

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function setup() {
  dir = await tempDir('sixswarm-interop-aria2-');
  return { dir, env: { SIXSWARM_STATE_DIR: join(dir, 'state') } };
}

/** The sixswarm seed dials a listening aria2c leecher; aria2c must exit 0 with identical files. */
async function aria2DownloadsFromSixswarm(d: string, env: NodeJS.ProcessEnv, torrent: string, what: string, bytes: number) {
  const ariaPort = await freePort();
  const t0 = Date.now();
  const leech = aria2Leech({ torrent, dir: join(d, 'leech'), port: ariaPort, log: join(d, 'aria2-leech.log') });
  await waitListening('::1', ariaPort, leech);
  const seed = await seedOverIPv6({ torrent, dir: join(d, 'seed'), dial: [ariaPort], env });
  await waitOutput(leech, /Download complete/, 30_000);
  const ms = since(t0); // aria2c then takes about 2 s more to exit
  expect(await leech.exited, `aria2c exit code\n${leech.stdoutRaw.slice(-3000)}`).toBe(0);
  expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
  expectIPv6Only(seed);
  expect(seed.events.find((e) => e.event === 'peer-connected')?.direction).toBe('out');
  expect(await stopSeed(seed)).toBeGreaterThanOrEqual(bytes);
  logTiming(`sixswarm -> aria2c (${what})`, bytes, ms);
}

describe('aria2c interop over [::1]', () => {
  it('sixswarm downloads a multi-file mktorrent torrent from an aria2c seed', async () => {
    const { dir: d, env } = await setup();
    await makeTree(join(d, 'seed', 'payload'), TREE);
    await mktorrent(join(d, 'seed', 'payload'), join(d, 'p.torrent'), 18);
    const ariaPort = await freePort();
    await aria2Seed({ torrent: join(d, 'p.torrent'), dir: join(d, 'seed'), port: ariaPort, log: join(d, 'aria2-seed.log') });
    const t0 = Date.now();
    await downloadOverIPv6({ torrent: join(d, 'p.torrent'), out: join(d, 'leech'), port: ariaPort, env, timeoutMs: 30_000 });
    logTiming('aria2c -> sixswarm (mktorrent, multi-file)', TREE_BYTES, since(t0));
    expect(await treeDigest(join(d, 'leech'))).toEqual(await treeDigest(join(d, 'seed')));
  });

  it('aria2c downloads a multi-file sixswarm-created torrent from a sixswarm seed that dials it', async () => {
    const { dir: d, env } = await setup();
    await makeTree(join(d, 'seed', 'payload'), { ...TREE, 'sub/empty.txt': 0 });
    const created = await runCli(['create', join(d, 'seed', 'payload'), '-o', join(d, 'p.torrent'), '--piece-length', '64K']);
    expect(created.code, created.stderr).toBe(0);
    await aria2DownloadsFromSixswarm(d, env, join(d, 'p.torrent'), 'sixswarm create, multi-file', TREE_BYTES);
  });

  it('aria2c downloads a single-file mktorrent torrent with an odd last piece from a sixswarm seed', async () => {
    const { dir: d, env } = await setup();
    const size = 7 * MiB + 12_345;
    await makeTree(join(d, 'seed'), { 'single.bin': size });
    await mktorrent(join(d, 'seed', 'single.bin'), join(d, 'p.torrent'), 20);
    await aria2DownloadsFromSixswarm(d, env, join(d, 'p.torrent'), 'mktorrent, single file', size);
  });
});
