/**
 * `npm install` runs native/build.mjs: quiet when the addons build (node-gyp's output goes to
 * native/build.log), and one line on stderr saying what will be missing when they do not. Run
 * on a copy of native/, so the checkout's own build is left alone.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, cleanUpAfterEach, tempDir } from '../support/sixswarm.js';

let dir: string | undefined;
cleanUpAfterEach(() => dir);

async function copyOfNative(): Promise<string> {
  dir = await tempDir('sixswarm-native-');
  const native = join(dir, 'native');
  // Not the checkout's build output (native/build/, native/build.log).
  cpSync(join(ROOT, 'native'), native, { recursive: true, filter: (src) => !/\/native\/build(\/|$|\.log$)/.test(src) });
  return native;
}

function build(native: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [join(native, 'build.mjs')], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
}

describe('native build at install time', () => {
  it('says nothing when the addons build, and keeps node-gyp\'s output in native/build.log', async () => {
    const native = await copyOfNative();
    const r = build(native);
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
    for (const addon of ['sixswarm_tun', 'sixswarm_rc4', 'sixswarm_pwrite', 'sixswarm_udp']) expect(existsSync(join(native, 'build', 'Release', `${addon}.node`))).toBe(true);
    expect(readFileSync(join(native, 'build.log'), 'utf8')).toMatch(/gyp info ok/);
  });

  it('without a working compiler: exit 0 and one line naming what the tunnel, RC4, piece writes and uTP will lack', async () => {
    const native = await copyOfNative();
    const r = build(native, { CC: '/bin/false', CXX: '/bin/false' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^sixswarm: native addons not built \(node-gyp exited with 1; see .*build\.log\): `sixswarm tunnel` and `tunnel-server` will not work, and encryption, piece writes and uTP's UDP use slower JavaScript; install .* and run `npm run build:native`$/);
    expect(readFileSync(join(native, 'build.log'), 'utf8')).toMatch(/gyp ERR!/);
  });
});
