#!/usr/bin/env node
/**
 * Bundles the compiled CLI (dist/cli/main.js, from tsc) into dist/bin/sixswarm.js, the command
 * `npm install` links. One module instead of ~190 halves the start-up CPU and saves about 0.15
 * CPU s over a 1 GiB download (bench/README.md: "The bundled CLI and per-block slow paths"). The
 * terminal UI stays in chunks loaded only when shown; the packages in node_modules stay outside
 * (and worker scripts run from dist/src, see src/util/compiled-path.ts).
 * It also builds sixswarm's web page (web/: app.ts bundled for browsers, with index.html and
 * style.css) into dist/web, which `sixswarm daemon` serves.
 */
import { build } from 'esbuild';
import { chmod, copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bin');
await rm(outdir, { recursive: true, force: true }); // no chunks left over from an earlier build
await build({
  entryPoints: { sixswarm: join(root, 'dist', 'cli', 'main.js') },
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

// The web page: one script for current browsers, nothing loaded from elsewhere.
const web = join(root, 'dist', 'web');
await rm(web, { recursive: true, force: true });
await mkdir(web, { recursive: true });
await build({
  entryPoints: [join(root, 'web', 'app.ts')],
  outfile: join(web, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) await copyFile(join(root, 'web', file), join(web, file));
