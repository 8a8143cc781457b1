import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from './package-root.js';

/**
 * URL of a compiled module under dist/src (a worker script), given its path under src/. Found
 * from the package root, so it is the same file whether the caller runs from dist/src, from the
 * bundle in dist/bin, or from TypeScript sources (vitest: worker threads cannot load .ts files on
 * Node 20).
 */
export function compiledModule(srcPath: string): URL {
  return pathToFileURL(join(packageRoot(), 'dist', 'src', srcPath));
}
