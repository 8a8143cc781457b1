#!/usr/bin/env node
/**
 * Which RC4 for MSE: MB per CPU second (10^6 bytes per second of user+sys time of the process, so
 * that other load on the machine matters less than with wall time) of each option, on 16 KiB (a
 * block) and 64 KiB (a socket read) buffers encrypted in place; medians of several runs, each run
 * in a fresh process (each printed), and the wall-clock median beside it.
 *
 *   native       the addon (native/rc4.c), what src/mse/rc4.ts uses when it is built
 *   js-words     src/mse/rc4.ts's JavaScript fallback: S in an Int32Array, XOR 32 bits at a time
 *   js-bytes     the textbook loop over Uint8Arrays (for comparison; not in src/)
 *   openssl      createCipheriv('rc4') under --openssl-legacy-provider (its child processes are
 *                started with that flag); update() returns the output in a new buffer
 *
 * Usage: bench/rc4.mjs [--runs N] [--mib M]   (run `npm run build` first; default 5 runs of 256 MiB)
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createRc4, nativeRc4Missing } from '../dist/src/mse/rc4.js';
import { fixed, loadAverage, median } from './lib/report.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('--runs', 5);
const MIB = arg('--mib', 256);
const SIZES = [16384, 65536];

/** The textbook RC4, bytes in a Uint8Array. */
function bytesRc4(key) {
  const s = new Uint8Array(256);
  for (let i = 0; i < 256; i++) s[i] = i;
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + s[i] + key[i % key.length]) & 255;
    [s[i], s[j]] = [s[j], s[i]];
  }
  let i = 0;
  let j = 0;
  return {
    xor(src, dst) {
      for (let k = 0; k < src.length; k++) {
        i = (i + 1) & 255;
        const si = s[i];
        j = (j + si) & 255;
        const sj = s[j];
        s[i] = sj;
        s[j] = si;
        dst[k] = src[k] ^ s[(si + sj) & 255];
      }
    },
  };
}

const OPTIONS = {
  native: (key) => createRc4(key, 'native'),
  'js-words': (key) => createRc4(key, 'js'),
  'js-bytes': bytesRc4,
  openssl: (key) => {
    const c = createCipheriv('rc4', key, null);
    return { xor: (src) => c.update(src) };
  },
};

/** MB per CPU second and per wall second of one option at one buffer size: MIB MiB through one buffer, in place. */
function measure(name, size) {
  const rc4 = OPTIONS[name](randomBytes(20));
  const buf = randomBytes(size);
  const total = MIB * 1048576;
  rc4.xor(buf, buf); // warm up
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < total; done += size) rc4.xor(buf, buf);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { cpu: total / 1e6 / ((cpu.user + cpu.system) / 1e6), wall: total / 1e6 / wall };
}

// Child mode: one option, one size, one run; prints the figures.
if (process.argv[2] === '--one') {
  console.log(JSON.stringify(measure(process.argv[3], Number(process.argv[4]))));
  process.exit(0);
}

/** Each run in a fresh process, so no option warms the JIT or the caches for another. */
function run(name, size) {
  const flags = name === 'openssl' ? ['--openssl-legacy-provider'] : [];
  const r = spawnSync(process.execPath, [...flags, fileURLToPath(import.meta.url), '--one', name, String(size), '--mib', String(MIB)], { encoding: 'utf8' });
  if (r.status !== 0) return { error: (r.stderr || r.stdout).trim().split('\n').at(-1) };
  return JSON.parse(r.stdout);
}

console.log(`RC4, ${MIB} MiB per run, ${RUNS} runs, load ${loadAverage()} at start`);
if (nativeRc4Missing()) console.log(`native: not built (${nativeRc4Missing()})`);
for (const size of SIZES) {
  for (const name of Object.keys(OPTIONS)) {
    if (name === 'native' && nativeRc4Missing()) continue;
    const figures = [];
    let error;
    for (let i = 0; i < RUNS && !error; i++) {
      const r = run(name, size);
      if (r.error) error = r.error;
      else figures.push(r);
    }
    const label = `${name.padEnd(9)} ${String(size / 1024).padStart(2)} KiB`;
    const cpu = figures.map((f) => f.cpu);
    const wall = figures.map((f) => f.wall);
    if (error) console.log(`${label}  failed: ${error}`);
    else console.log(`${label}  ${fixed(median(cpu), 0).padStart(5)} MB/CPU-s (runs: ${cpu.map((f) => fixed(f, 0)).join(' ')})   wall ${fixed(median(wall), 0).padStart(4)} MB/s`);
  }
}
console.log(`load ${loadAverage()} at end`);
