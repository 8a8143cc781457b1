#!/usr/bin/env node
/**
 * Builds the native addons with node-gyp, offline: the TUN device (native/build/Release/
 * sixswarm_tun.node, Linux only), RC4 for protocol encryption (sixswarm_rc4.node), the writer
 * of verified pieces (sixswarm_pwrite.node) and batched UDP reads and sends for uTP
 * (sixswarm_udp.node, Linux only).
 *
 * Run by `npm install` (and `npm run build:native`). Quiet: node-gyp's output goes to
 * native/build.log. It never fails the install: without a compiler or Node's headers everything
 * in sixswarm still works except `sixswarm tunnel` and `tunnel-server`, which then say exactly
 * what is missing, encryption runs its RC4 in JavaScript (about 1.6 times the CPU), pieces
 * are written from JavaScript (about 0.3 CPU s more per GiB) and uTP reads and sends one datagram
 * per call (about twice the CPU, no path MTU probes); the install then prints one line saying so.
 *
 * Node's headers: node-gyp would otherwise download them. When npm has no `nodedir` configured
 * and the distribution's headers are installed (/usr/include/node), they are used; Node-API is
 * ABI-stable, so headers of another Node version work as well.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const nativeDir = dirname(fileURLToPath(import.meta.url));
const logFile = join(nativeDir, 'build.log');
const giveUp = (why) => {
  process.stderr.write(
    `sixswarm: native addons not built (${why}; see ${logFile}): \`sixswarm tunnel\` and \`tunnel-server\` will not work, and encryption, piece writes and uTP's UDP use slower JavaScript; ` +
      'install build-essential python3 libnode-dev (Debian) and run `npm run build:native`\n',
  );
  process.exit(0);
};

/** npm passes its bundled node-gyp in npm_config_node_gyp; outside npm, look beside node. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ];
  return candidates.find((p) => p && existsSync(p));
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) giveUp('node-gyp was not found');

const args = [nodeGyp, 'rebuild', '-C', nativeDir];
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');

const log = openSync(logFile, 'w');
const run = spawnSync(process.execPath, args, { stdio: ['ignore', log, log] });
closeSync(log);
if (run.error) giveUp(`node-gyp could not run: ${run.error.message}`);
if (run.status !== 0) giveUp(`node-gyp exited with ${run.status ?? run.signal}`);
