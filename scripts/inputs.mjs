/**
 * What a build is made from, as one digest per part: the TypeScript build (dist/) and the native
 * addons (native/build/). The build writes the digest of its inputs beside its output; `prepare`
 * (run by `npm install`, and again by `npx sixswarm` when npx links the checkout into its cache)
 * builds a part only when its digest differs, so a checkout that is built already is not built
 * again.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join, relative } from 'node:path';

export const root = join(import.meta.dirname, '..');

/** Every file under `dir` (relative to the root), sorted; folders named node_modules or build are not entered. */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'build') out.push(...filesUnder(p));
    } else if (e.isFile()) out.push(p);
  }
  return out;
}

function digestOf(files, extra = []) {
  const h = createHash('sha256');
  for (const x of extra) h.update(`${x}\0`);
  for (const f of [...files].sort()) {
    h.update(`${relative(root, f)}\0`);
    h.update(readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex');
}

/** The TypeScript build: the sources (the web page's too), the compiler's configuration, the bundler and the locked dependencies. */
export function typescriptInputs() {
  const files = [
    ...filesUnder(join(root, 'src')),
    ...filesUnder(join(root, 'cli')),
    ...filesUnder(join(root, 'types')),
    ...filesUnder(join(root, 'web')),
    ...['tsconfig.json', 'package.json', 'package-lock.json', 'scripts/bundle.mjs', 'scripts/build.mjs', 'scripts/inputs.mjs'].map((f) => join(root, f)),
  ].filter((f) => existsSync(f));
  return digestOf(files);
}

/** Whether `name` is a program on PATH. */
function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, name)));
}

/**
 * The native addons: their sources and build script, and what decides whether they can build at
 * all (a compiler, make, python3, Node's headers), so that installing the toolchain makes the
 * next `npm install` try again.
 */
export function nativeInputs() {
  const dir = join(root, 'native');
  const files = readdirSync(dir).filter((f) => /\.(c|h|gyp|mjs)$/.test(f)).map((f) => join(dir, f));
  const toolchain = ['cc', 'gcc', 'make', 'python3'].map((p) => `${p}=${onPath(p)}`);
  return digestOf(files, [...toolchain, `CC=${process.env.CC ?? ''}`, `CXX=${process.env.CXX ?? ''}`, `headers=${existsSync('/usr/include/node/node_api.h')}`, `node=${process.versions.modules}`]);
}

/** Where each part keeps the digest it was built from. */
export const STAMPS = { typescript: join(root, 'dist', '.inputs'), native: join(root, 'native', 'build', '.inputs') };

/** The digest a part was last built from, if any. */
export function builtFrom(part) {
  try {
    return readFileSync(STAMPS[part], 'utf8').trim();
  } catch {
    return undefined;
  }
}
