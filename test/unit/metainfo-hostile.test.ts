/**
 * The hostile torrent corpus (fixtures/hostile/make-corpus.mjs): torrents built to cost a parser
 * time or stack. `sixswarm info` must do what expected.json says with each, and parsing any of
 * them must take well under a second of CPU.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTorrentFile } from '../../src/metainfo/torrent.js';
import { CLI, ROOT, ensureBuilt, removeDir, tempDir } from '../support/sixswarm.js';

interface Expectation {
  exit: 0 | 2;
  files?: number;
  stderr?: string;
  maxStderr?: number;
}

let dir: string;
let expected: Record<string, Expectation>;

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('sixswarm-hostile-');
  execFileSync(process.execPath, [join(ROOT, 'fixtures', 'hostile', 'make-corpus.mjs'), dir]);
  expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Expectation>;
});
afterAll(() => removeDir(dir));

const names = [
  'deep-2000-components.torrent',
  'deep-at-the-caps.torrent',
  'deep-folder-is-a-file.torrent',
  'files-125k.torrent',
  'files-125k-duplicate.torrent',
  'values-flood.torrent',
  'one-huge-path.torrent',
];

describe('the hostile torrent corpus', () => {
  it('has an expectation for every torrent the script wrote, and no other', () => {
    expect(Object.keys(expected).sort()).toEqual([...names].sort());
  });

  it.each(names)('%s: parsed and validated in well under a second of CPU', async (name) => {
    const before = process.cpuUsage();
    await readTorrentFile(join(dir, name)).catch(() => undefined);
    const used = process.cpuUsage(before);
    expect((used.user + used.system) / 1000).toBeLessThan(1000);
  });

  it.each(names)('%s: `info` and `info --json` do what expected.json says', (name) => {
    const want = expected[name]!;
    for (const json of [false, true]) {
      const r = spawnSync(process.execPath, [CLI, 'info', join(dir, name), ...(json ? ['--json'] : [])], { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 30_000 });
      expect(r.status, r.stderr).toBe(want.exit);
      if (want.exit === 2) {
        expect(r.stdout).toBe('');
        expect(r.stderr).toContain(want.stderr!);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        if (want.maxStderr) expect(r.stderr.length).toBeLessThan(want.maxStderr);
        continue;
      }
      expect(r.stderr).toBe('');
      // Every file reaches stdout, also through a pipe (the process must not exit before it drains).
      if (json) expect((JSON.parse(r.stdout) as { files: unknown[] }).files).toHaveLength(want.files!);
      else expect(r.stdout.split('\n').filter((l) => l.startsWith('  ') && l.includes(' x/'))).toHaveLength(want.files!);
    }
  });
});
