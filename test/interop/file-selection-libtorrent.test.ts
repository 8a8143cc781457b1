/**
 * File selection against a real libtorrent seed over [::1]: `--select` / `--skip` download only
 * the pieces of the chosen files, never create a skipped file (the bytes of theirs that share a
 * piece with a chosen file sit in that piece's part file), complete when the chosen files are
 * verified, and resume after kill -9 with the same selection. Bad selections are usage errors.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { libtorrentPeer, mktorrent, waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, freePort, makeTree, runCli, sixswarm, tempDir, treeDigest } from '../support/sixswarm.js';

const KiB = 1024;
const PIECE = 64 * KiB;
// Sizes that make every file boundary fall inside a piece.
const TREE = { 'a.bin': 300 * KiB + 777, 'b.bin': 200 * KiB + 5, 'c.bin': 500 * KiB + 3, 'd.txt': 5000 };
const NAMES = Object.keys(TREE);

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function setup() {
  dir = await tempDir('sixswarm-select-');
  const d = dir;
  await makeTree(join(d, 'seed', 'payload'), TREE);
  const torrent = join(d, 'p.torrent');
  await mktorrent(join(d, 'seed', 'payload'), torrent, 16);
  const port = await freePort();
  const lt = libtorrentPeer({ torrent, save: join(d, 'seed'), port });
  expect((await lt.event('checked')).seeding).toBe(true);
  return { d, torrent, port, env: { SIXSWARM_STATE_DIR: join(d, 'state') } };
}

/** Pieces [first, last] of file `n` (0-based in TREE order). */
function piecesOf(n: number): [number, number] {
  const sizes = Object.values(TREE);
  const start = sizes.slice(0, n).reduce((a, b) => a + b, 0);
  return [Math.floor(start / PIECE), Math.floor((start + sizes[n]! - 1) / PIECE)];
}

describe('file selection against libtorrent', () => {
  it('info numbers the files; --select 2 downloads only b.bin, keeps the shared pieces\' other bytes in part files, and completes', async () => {
    const { d, torrent, port, env } = await setup();
    const info = await runCli(['info', torrent]);
    expect(info.stdout).toMatch(/^ {2}1 .* payload\/a\.bin$/m);
    expect(info.stdout).toMatch(/^ {2}2 .* payload\/b\.bin$/m);
    const json = JSON.parse((await runCli(['info', torrent, '--json'])).stdout) as { infoHash: string; files: { index: number; path: string[] }[] };
    expect(json.files.map((f) => [f.index, f.path.at(-1)])).toEqual(NAMES.map((n, i) => [i + 1, n]));

    const out = join(d, 'leech');
    const leech = sixswarm(['download', torrent, '-o', out, '--peer', `[::1]:${port}`, '--port', '0', '--no-ipv4', '--select', '2', '--exit-on-complete', '--json'], { env });
    expect(await leech.exited, leech.stderr).toBe(0);
    const [first, last] = piecesOf(1);
    const verified = leech.events.filter((e) => e.event === 'piece-verified').map((e) => e.index as number).sort((a, b) => a - b);
    expect(verified).toEqual(Array.from({ length: last - first + 1 }, (_, i) => first + i));
    expect(await readdir(join(out, 'payload'))).toEqual(['b.bin']);
    expect(await readFile(join(out, 'payload', 'b.bin'))).toEqual(await readFile(join(d, 'seed', 'payload', 'b.bin')));
    // b.bin's first piece also holds the end of a.bin, its last the start of c.bin: those bytes are in part files.
    const parts = join(out, `.sixswarm-${json.infoHash}.parts`);
    expect((await readdir(parts)).sort()).toEqual([String(first), String(last)].sort());
    const a = await readFile(join(d, 'seed', 'payload', 'a.bin'));
    const partA = await readFile(join(parts, String(first)));
    expect(partA.subarray(0, a.length - first * PIECE)).toEqual(a.subarray(first * PIECE));
    const progress = leech.events.filter((e) => e.event === 'progress').at(-1)!;
    expect(progress.percent).toBe(100);
    expect(progress.selected).toMatchObject({ files: 1, of: 4 });
  });

  it('--skip with a glob resumes after kill -9 with the same selection and completes the rest', async () => {
    const { d, torrent, port, env } = await setup();
    const out = join(d, 'leech');
    const args = ['download', torrent, '-o', out, '--peer', `[::1]:${port}`, '--port', '0', '--no-ipv4', '--skip', 'c.*', '--json'];
    // Slow enough to be killed half way.
    const first = sixswarm([...args, '--max-down', '64k'], { env, label: 'first run' });
    await waitUntil(() => first.events.filter((e) => e.event === 'piece-verified').length >= 4, 30_000, () => first.tail());
    first.kill('SIGKILL');
    await first.exited;
    const before = first.events.filter((e) => e.event === 'piece-verified').length;
    expect(existsSync(join(out, 'payload', 'c.bin')), 'a skipped file is never created').toBe(false);

    const second = sixswarm([...args, '--exit-on-complete'], { env, label: 'second run' });
    const checked = await second.event('checked');
    expect((checked.valid as number) + (checked.trusted as number)).toBeGreaterThanOrEqual(before);
    expect(await second.exited, second.stderr).toBe(0);
    const seed = await treeDigest(join(d, 'seed', 'payload'));
    const got = await treeDigest(join(out, 'payload'));
    expect(Object.keys(got).sort()).toEqual(['a.bin', 'b.bin', 'd.txt']);
    for (const f of ['a.bin', 'b.bin', 'd.txt']) expect(got[f], f).toBe(seed[f]);
    // c.bin's pieces were never asked for, except those it shares with b.bin and d.txt.
    const [c0, c1] = piecesOf(2);
    const all = [...first.events, ...second.events].filter((e) => e.event === 'piece-verified').map((e) => e.index as number);
    expect(all.filter((i) => i > c0 && i < c1)).toEqual([]);

    // Every wanted piece, those with part files included, is found again: hashed (--recheck), then trusted.
    const wanted = (checked.pieces as number) - (c1 - c0 - 1);
    const recheck = await runCli([...args, '--exit-on-complete', '--recheck'], { env });
    expect(recheck.code, recheck.stderr).toBe(0);
    expect(recheck.events.find((e) => e.event === 'checked')).toMatchObject({ hashed: wanted, valid: wanted, trusted: 0 });
    const again = await runCli([...args, '--exit-on-complete'], { env });
    expect(again.events.find((e) => e.event === 'checked')).toMatchObject({ hashed: 0, trusted: wanted });
  });

  it('a selection that does not fit the torrent is a usage error naming what is wrong, before any peer is contacted', async () => {
    const { d, torrent, env } = await setup();
    const out = join(d, 'never');
    const outside = await runCli(['download', torrent, '-o', out, '--select', '2,9', '--no-trackers'], { env });
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/--select "2,9": 9 is outside the torrent's files, numbered 1 to 4/);
    const garbage = await runCli(['download', torrent, '-o', out, '--select', 'b.bin'], { env });
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toMatch(/"b\.bin" is not a file number or a range like 3-5/);
    const nothing = await runCli(['download', torrent, '-o', out, '--skip', '*'], { env });
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/the selection leaves no file to download/);
    expect(existsSync(out)).toBe(false);
  });
});
