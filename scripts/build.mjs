#!/usr/bin/env node
/**
 * `npm run build`: the TypeScript (tsc) and the bundled CLI (scripts/bundle.mjs), made in a
 * staging folder beside dist/ and then moved into dist/ file by file. Each move is one rename,
 * chunks before the entry point that loads them, so the checkout's `sixswarm` keeps working while
 * it builds (`npm test` builds first): a command started meanwhile runs the old build or the new
 * one, never a missing or half-written file. Files of the previous build that this one lacks
 * (chunks with other hashes) stay one build longer, for a command that started just before the
 * swap and loads them a moment later; older ones go (dist/.files lists each build's files). Then
 * dist/.inputs records what it was built from (scripts/inputs.mjs).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { root, STAMPS, typescriptInputs } from './inputs.mjs';

const dist = join(root, 'dist');
const staging = join(root, `dist.staging-${process.pid}`);
const entry = join('bin', 'sixswarm.js');
/** The files of the build in dist/, one per line. */
const manifest = join(dist, '.files');

/** Every file under `dir`, relative to it. */
function files(dir, base = dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out = out.concat(files(p, base));
    else out.push(relative(base, p));
  }
  return out;
}

/** Empty folders under `dir` removed, deepest first. */
function pruneEmpty(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pruneEmpty(join(dir, e.name));
  if (dir !== dist && readdirSync(dir).length === 0) rmdirSync(dir);
}

const inputs = typescriptInputs();
rmSync(staging, { recursive: true, force: true });
try {
  // tsc and esbuild say what is wrong themselves; a failed step exits with its status.
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', staging], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [join(root, 'scripts', 'bundle.mjs'), staging], { cwd: root, stdio: 'inherit' });
  const built = files(staging);
  // The entry point (and its source map) last: everything it loads is in place before it is.
  const order = [...built].sort((a, b) => Number(a.startsWith(entry)) - Number(b.startsWith(entry)));
  mkdirSync(dist, { recursive: true });
  rmSync(STAMPS.typescript, { force: true });
  for (const f of order) {
    mkdirSync(dirname(join(dist, f)), { recursive: true });
    renameSync(join(staging, f), join(dist, f));
  }
  let previous = [];
  try {
    previous = readFileSync(manifest, 'utf8').split('\n').filter(Boolean);
  } catch {
    // the first build here, or one from before the manifest: nothing is kept from it
  }
  const keep = new Set([...built, ...previous, relative(dist, STAMPS.typescript), relative(dist, manifest)]);
  for (const f of files(dist)) if (!keep.has(f)) rmSync(join(dist, f), { force: true });
  pruneEmpty(dist);
  writeFileSync(manifest, `${built.join('\n')}\n`);
  writeFileSync(STAMPS.typescript, `${inputs}\n`);
} catch (e) {
  if (typeof e?.status !== 'number') throw e;
  process.exitCode = e.status;
} finally {
  rmSync(staging, { recursive: true, force: true });
}
