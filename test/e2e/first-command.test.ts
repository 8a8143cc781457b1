/**
 * The README's first two commands on a fresh machine (issue 25, "The first command"):
 * `npm install && npx sixswarm demo` and `npm test`. On a copy of the checkout (its own dist/ and
 * native/build/; node_modules shared): `prepare` builds once and then, with nothing changed,
 * returns at once, so `npx sixswarm` (which links the checkout into npx's cache and runs prepare
 * again) starts in about a second; a rebuild moves into dist/ file by file, and the CLI started
 * over and over meanwhile never fails. `npm test` first names missing Debian packages and the one
 * command that installs them. package-lock.json agrees with package.json, so `npm install` has
 * nothing to rewrite. Closing the terminal during the demo leaves no folder behind.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cleanUpAfterEach, ROOT, sixswarm, tempDir } from '../support/sixswarm.js';
import { waitUntil } from '../support/peers.js';
import { percentAfter, Tmux } from '../support/tmux.js';

const run = promisify(execFile);

let dir: string | undefined;
cleanUpAfterEach(() => dir);

/** The checkout's sources copied to a new folder (not its builds), with its node_modules linked. */
async function copyOfCheckout(): Promise<string> {
  dir = await tempDir('sixswarm-checkout-');
  const copy = join(dir, 'sixswarm');
  for (const part of ['src', 'cli', 'scripts', 'types', 'web', '.ci', 'tsconfig.json', 'package.json', 'package-lock.json', 'README.md']) {
    if (existsSync(join(ROOT, part))) cpSync(join(ROOT, part), join(copy, part), { recursive: true });
  }
  mkdirSync(join(copy, 'native'));
  for (const f of readdirSync(join(ROOT, 'native'))) if (/\.(c|h|gyp|mjs|d\.ts)$/.test(f)) cpSync(join(ROOT, 'native', f), join(copy, 'native', f));
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

function node(cwd: string, script: string, env: NodeJS.ProcessEnv = {}) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [script], { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { ...r, ms: performance.now() - started };
}

describe('the first command: npm install && npx sixswarm demo', () => {
  it('prepare builds once; then npx sixswarm starts at once (no rebuild), and a rebuild never leaves the CLI broken', async () => {
    const copy = await copyOfCheckout();
    const first = node(copy, 'scripts/prepare.mjs');
    expect(first.status, first.stderr).toBe(0);
    const bin = join(copy, 'dist', 'bin', 'sixswarm.js');
    expect(existsSync(bin)).toBe(true);
    const built = statSync(bin).mtimeMs;

    const chunksDir = join(copy, 'dist', 'bin', 'chunks');
    const onDisk = () => new Set(readdirSync(chunksDir).filter((f) => f.endsWith('.js')));
    // The chunks a build made (its list in dist/.files), and that its bundle loads them.
    const own = () => {
      const chunks = readFileSync(join(copy, 'dist', '.files'), 'utf8').split('\n').filter((f) => /^bin\/chunks\/.*\.js$/.test(f)).map((f) => f.slice('bin/chunks/'.length));
      const text = (f: string) => readFileSync(f, 'utf8').replace(/\/\/# sourceMappingURL=.*$/m, '');
      for (const c of chunks) expect([bin, ...chunks.filter((o) => o !== c).map((o) => join(chunksDir, o))].some((f) => text(f).includes(c)), `${c} is loaded`).toBe(true);
      return new Set(chunks);
    };
    // Nothing changed: nothing built, nothing said.
    const again = node(copy, 'scripts/prepare.mjs');
    expect(again.status).toBe(0);
    expect(again.stdout + again.stderr).toBe('');
    expect(again.ms).toBeLessThan(5000);
    expect(statSync(bin).mtimeMs).toBe(built);

    // npx finds the package's own bin, links the checkout into a (fresh) npx cache and runs prepare there again.
    const started = performance.now();
    const npx = await run('npx', ['--offline', 'sixswarm', '--version'], { cwd: copy, env: { ...process.env, npm_config_cache: join(dir!, 'npm-cache'), npm_config_update_notifier: 'false' } });
    const npxMs = performance.now() - started;
    expect(npx.stdout).toBe('sixswarm 0.1.0\n');
    expect(npxMs).toBeLessThan(10_000);
    expect(statSync(bin).mtimeMs).toBe(built);

    // A source changes: prepare (and npm run build) build again, while the CLI is started over and over.
    const once = own();
    appendFileSync(join(copy, 'cli', 'ui', 'app.tsx'), '\n// changed\n');
    const rebuild = spawn(process.execPath, ['scripts/prepare.mjs'], { cwd: copy, stdio: ['ignore', 'pipe', 'pipe'] });
    let rebuilding = true;
    const rebuilt = new Promise<number | null>((r) => rebuild.on('exit', (code) => ((rebuilding = false), r(code))));
    const failures: string[] = [];
    let runs = 0;
    while (rebuilding) {
      // Each run awaited (not spawnSync): the event loop must turn to hear the rebuild end.
      const r = await run(process.execPath, [bin, '--version']).then(
        (o) => ({ ok: o.stdout === 'sixswarm 0.1.0\n', text: o.stdout + o.stderr }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ ok: false, text: `exit ${e.code}: ${e.stdout ?? ''}${e.stderr ?? ''}` }),
      );
      runs++;
      if (!r.ok) failures.push(r.text);
    }
    expect(await rebuilt).toBe(0);
    expect(runs).toBeGreaterThan(5);
    expect(failures).toEqual([]);
    expect(statSync(bin).mtimeMs).toBeGreaterThan(built);
    // No staging folder is left. dist/ holds this build and what only the one before had (a command
    // that started just before the swap may still load it), never more: after a second rebuild the first build's chunks are gone.
    expect(readdirSync(copy).filter((f) => f.startsWith('dist.staging'))).toEqual([]);
    const second = own();
    appendFileSync(join(copy, 'cli', 'ui', 'app.tsx'), '\n// and again\n');
    expect(node(copy, 'scripts/build.mjs').status).toBe(0);
    const third = own();
    expect([...once].some((c) => !second.has(c) && !third.has(c)), 'a chunk changed').toBe(true);
    expect([...onDisk()].sort()).toEqual([...new Set([...second, ...third])].sort());
  });

  it('closing the terminal during the demo (SIGHUP) removes its folder; so does SIGHUP to the headless demo', async () => {
    dir = await tempDir('sixswarm-hup-');
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const tmux = new Tmux();
    try {
      await tmux.start('demo', ['demo', '--size', '8M', '--rate', '256K'], { width: 120, height: 30, env: { TMPDIR: tmp } });
      await waitUntil(async () => percentAfter(await tmux.screen('demo'), /leecher, IPv6 only/) || undefined, 30_000, () => 'the demo downloading');
      expect(readdirSync(tmp).filter((f) => f.startsWith('sixswarm-demo-'))).toHaveLength(1);
    } finally {
      // The terminal goes away: its processes get SIGHUP.
      await tmux.kill();
    }
    await waitUntil(() => readdirSync(tmp).length === 0 || undefined, 20_000, () => `${tmp} empty; it holds ${readdirSync(tmp).join(', ')}`);

    const headless = sixswarm(['demo', '--headless', '--size', '8M', '--rate', '256K'], { env: { TMPDIR: tmp } });
    await waitUntil(() => /leecher, IPv6 only: started/.test(headless.stdoutRaw) || undefined, 30_000, () => headless.stdoutRaw);
    expect(readdirSync(tmp)).toHaveLength(1);
    headless.kill('SIGHUP');
    expect(await headless.exitCode(20_000)).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('the second command: npm test', () => {
  /** The preflight script run in a folder of its own whose .ci/run installs `packages`. */
  function preflight(packages: string[]) {
    const root = join(dir!, `pre-${packages.length}`);
    mkdirSync(join(root, 'scripts'), { recursive: true });
    mkdirSync(join(root, '.ci'));
    cpSync(join(ROOT, 'scripts', 'test-preflight.mjs'), join(root, 'scripts', 'test-preflight.mjs'));
    writeFileSync(join(root, '.ci', 'run'), `#!/bin/sh\napt-get install -y -qq --no-install-recommends \\\n  ${packages.join(' \\\n  ')} >/dev/null\nnpm test\n`);
    return spawnSync(process.execPath, [join(root, 'scripts', 'test-preflight.mjs')], { encoding: 'utf8' });
  }

  it('names the Debian packages the tests need that are missing, and the one command that installs them', async () => {
    dir = await tempDir('sixswarm-preflight-');
    const missing = preflight(['aria2', 'tmux', 'sixswarm-no-such-package', 'miniupnpd-no-such-either']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('npm test: 2 Debian packages the tests run against are not installed: sixswarm-no-such-package miniupnpd-no-such-either\n');
    expect(missing.stderr).toContain('\n  sudo .ci/run\n');
    expect(missing.stderr).toContain('\n  sudo apt-get install -y --no-install-recommends sixswarm-no-such-package miniupnpd-no-such-either\n');
    // Everything there: silent (as root), and npm test goes on.
    const present = preflight(['aria2', 'tmux']);
    expect(present.status).toBe(0);
    expect(present.stderr).toEqual(process.getuid?.() === 0 ? '' : expect.stringContaining('not root'));
    // The real list is .ci/run's, which installs them all: on this machine (set up by it) nothing is missing.
    const real = spawnSync(process.execPath, [join(ROOT, 'scripts', 'test-preflight.mjs')], { encoding: 'utf8' });
    expect(real.status, real.stderr).toBe(0);
    const { ciPackages } = (await import(join(ROOT, 'scripts', 'test-preflight.mjs'))) as { ciPackages(): string[] };
    expect(ciPackages()).toEqual(expect.arrayContaining(['aria2', 'transmission-cli', 'python3-libtorrent', 'opentracker', 'tmux', 'miniupnpd', 'chromium']));
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.test).toMatch(/^node scripts\/test-preflight\.mjs && /);
  });

  it('package-lock.json agrees with package.json: npm install on a fresh clone has nothing to rewrite', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    expect(lock.name).toBe(pkg.name);
    expect(lock.version).toBe(pkg.version);
    const root = lock.packages[''];
    for (const field of ['name', 'version', 'license', 'bin', 'dependencies', 'devDependencies', 'engines']) expect(root[field], field).toEqual(pkg[field]);
    // Every dependency is locked.
    for (const name of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]) expect(lock.packages[`node_modules/${name}`], name).toBeDefined();
  });
});
