/**
 * Where the web pages' files are: sixswarm's own page (built into dist/web by `npm run build`),
 * and Transmission's, found the way Transmission finds it: $TRANSMISSION_WEB_HOME, else
 * transmission/web (3.x) or transmission/public_html (4.x) under $XDG_DATA_DIRS, as Debian's
 * transmission-common installs it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { ENV, envValue, xdgDataDirs } from '../util/environment.js';

/** The folder of sixswarm's own page. */
export function ownWebRoot(): string {
  return join(packageRoot(), 'dist', 'web');
}

/** Transmission's web page, if one is installed (or named by $TRANSMISSION_WEB_HOME). */
export function transmissionWebHome(): string | undefined {
  const given = envValue(ENV.transmissionWebHome);
  if (given) return given;
  for (const dir of xdgDataDirs()) {
    for (const sub of ['transmission/public_html', 'transmission/web']) {
      if (existsSync(join(dir, sub, 'index.html'))) return join(dir, sub);
    }
  }
  return undefined;
}
