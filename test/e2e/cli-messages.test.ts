/**
 * The CLI run into the situations a new user meets first, reading its output and exit code: an
 * unknown option (every command), a download stopped by SIGINT / SIGTERM, a second download of the
 * same torrent into the same folder, a folder that cannot be written, and `seed` pointed at the
 * wrong folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../support/peers.js';
import { cleanUpAfterEach, runCli, seedPayload, sixswarm, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

const KiB = 1024;

async function payload() {
  dir = await tempDir('sixswarm-messages-');
  const d = dir;
  const made = await seedPayload(d, { 'a.bin': 300 * KiB, 'sub/b.bin': 100 * KiB }, 64 * KiB);
  return { d, ...made, env: { SIXSWARM_STATE_DIR: join(d, 'state') } };
}

/** A download that cannot finish (no peers, no trackers): it waits until stopped. */
function idleDownload(torrent: string, out: string, env: NodeJS.ProcessEnv, extra: string[] = []) {
  return sixswarm(['download', torrent, '-o', out, '--no-trackers', '--port', '0', '--json', ...extra], { env, label: 'idle download' });
}

describe('unknown options', () => {
  it('every command answers with its own message: the nearest valid option and its usage line, exit 2', async () => {
    const list = (await runCli(['--help'])).stdout;
    const names = [...list.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]!);
    expect(names).toEqual(expect.arrayContaining(['download', 'seed', 'create', 'info', 'tracker', 'tracker-check', 'tunnel', 'tunnel-server']));
    for (const name of names) {
      const help = (await runCli([name, '--help'])).stdout;
      // The longest option of its help (--help when it has no other), misspelt by one letter.
      const option = [...help.matchAll(/^\s{2,}(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1]!).sort((a, b) => Number(a === '--help') - Number(b === '--help') || b.length - a.length)[0]!;
      const typo = option.slice(0, -1);
      const r = await runCli(name === 'tunnel' ? [name, 'up', typo] : [name, typo]);
      expect(r.code, `${name} ${typo}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`sixswarm ${name}: unknown option ${typo}; did you mean ${option}?`);
      expect(r.stderr).toMatch(new RegExp(`\\nUsage: sixswarm ${name}`));
      expect(r.stderr).not.toMatch(/To specify a positional argument/);
    }
    const far = await runCli(['download', 'x.torrent', '--zzzzzz']);
    expect(far.code).toBe(2);
    expect(far.stderr).toMatch(/^sixswarm download: unknown option --zzzzzz\nUsage: sixswarm download/);
  });
});

describe('exit codes', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} during an unfinished download: state saved, exit ${code}`, async () => {
      const { d, torrent, env } = await payload();
      const p = idleDownload(torrent, join(d, 'out'), env);
      await p.event('checked');
      p.kill(signal);
      expect(await p.exited, p.stderr).toBe(code);
      expect(p.events.at(-1)).toMatchObject({ event: 'stopped', code });
      expect(existsSync(join(d, 'state', 'resume')), 'resume state saved').toBe(true);
    });
  }

  it('a finished download stopped by a signal, and a seed, exit 0', async () => {
    const { d, torrent, env } = await payload();
    // The data is all there: complete at once, then it seeds until stopped.
    const done = idleDownload(torrent, join(d, 'seed'), env);
    await done.event('complete');
    done.kill('SIGINT');
    expect(await done.exited, done.stderr).toBe(0);
    const seed = sixswarm(['seed', torrent, join(d, 'seed'), '--no-trackers', '--port', '0', '--json'], { env });
    await seed.event('checked');
    seed.kill('SIGTERM');
    expect(await seed.exited, seed.stderr).toBe(0);
  });
});

describe('one process per torrent and folder', () => {
  it('a second download into the same folder is refused naming the first; another folder is fine; a dead holder\'s lock is taken over', async () => {
    const { d, torrent, env } = await payload();
    const first = idleDownload(torrent, join(d, 'out'), env);
    await first.event('checked');
    const second = await runCli(['download', torrent, '-o', join(d, 'out'), '--no-trackers', '--port', '0'], { env });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`another sixswarm is already running this torrent in ${join(d, 'out')}: pid ${first.proc.pid}, started \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC \\(sixswarm download .*\\)\\. Stop it first \\(kill ${first.proc.pid}\\)`));
    expect(second.stdout).toBe('');

    const elsewhere = idleDownload(torrent, join(d, 'other'), env);
    await elsewhere.event('checked');
    elsewhere.kill('SIGTERM');
    await elsewhere.exited;

    first.kill('SIGKILL'); // leaves its lock behind
    await first.exited;
    const third = idleDownload(torrent, join(d, 'out'), env);
    await third.event('checked');
    third.kill('SIGTERM');
    expect(await third.exited).toBe(143);
  });
});

describe('a download folder that cannot be written', () => {
  it('is found before any peer is contacted: exit 2 with the path and the reason', async () => {
    const { d, torrent, env } = await payload();
    // Under a plain file: the folder cannot be created.
    await writeFile(join(d, 'file'), 'x');
    const under = await runCli(['download', torrent, '-o', join(d, 'file', 'out'), '--peer', '[::1]:9'], { env });
    expect(under.code).toBe(2);
    expect(under.stderr).toContain(`cannot create the download folder "${join(d, 'file', 'out')}" (not a directory (ENOTDIR))`);
    expect(under.events).toEqual([]);

    // A read-only file system (root may write anywhere else): a tmpfs mounted read-only in a mount namespace of its own.
    const ro = join(d, 'ro');
    await mkdir(ro);
    const wrap = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o ro tmpfs "$0" && exec "$@"', ro];
    const p = sixswarm(['download', torrent, '-o', ro, '--peer', '[::1]:9', '--json'], { env, wrap });
    expect(await p.exited, p.stderr).toBe(2);
    expect(p.stderr).toContain(`cannot write in the download folder "${ro}" (read-only file system (EROFS))`);
    // Nothing was started: not even a listener.
    expect(p.events).toEqual([]);
  });
});

describe('seed messages', () => {
  it('seed says what it seeds and how much is there, never "download complete"', async () => {
    const { d, torrent, env, meta } = await payload();
    const seed = sixswarm(['seed', torrent, join(d, 'seed'), '--no-trackers', '--port', '0'], { env });
    await waitUntil(() => /seeding "payload"/.test(seed.stderr), 15_000, () => seed.stderr + seed.stdoutRaw);
    expect(seed.stderr).toContain(`seeding "payload" (400 KiB) from ${join(d, 'seed')}: all ${meta.pieceCount} pieces present`);
    await waitUntil(() => /listening/.test(seed.stdoutRaw), 5000, () => seed.stdoutRaw);
    expect(seed.stdoutRaw).not.toMatch(/download complete/);
    seed.kill('SIGTERM');
    expect(await seed.exited).toBe(0);
  });

  it('given the torrent\'s own folder (or one above), it names the folder to pass and exits 2', async () => {
    const { d, torrent, env } = await payload();
    const inside = await runCli(['seed', torrent, join(d, 'seed', 'payload'), '--no-trackers', '--port', '0'], { env });
    expect(inside.code, inside.stderr).toBe(2);
    expect(inside.stderr).toContain(`no piece of "payload" is in ${join(d, 'seed', 'payload')}, but its files are in ${join(d, 'seed')}: run \`sixswarm seed ${torrent} ${join(d, 'seed')}\``);
    const above = await runCli(['seed', torrent, d, '--no-trackers', '--port', '0'], { env });
    expect(above.code, above.stderr).toBe(2);
    expect(above.stderr).toContain(`but its files are in ${join(d, 'seed')}`);
    // Nowhere near: a warning, and it seeds what there is (nothing) until stopped.
    execFileSync('mkdir', ['-p', join(d, 'empty')]);
    const nowhere = sixswarm(['seed', torrent, join(d, 'empty'), '--no-trackers', '--port', '0'], { env });
    await waitUntil(() => /no piece of it is there/.test(nowhere.stderr), 15_000, () => nowhere.stderr);
    nowhere.kill('SIGTERM');
    expect(await nowhere.exited).toBe(0);
  });
});
