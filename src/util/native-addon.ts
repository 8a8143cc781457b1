/**
 * The optional native addons (native/*.c, built by `npm install` into native/build/Release). Each
 * may be missing (no compiler at install time) or fail to load; callers fall back or explain.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

export type AddonLoad<T> =
  | { addon: T; file: string; built?: undefined; missing?: undefined }
  | { addon?: undefined; file: string; built: boolean; missing: string };

const loaded = new Map<string, AddonLoad<unknown>>();

/** Loads `native/build/Release/<name>.node` once; the result says why it is not there when it is not. */
export function loadNativeAddon<T>(name: string): AddonLoad<T> {
  let r = loaded.get(name) as AddonLoad<T> | undefined;
  if (r) return r;
  const root = packageRoot();
  const file = join(root, 'native', 'build', 'Release', `${name}.node`);
  if (!existsSync(file)) {
    r = { file, built: false, missing: `${file} is not built (\`npm run build:native\` builds it)` };
  } else {
    try {
      r = { file, addon: createRequire(join(root, 'package.json'))(file) as T };
    } catch (e) {
      r = { file, built: true, missing: `${file} does not load (${(e as Error).message}); rebuild it with \`npm run build:native\`` };
    }
  }
  loaded.set(name, r);
  return r;
}
