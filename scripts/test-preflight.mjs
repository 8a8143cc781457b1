#!/usr/bin/env node
/**
 * The first step of `npm test`: the tests run against real third-party clients, trackers,
 * routers and servers from Debian packages, which `.ci/run` installs (its apt-get line is the one
 * list of them, read from there). A missing package is named here, with the one command that
 * installs them all, before a build and a long run fail one by one for want of it. Not root: the
 * network-namespace tests are skipped, and it says so.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/** The packages `.ci/run` installs: the words of its `apt-get install` command that are no options. */
export function ciPackages(script = readFileSync(join(root, '.ci', 'run'), 'utf8')) {
  const command = /apt-get install([^>]*)/.exec(script.replace(/\\\n/g, ' '))?.[1] ?? '';
  return command.split(/\s+/).filter((w) => w && !w.startsWith('-'));
}

/** Of `packages`, those dpkg does not have installed; undefined without dpkg (not Debian). */
export function missingPackages(packages) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\n', ...packages], { encoding: 'utf8' });
  if (r.error) return undefined;
  const installed = new Set(r.stdout.split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0].replace(/:.*$/, '')));
  return packages.filter((p) => !installed.has(p));
}

if (process.argv[1] === import.meta.filename) {
  const packages = ciPackages();
  const missing = missingPackages(packages);
  if (missing === undefined) {
    process.stderr.write(
      `npm test: the tests run against programs from these Debian packages, which cannot be checked here (no dpkg): ${packages.join(' ')}. ` +
        'Tests whose program is missing fail; `npx vitest run test/unit` runs the ones that need none.\n',
    );
  } else if (missing.length > 0) {
    // The package would start a UPnP daemon on this host; .ci/run tells it not to first.
    const quiet = missing.includes('miniupnpd') ? "echo 'miniupnpd miniupnpd/start_daemon boolean false' | sudo debconf-set-selections && " : '';
    process.stderr.write(
      `npm test: ${missing.length} Debian package${missing.length === 1 ? '' : 's'} the tests run against ${missing.length === 1 ? 'is' : 'are'} not installed: ${missing.join(' ')}\n` +
        'Install every package the tests need (apt-get), then npm ci and npm test, with:\n' +
        '  sudo .ci/run\n' +
        'or install only the missing ones and run npm test again:\n' +
        `  ${quiet}sudo apt-get install -y --no-install-recommends ${missing.join(' ')}\n` +
        '(`npx vitest run test/unit` runs the tests that need none of them.)\n',
    );
    process.exit(1);
  }
  if (process.getuid?.() !== 0) process.stderr.write('npm test: not root: the network-namespace tests (test/netns) are skipped; `sudo npm test` runs them.\n');
}
