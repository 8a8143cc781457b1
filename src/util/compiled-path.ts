import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * URL of a compiled sibling module (a worker script). From dist/ that is the sibling itself;
 * when the caller runs from TypeScript sources (vitest), it is the same path under dist/,
 * because worker threads cannot load .ts files on Node 20.
 */
export function compiledSibling(callerUrl: string, jsName: string): URL {
  const callerFile = fileURLToPath(callerUrl);
  if (!callerFile.endsWith('.ts')) return new URL(jsName, callerUrl);
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return pathToFileURL(join(root, 'dist', relative(root, dirname(callerFile)), jsName));
}
