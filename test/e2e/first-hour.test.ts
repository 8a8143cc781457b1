/**
 * What a new user trips over in the first hour (issue 25, "Messages and conventions"), against
 * the built CLI: a state folder, an output folder or a port that cannot be used is named with
 * what to do (the process that holds a port too); a tracker URL without brackets; a bad value in
 * the config file is blamed on the file and its key, a TOML mistake on its line; `sixswarm
 * config` shows what the environment and the defaults supply; every flag has an opposite;
 * `sixswarm -o DIR`, `sixswarm help download` and a mistyped command; plain output in words; one
 * name for the torrent in JSON events, every event in --help; download --help leads with the
 * options people use; and the default port moves aside for a program that has it.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_NAMES } from '../../src/status/event-names.js';
import { builtInTracker, cleanUpAfterEach, CLI, runCli, seedPayload, sixswarm, tempDir } from '../support/sixswarm.js';
import { waitUntil } from '../support/peers.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

const KiB = 1024;

/** A folder with a small payload and its torrent, readable by anyone (the tests run some commands as nobody). */
async function payload() {
  dir = await tempDir('sixswarm-first-hour-');
  const d = dir;
  await chmod(d, 0o755);
  const made = await seedPayload(d, { 'a.bin': 200 * KiB }, 64 * KiB);
  await chmod(made.torrent, 0o644);
  const env = { SIXSWARM_STATE_DIR: join(d, 'state'), XDG_CONFIG_HOME: join(d, 'xdg'), SIXSWARM_CONFIG: '' };
  return { d, ...made, env };
}

/** `sixswarm ARGS` as user nobody (root may write anywhere), with no home of its own. */
function asNobody(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, ...args], {
      env: { ...process.env, HOME: '/nonexistent', XDG_STATE_HOME: '', SIXSWARM_STATE_DIR: '', XDG_CONFIG_HOME: '/nonexistent', SIXSWARM_CONFIG: '' },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `sixswarm config ...` as { key: [value, source] }. */
async function settings(args: string[], env: NodeJS.ProcessEnv) {
  const r = await runCli(['config', ...args], { env });
  expect(r.code, r.stderr).toBe(0);
  const out: Record<string, [string, string]> = {};
  for (const m of r.stdout.matchAll(/^ {2}(\S+)\s+(\(.*?\)|\S+)\s{2,}(.+)$/gm)) out[m[1]!] = [m[2]!, m[3]!];
  return out;
}

describe('folders and ports that cannot be used are named, with what to do', () => {
  it('a state folder that cannot be created or written: exit 2 naming it and --state-dir', async () => {
    const { d, torrent } = await payload();
    await mkdir(join(d, 'out'), { mode: 0o777 });
    await chmod(join(d, 'out'), 0o777);
    // No home to put the default state folder in.
    const home = await asNobody(['download', torrent, '-o', join(d, 'out'), '--no-trackers', '--port', '0']);
    expect(home.code, home.stderr).toBe(2);
    expect(home.stderr).toContain('sixswarm download: cannot create the state folder "/nonexistent/.local/state/sixswarm" (permission denied (EACCES)): it keeps resume state, fetched metadata and locks: give --state-dir DIR (or set SIXSWARM_STATE_DIR) to a folder you can write');
    expect(home.stderr).not.toMatch(/^EACCES|mkdir '/m);
    // One that exists but is root's.
    await mkdir(join(d, 'roots'), { mode: 0o755 });
    const theirs = await asNobody(['seed', torrent, join(d, 'seed'), '--state-dir', join(d, 'roots'), '--no-trackers', '--port', '0']);
    expect(theirs.code, theirs.stderr).toBe(2);
    expect(theirs.stderr).toContain(`sixswarm seed: cannot write in the state folder "${join(d, 'roots')}" (permission denied (EACCES)): it keeps resume state`);
  });

  it('create -o into a folder that cannot be written: said before hashing, exit 2', async () => {
    const { d } = await payload();
    const r = await asNobody(['create', join(d, 'seed', 'payload'), '-o', join(d, 'x.torrent')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toBe(`sixswarm create: cannot write in the folder for x.torrent "${d}" (permission denied (EACCES)): write the torrent elsewhere (-o FILE)\n`);
  });

  it('a port in use names the process that holds it and --port; the default port moves aside instead', async () => {
    const { d, torrent, env } = await payload();
    // In a network namespace of this test's own: port 6881 is ours to take, whatever the host runs.
    const holder = sixswarm(['tracker', '--port', '6881', '--bind', '127.0.0.1', '--json'], { env, wrap: ['unshare', '-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'netns'] });
    await holder.waitFor((e) => e.type === 'listening', 15_000, 'the tracker listening');
    const inNs = ['nsenter', '-t', String(holder.proc.pid), '-n', '--'];
    // unshare and sh exec the tracker: its pid is the one started.
    const trackerPid = holder.proc.pid!;

    const second = await runCli(['tracker', '--port', '6881', '--bind', '127.0.0.1'], { env, wrap: inNs });
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`^sixswarm tracker: cannot listen: port 6881 is in use \\(by pid ${trackerPid}: sixswarm tracker --port 6881 --bind 127\\.0\\.0\\.1 --json\\): give another with --port N \\(0 picks a free one\\)\\n$`));

    const explicit = await runCli(['download', torrent, '-o', join(d, 'out'), '--no-trackers', '--no-ipv6', '--no-dht', '--port', '6881', '--json'], { env, wrap: inNs });
    expect(explicit.code, explicit.stderr).toBe(1);
    expect(explicit.stderr).toContain(`port 6881 is in use (by pid ${trackerPid}: sixswarm tracker --port 6881`);
    expect(explicit.stderr).toContain('give another with --port N (0 picks a free one)');

    // No --port: 6881 is only the default; it listens elsewhere and says why.
    const moved = sixswarm(['download', torrent, '-o', join(d, 'out'), '--no-trackers', '--no-ipv6', '--no-dht', '--json'], { env, wrap: inNs });
    const listening = await moved.event('listening');
    expect(listening.port).not.toBe(6881);
    await waitUntil(() => /listening on port/.test(moved.stderr), 5000, () => moved.stderr);
    expect(moved.stderr).toContain(`port 6881 is in use (by pid ${trackerPid}: sixswarm tracker --port 6881 --bind 127.0.0.1 --json): listening on port ${listening.port} instead (--port N picks one)`);
  });
});

describe('tracker URLs', () => {
  it('an IPv6 literal without brackets is told where the brackets go (create and --tracker)', async () => {
    const { d, torrent, env } = await payload();
    const created = await runCli(['create', join(d, 'seed', 'payload'), '-o', join(d, 'y.torrent'), '--tracker', 'udp://2001:db8::1:6969'], { env });
    expect(created.code).toBe(2);
    expect(created.stderr).toBe('sixswarm create: bad tracker URL "udp://2001:db8::1:6969": an IPv6 address in a URL goes in brackets: udp://[2001:db8::1]:6969\n');
    const added = await runCli(['download', torrent, '-o', join(d, 'out'), '--tracker', 'http://2001:db8::1:8080/announce'], { env });
    expect(added.code).toBe(2);
    expect(added.stderr).toContain('--tracker "http://2001:db8::1:8080/announce" is no tracker URL: an IPv6 address in a URL goes in brackets: http://[2001:db8::1]:8080/announce');
    const ftp = await runCli(['create', join(d, 'seed', 'payload'), '-o', join(d, 'z.torrent'), '--tracker', 'ftp://tracker.example/'], { env });
    expect(ftp.stderr).toContain('expected an http://, https:// or udp:// URL');
  });
});

describe('the config file', () => {
  async function configured(text: string) {
    const made = await payload();
    await mkdir(join(made.d, 'xdg', 'sixswarm'), { recursive: true });
    const path = join(made.d, 'xdg', 'sixswarm', 'config.toml');
    await writeFile(path, text);
    return { ...made, path };
  }

  it('a bad value in the file is blamed on the file and its key, not on an option never given', async () => {
    const { d, torrent, env, path } = await configured('port = "seventy"\n[download]\nmax-down = "fast"\n');
    const r = await runCli(['download', torrent, '-o', join(d, 'out')], { env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^sixswarm download: the config file ${path}: "(port" must be a whole number from 0 to 65535, got "seventy"|max-down" in \\[download\\] must be a rate such as 500k)`));
    expect(r.stderr).not.toMatch(/--port|--max-down/);
    // Given on the command line, the same value is the option's.
    const typed = await runCli(['download', torrent, '-o', join(d, 'out'), '--port', 'eighty', '--max-down', '1M'], { env });
    expect(typed.stderr).toBe('sixswarm download: --port must be a whole number from 0 to 65535, got "eighty"\n');
    // A value given on the command line replaces the file's bad one: the other bad value is then the one named.
    const fixed = await runCli(['download', torrent, '-o', join(d, 'out'), '--port', '0'], { env });
    expect(fixed.stderr).toContain(`the config file ${path}: "max-down" in [download] must be a rate such as 500k, 2M or 1.5MiB/s`);
    // ui too (past its terminal check: it has none here, so through config's view of the same file).
    await writeFile(path, 'encryption = "always"\n');
    const seed = await runCli(['seed', torrent, join(d, 'seed'), '--port', '0'], { env });
    expect(seed.stderr).toBe(`sixswarm seed: the config file ${path}: "encryption" must be prefer, require, allow or off, not "always"\n`);
  });

  it('a TOML mistake is reported with its line and column', async () => {
    const { env, path } = await configured('max-down = "2M"\n\nport = = 3\n');
    const r = await runCli(['config'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`sixswarm config: cannot read the config file ${path}:3:8: invalid value\n`);
  });

  it('sixswarm config shows what the environment supplies, and every default the same way for download, seed and ui', async () => {
    const { d, env } = await configured('');
    const withEnv = { ...env, SIXSWARM_DHT_BOOTSTRAP: '127.0.0.1:7000', SIXSWARM_STATE_DIR: join(d, 'st') };
    for (const command of ['download', 'seed', 'ui']) {
      const out = await settings([command], withEnv);
      expect(out['dht-bootstrap'], command).toEqual(['"127.0.0.1:7000"', 'environment ($SIXSWARM_DHT_BOOTSTRAP)']);
      expect(out['state-dir'], command).toEqual([JSON.stringify(join(d, 'st')), 'environment ($SIXSWARM_STATE_DIR)']);
      expect(out['encryption'], command).toEqual(['(prefer)', 'default']);
      expect(out['announce-ip'], command).toEqual(['(auto)', 'default']);
      expect(out['max-down'], command).toEqual(['(no limit)', 'default']);
      expect(out['port']![1], command).toBe('default');
      expect(out['port']![0], command).toMatch(/^\(6881/);
    }
    const plain = await settings(['download'], { ...env, SIXSWARM_STATE_DIR: '', SIXSWARM_DHT_BOOTSTRAP: '', XDG_STATE_HOME: join(d, 'xdgstate') });
    expect(plain['state-dir']).toEqual([`(${join(d, 'xdgstate', 'sixswarm')})`, 'default']);
    expect(plain['dht-bootstrap']![1]).toBe('default');
    // A value in the file beats the environment.
    await writeFile(join(d, 'xdg', 'sixswarm', 'config.toml'), 'dht-bootstrap = ["127.0.0.1:7001"]\n');
    expect((await settings(['download'], withEnv))['dht-bootstrap']).toEqual(['["127.0.0.1:7001"]', 'config file']);
  });

  it('a flag set in the file is turned off by its opposite on the command line (--no-json, --dht)', async () => {
    const { d, torrent, env } = await configured('json = true\nno-dht = true\n[download]\nexit-on-complete = true\n');
    const out = await settings(['download', '--no-json', '--dht', '--no-exit-on-complete'], env);
    expect(out['json']).toEqual(['false', 'command line']);
    expect(out['no-dht']).toEqual(['false', 'command line']);
    expect(out['exit-on-complete']).toEqual(['false', 'command line']);
    // Of a flag and its opposite, the last wins.
    expect((await settings(['download', '--no-json', '--json'], env))['json']).toEqual(['true', 'command line']);
    // A real run: the file says JSON, --no-json gets plain lines; the file says exit when complete, --no-exit-on-complete keeps seeding.
    const run = sixswarm(['download', torrent, '-o', join(d, 'seed'), '--no-trackers', '--port', '0', '--no-json', '--no-exit-on-complete'], { env });
    await waitUntil(() => /download complete/.test(run.stdoutRaw), 15_000, () => run.stdoutRaw + run.stderr);
    expect(run.events).toEqual([]);
    await new Promise((r) => setTimeout(r, 500));
    expect(run.proc.exitCode).toBeNull(); // still seeding
    run.kill('SIGINT');
    expect(await run.exited).toBe(0);
    // The opposites are in the help's note and in "did you mean".
    expect((await runCli(['download', '--help'])).stdout).toContain('--no-X for --X (--no-json), --X for --no-X (--dht)');
    const typo = await runCli(['download', torrent, '--no-jsno'], { env });
    expect(typo.stderr).toContain('unknown option --no-jsno; did you mean --no-json?');
  });
});

describe('commands', () => {
  it('sixswarm -o DIR is ui, help <command> is its --help, and a mistyped command gets the nearest', async () => {
    dir = await tempDir('sixswarm-first-hour-');
    const env = { XDG_CONFIG_HOME: join(dir, 'xdg'), SIXSWARM_CONFIG: '' };
    const ui = await runCli(['-o', join(dir, 'dl'), '--port', '0'], { env });
    expect(ui.code).toBe(2);
    expect(ui.stderr).toMatch(/^sixswarm ui: sixswarm ui needs a terminal/);
    const unknown = await runCli(['--sesion', 'x'], { env });
    expect(unknown.stderr).toMatch(/^sixswarm: unknown option --sesion; did you mean --session\?\nUsage: sixswarm <command>/);
    expect((await runCli(['help', 'download'])).stdout).toBe((await runCli(['download', '--help'])).stdout);
    const nosuch = await runCli(['help', 'downlaod']);
    expect(nosuch.code).toBe(2);
    expect(nosuch.stderr).toBe('sixswarm: unknown command "downlaod"; did you mean `sixswarm download`? Run `sixswarm --help` for the list.\n');
    const typo = await runCli(['sede', 'x.torrent', '.']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe('sixswarm: unknown command "sede"; did you mean `sixswarm seed`? Run `sixswarm --help` for the list.\n');
    const far = await runCli(['frobnicate']);
    expect(far.stderr).toBe('sixswarm: unknown command "frobnicate". Run `sixswarm --help` for the list.\n');
    const top = await runCli(['--help']);
    expect(top.stdout).toContain('-V, --version');
    expect(top.stdout).toContain('sixswarm help <command>');
  });

  it('download --help leads with the options people use, then the rest; --json lists every event', async () => {
    const help = (await runCli(['download', '--help'])).stdout;
    const lines = help.split('\n');
    const common = lines.indexOf('Options people use most:');
    expect(common).toBeGreaterThan(0);
    expect(common).toBeLessThan(12);
    const block = lines.slice(common + 1, lines.indexOf('', common));
    const flags = block.filter((l) => /^ {2}-/.test(l)).map((l) => l.trim().split(/ {2,}| (?=[A-Z])/)[0]);
    expect(flags.slice(0, 4)).toEqual(['-o, --output', '--exit-on-complete', '--peer', '--port']);
    expect(flags.length).toBeGreaterThanOrEqual(10);
    expect(flags.length).toBeLessThanOrEqual(14);
    expect(lines.indexOf('More options:')).toBeGreaterThan(common);
    const listed = (help.slice(help.indexOf('Events:') + 'Events:'.length, help.indexOf('More options:')).match(/[a-z-]+/g) ?? []).filter((w) => w !== 'more');
    expect(listed).toEqual([...EVENT_NAMES]);
    expect(listed).toContain('peer-unreachable');
  });
});

describe('output', () => {
  it('plain lines say what happened in words; JSON events name the torrent "torrent" throughout; each event is in the help\'s list', async () => {
    const { d, torrent, env, meta } = await payload();
    const { proc: tracker, port } = await builtInTracker(['--bind', '::1', '--http']);
    const announce = ['--tracker', `http://[::1]:${port}/announce`, '--announce-ip', 'never', '--no-ipv4', '--port', '0'];
    const seed = sixswarm(['seed', torrent, join(d, 'seed'), ...announce, '--json'], { env: { ...env, SIXSWARM_STATE_DIR: join(d, 'seed-state') } });
    await seed.event('checked');
    await tracker.waitFor((e) => e.type === 'announce' && e.left === 0, 15_000, 'the seed announcing');
    const leech = sixswarm(['download', torrent, '-o', join(d, 'plain'), ...announce, '--exit-on-complete'], { env });
    expect(await leech.exitCode(30_000), leech.stderr).toBe(0);
    const out = leech.stdoutRaw;
    expect(out).toContain(`checked the data on disk: 0 of ${meta.pieceCount} pieces present (no data there yet)`);
    expect(out).toMatch(new RegExp(`tracker http://\\[::1\\]:${port}/announce over IPv6: 0 IPv4 \\+ 1 IPv6 peers; next announce in \\d+m\\d\\ds`));
    expect(out).toMatch(/peer \[::1\]:\d+ connected \(IPv6, we dialed it, /);
    expect(out).toContain('download complete: every piece verified');
    // No raw field names: key=value, camelCase keys.
    expect(out).not.toMatch(/\b[a-zA-Z]+=\S/);
    expect(out).not.toMatch(/nextAnnounceInMs|trusted|hashed=/);

    const json = sixswarm(['download', torrent, '-o', join(d, 'json'), ...announce, '--exit-on-complete', '--json'], { env: { ...env, SIXSWARM_STATE_DIR: join(d, 'json-state') } });
    expect(await json.exitCode(30_000), json.stderr).toBe(0);
    const names = new Set(json.events.map((e) => e.event));
    for (const name of ['listening', 'checked', 'tracker', 'peer-connected', 'piece-verified', 'progress', 'complete', 'stopped']) expect(names, name).toContain(name);
    for (const e of [...json.events, ...seed.events]) {
      expect(EVENT_NAMES as readonly string[], e.event).toContain(e.event);
      expect(e, e.event).not.toHaveProperty('infoHash');
    }
    // The engine's own events name no torrent; every other one names it by its info hash, as `torrent`.
    const engines = ['listening', 'stopped', 'dht-listening', 'port-mapping', 'tunnel', 'warning', 'error'];
    for (const e of json.events.filter((x) => !engines.includes(x.event))) expect(e.torrent, e.event).toBe(meta.infoHashHex);
  });
});
