/**
 * Resume after a crash (kill -9), after a clean stop (SIGTERM), after the data was changed on disk,
 * and with --recheck. A raw-TCP harness seed serves the torrent at a fixed rate, so a download can
 * be stopped reliably halfway through; restarts get it at full speed.
 */
import { execFileSync } from 'node:child_process';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Metainfo } from '../../src/metainfo/types.js';
import { ensureBuilt } from '../support/build.js';
import { RawPeerServer, type ServeOptions } from '../support/raw-peer.js';
import { removeDir, seedPayload, sixswarm, tempDir, treeDigest, type JsonEvent, type SixswarmProcess } from '../support/sixswarm.js';

const PIECE = 64 * 1024;
const TREE = { 'big.bin': 12 * 1024 * 1024 + 4321, 'sub/mid.bin': 4 * 1024 * 1024 - 99, 'sub/small.txt': 777 }; // 257 pieces
const SLOW = 8 * 1024 * 1024; // bytes/s while a test wants to stop the download halfway

let dir: string;
let torrent: string;
let meta: Metainfo;
let payload: Buffer;
let harness: RawPeerServer;
const serving: ServeOptions = {};
let runs = 0;
const procs: SixswarmProcess[] = [];

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir();
  ({ torrent, meta, payload } = await seedPayload(dir, TREE, PIECE));
  harness = await RawPeerServer.listen('127.0.0.1');
  harness.seed(meta.infoHash, payload, PIECE, serving);
});

afterEach(async () => {
  const all = procs.splice(0);
  for (const p of all) p.kill('SIGKILL');
  await Promise.all(all.map((p) => p.exited));
  for (const p of harness.peers) p.close();
});

afterAll(async () => {
  await harness?.close();
  await removeDir(dir);
});

interface Download {
  out: string;
  stateDir: string;
}

function newDownload(): Download {
  const n = ++runs;
  return { out: join(dir, `leech-${n}`), stateDir: join(dir, `state-${n}`) };
}

function run(d: Download, extra: string[] = []): SixswarmProcess {
  const p = sixswarm(['download', torrent, '-o', d.out, '--peer', `127.0.0.1:${harness.port}`, '--port', '0', '--json', ...extra], {
    env: { SIXSWARM_STATE_DIR: d.stateDir },
    label: `leech-${runs}`,
  });
  procs.push(p);
  return p;
}

const verifiedIn = (p: SixswarmProcess): number[] => p.events.filter((e) => e.event === 'piece-verified').map((e) => e.index as number);

/** Start a slow download and stop it with `signal` once 40–60% of the pieces are verified. */
async function stopHalfway(d: Download, signal: NodeJS.Signals): Promise<number[]> {
  serving.bytesPerSecond = SLOW;
  const p = run(d);
  let count = 0;
  const target = Math.round(meta.pieceCount * 0.45);
  await p.waitFor((e) => e.event === 'piece-verified' && ++count >= target, 30_000, `${target} verified pieces`);
  p.kill(signal);
  const code = await p.exited;
  if (signal === 'SIGKILL') expect(p.proc.signalCode).toBe('SIGKILL');
  else expect(code).toBe(signal === 'SIGINT' ? 130 : 143); // stopped unfinished
  const verified = verifiedIn(p);
  expect(verified.length).toBeGreaterThanOrEqual(target);
  expect(verified.length).toBeLessThan(meta.pieceCount * 0.75);
  serving.bytesPerSecond = 0;
  return verified;
}

/** Restart and run to completion; returns the `checked` event and the pieces downloaded this time. */
async function finish(d: Download, extra: string[] = []): Promise<{ checked: JsonEvent; downloaded: number[] }> {
  serving.bytesPerSecond = 0;
  const p = run(d, ['--exit-on-complete', ...extra]);
  const checked = await p.event('checked', 20_000);
  await p.event('complete', 30_000);
  expect(await p.exited).toBe(0);
  const downloaded = verifiedIn(p);
  // Every piece was either found valid on disk or downloaded and verified now, and not both.
  expect(new Set(downloaded).size).toBe(downloaded.length);
  expect(checked.have as number).toBe(meta.pieceCount - downloaded.length);
  expect(await treeDigest(join(d.out, 'payload'))).toEqual(await treeDigest(join(dir, 'seed', 'payload')));
  return { checked, downloaded };
}

/** The file and offset in it of byte `at` of piece `index`. */
function locate(index: number, at: number): { path: string; offset: number } {
  const abs = index * PIECE + at;
  const f = meta.files.find((x) => !x.pad && abs >= x.offset && abs < x.offset + x.length)!;
  return { path: join(...f.path), offset: abs - f.offset };
}

async function flipByte(file: string, offset: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

describe('resume', () => {
  it('after kill -9 halfway, finds the verified pieces on disk and downloads only the rest', async () => {
    const d = newDownload();
    const before = await stopHalfway(d, 'SIGKILL');
    const { checked, downloaded } = await finish(d);
    // Nothing was saved after the start, so the pieces are found by hashing, not trusted.
    expect(checked.valid as number).toBeGreaterThanOrEqual(before.length);
    expect(checked.have).toBe((checked.valid as number) + (checked.trusted as number));
    expect(downloaded.length).toBeLessThan(meta.pieceCount);
    for (const i of before) expect(downloaded).not.toContain(i);
  });

  it('after a clean SIGTERM stop, trusts the saved state instead of hashing', async () => {
    const d = newDownload();
    const before = await stopHalfway(d, 'SIGTERM');
    const { checked, downloaded } = await finish(d);
    // Pieces still being written at the signal finish and count too, without a piece-verified event.
    expect(checked.trusted as number).toBeGreaterThanOrEqual(before.length);
    expect(checked.trusted as number).toBeLessThan(meta.pieceCount);
    expect(checked.valid).toBe(0);
    // Every file is unchanged since the save: its missing pieces are known missing, nothing needs hashing.
    expect(checked.hashed).toBe(0);
    for (const i of before) expect(downloaded).not.toContain(i);
  });

  it('re-hashes and re-downloads a piece whose file was modified after the stop', async () => {
    const d = newDownload();
    const before = await stopHalfway(d, 'SIGTERM');
    const victim = before[0]!;
    const { path, offset } = locate(victim, 1000);
    await flipByte(join(d.out, path), offset);
    const { checked, downloaded } = await finish(d);
    expect(checked.hashed as number).toBeGreaterThan(0);
    expect(downloaded).toContain(victim);
    // Pieces in other, untouched files were still trusted.
    const lastByte = (i: number) => Math.min(PIECE, meta.totalLength - i * PIECE) - 1;
    const inOtherFiles = before.filter((i) => locate(i, 0).path !== path && locate(i, lastByte(i)).path !== path);
    expect(checked.trusted as number).toBeGreaterThanOrEqual(inOtherFiles.length);
  });

  it('a damaged resume file (a "have" that is not text, and others) costs a full check with a warning naming the file, never the download', async () => {
    const d = newDownload();
    const before = await stopHalfway(d, 'SIGTERM');
    const [name] = await readdir(join(d.stateDir, 'resume'));
    const file = join(d.stateDir, 'resume', name!);
    const good = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    const damage: [Record<string, unknown> | string, RegExp][] = [
      [{ ...good, have: { length: 1e9 } }, /"have" is not a base64 bitfield/],
      [{ ...good, have: 5 }, /"have" is not a base64 bitfield/],
      [{ ...good, files: [{ size: 'x' }] }, /"files" is not a list/],
      ['{"version":1,', /damaged \(/],
    ];
    for (const [content, why] of damage) {
      await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
      const p = run(d, ['--exit-on-complete']);
      const checked = await p.event('checked', 20_000);
      expect(checked.resumeProblem).toContain(`the resume file ${file} is damaged`);
      expect(checked.resumeProblem).toMatch(why);
      expect(checked.resumeProblem).toMatch(/checking every piece instead/);
      // Nothing was trusted: every piece on disk was hashed, and what was verified before is found again.
      expect(checked.trusted).toBe(0);
      expect(checked.valid as number).toBeGreaterThanOrEqual(before.length);
      await p.event('complete', 30_000);
      expect(await p.exited, p.stderr).toBe(0);
      expect(p.stderr).not.toMatch(/TypeError/);
    }
    // Without --json the warning is a line of its own.
    await writeFile(file, JSON.stringify({ ...good, have: [1, 2] }));
    const plain = sixswarm(['download', torrent, '-o', d.out, '--peer', `127.0.0.1:${harness.port}`, '--port', '0', '--exit-on-complete'], { env: { SIXSWARM_STATE_DIR: d.stateDir }, label: 'plain' });
    procs.push(plain);
    expect(await plain.exited, plain.stderr).toBe(0);
    expect(plain.stdoutRaw).toContain(`warning: the resume file ${file} is damaged ("have" is not a base64 bitfield); checking every piece instead`);
  });

  it('--recheck hashes everything and catches a change the saved state cannot see', async () => {
    const d = newDownload();
    await finish(d);
    // Flip a byte but put the file's mtime back: size and mtime match the saved state again.
    const victim = Math.floor(meta.pieceCount / 2);
    const { path, offset } = locate(victim, 5);
    const file = join(d.out, path);
    const ref = join(dir, `mtime-ref-${runs}`);
    execFileSync('touch', ['-r', file, ref]);
    await flipByte(file, offset);
    execFileSync('touch', ['-r', ref, file]);
    const { checked, downloaded } = await finish(d, ['--recheck']);
    expect(checked).toMatchObject({ hashed: meta.pieceCount, trusted: 0, valid: meta.pieceCount - 1 });
    expect(downloaded).toEqual([victim]);
  });
});
