#!/usr/bin/env node
/**
 * Bundles the compiled CLI (dist/cli/main.js, from tsc) into dist/bin/sixswarm.js, the command
 * `npm install` links. One module instead of ~190 halves the start-up CPU and saves about 0.15
 * CPU s over a 1 GiB download (bench/README.md: "The bundled CLI and per-block slow paths"). The
 * terminal UI stays in chunks loaded only when shown; the packages in node_modules stay outside
 * (and worker scripts run from dist/src, see src/util/compiled-path.ts).
 */
import { build } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// scripts/build.mjs bundles in its staging folder (the argument); dist/ by default.
const dist = process.argv[2] ?? join(root, 'dist');
const outdir = join(dist, 'bin');
await rm(outdir, { recursive: true, force: true }); // no chunks left over from an earlier build
await build({
  entryPoints: { sixswarm: join(dist, 'cli', 'main.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  logLevel: 'warning',
});
await chmod(join(outdir, 'sixswarm.js'), 0o755);
