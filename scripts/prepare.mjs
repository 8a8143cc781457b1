#!/usr/bin/env node
/**
 * npm's `prepare` script, run by `npm install` in a checkout: builds the native addons
 * (native/build.mjs) and the TypeScript (scripts/build.mjs), each only when what it is built
 * from changed since its last build (scripts/inputs.mjs). `npx sixswarm` in the checkout links
 * the checkout into npx's cache and runs this again: with nothing changed it returns at once,
 * instead of spending 15-30 s rebuilding what `npm install` just built.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { builtFrom, nativeInputs, root, STAMPS, typescriptInputs } from './inputs.mjs';

function run(script) {
  try {
    execFileSync(process.execPath, [join(root, script)], { cwd: root, stdio: 'inherit' });
  } catch (e) {
    process.exit(typeof e?.status === 'number' ? e.status : 1);
  }
}

const native = nativeInputs();
if (builtFrom('native') !== native) {
  // It never fails the install; without a toolchain it says so once, and is tried again when one appears (the digest covers it).
  run('native/build.mjs');
  mkdirSync(dirname(STAMPS.native), { recursive: true });
  writeFileSync(STAMPS.native, `${native}\n`);
}
if (builtFrom('typescript') !== typescriptInputs() || !existsSync(join(root, 'dist', 'bin', 'sixswarm.js'))) run('scripts/build.mjs');
