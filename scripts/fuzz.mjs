#!/usr/bin/env node
/**
 * The fuzzer that grows test/fuzz/corpus/: it mutates each parser's saved inputs and runs the
 * mutants through the fuzz targets of test/fuzz/targets/ against the built parsers in dist/
 * (bundled on the fly with esbuild, their src/ imports pointed at dist/src/). An input that
 * shows new behaviour (new V8 block coverage in dist/src, or an outcome no input had) joins the
 * corpus, trimmed first; one that breaks a target's contract (an error the parser does not
 * declare, a round trip or chunking that disagrees), hangs, allocates far more than its size or
 * costs far more per byte as it grows goes to test/fuzz/crashes/ with what went wrong. Each
 * parser runs in a worker thread watched from here, so a hang or an out-of-memory is caught and
 * the run goes on. `--help` says the rest.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// What the test suite sets (vitest.config.ts): documentation-range addresses count as global, so
// seeds that use them mean the same here as in the tests.
process.env.SIXSWARM_TREAT_DOCUMENTATION_RANGES_AS_GLOBAL = '1';

const HELP = `Usage: node scripts/fuzz.mjs [options]

Grows the fuzz corpus (test/fuzz/corpus/<parser>/) by mutating it against the parsers built in
dist/ (run \`npm run build\` first), and saves every contract break, hang, memory blow-up or
super-linear cost it finds in test/fuzz/crashes/. The fuzz tests (test/fuzz/*.test.ts) replay
the corpus on every test run.

Options:
  --parser NAME[,NAME]  parsers to fuzz (repeatable; default: all, one after another)
  --seconds N           time per parser (default 60)
  --iterations N        stop a parser after N executions (default: no limit)
  --rng-seed N          seed of the mutations (default: from the clock; printed)
  --no-coverage         new behaviour is a new outcome only, not new V8 block coverage
                        (faster; coverage runs the parsers unoptimised)
  --max-len N           longest input to generate (default: each parser's own, 1.5-16 KiB)
  --hang-ms N           an execution running longer is saved as a hang (default 5000)
  --slow-us-per-byte N  an execution costing more than 20 ms + N us per byte is saved as slow
                        (default 50; coverage makes everything a few times slower)
  --memory-mb N         heap limit of the worker; exceeding it is saved as a crash (default 512)
  --corpus DIR          corpus root (default test/fuzz/corpus)
  --crashes DIR         where crashes go (default test/fuzz/crashes)
  --write-seeds         write the seed inputs of test/fuzz/seeds/ for the chosen parsers into the
                        corpus (existing files of the same name are replaced), then exit
  --minimize            shrink the chosen parsers' corpora: keep every named input (seeds,
                        real-*, regress-*) and, smallest first, each found one (<hash>.bin)
                        that covers something the kept ones do not; delete the rest, then exit
  --capture             capture real peers' bytes into the corpus as real-* inputs: a libtorrent
                        (python3-libtorrent) seeding a small torrent, talked to over 127.0.0.1
                        (wire, BEP 10, ut_metadata, PEX, KRPC, MSE both ways, its tracker
                        requests), and opentracker's replies; then exit
  --replay FILE         run one input through --parser and print its outcome, then exit
  --list                list the parsers and what each feeds, then exit
  --help                this text

A crash is saved as <parser>-<kind>-<hash>.bin with a .txt beside it (what happened, and the
command that replays it). Kinds: undeclared-error, round-trip, chunking, invariant (a target's
contract), hang, memory, slow (one input) and superlinear (cost per byte grows with the size of
a repeated stretch of a corpus input).

Examples:
  npm run build && node scripts/fuzz.mjs --parser bencode --seconds 120
  node scripts/fuzz.mjs --seconds 30                  # every parser, 30 s each
  node scripts/fuzz.mjs --minimize                    # then trim what they found
  node scripts/fuzz.mjs --parser wire --replay test/fuzz/crashes/wire-chunking-0123abcd.bin`;

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = { parsers: [], seconds: 60, iterations: Infinity, rngSeed: undefined, coverage: true, maxLen: undefined, hangMs: 5000, slowUsPerByte: 50, memoryMb: 512, corpus: join(ROOT, 'test', 'fuzz', 'corpus'), crashes: join(ROOT, 'test', 'fuzz', 'crashes'), writeSeeds: false, minimize: false, capture: false, replay: undefined, list: false, help: false };
  const num = (flag, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a non-negative number, got ${v === undefined ? 'nothing' : `"${v}"`}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--parser': o.parsers.push(...String(value() ?? '').split(',').filter(Boolean)); break;
      case '--seconds': o.seconds = num(flag, value()); break;
      case '--iterations': o.iterations = num(flag, value()); break;
      case '--rng-seed': o.rngSeed = num(flag, value()) >>> 0; break;
      case '--no-coverage': o.coverage = false; break;
      case '--max-len': o.maxLen = num(flag, value()); break;
      case '--hang-ms': o.hangMs = num(flag, value()); break;
      case '--slow-us-per-byte': o.slowUsPerByte = num(flag, value()); break;
      case '--memory-mb': o.memoryMb = num(flag, value()); break;
      case '--corpus': o.corpus = resolve(value() ?? ''); break;
      case '--crashes': o.crashes = resolve(value() ?? ''); break;
      case '--write-seeds': o.writeSeeds = true; break;
      case '--minimize': o.minimize = true; break;
      case '--capture': o.capture = true; break;
      case '--replay': o.replay = resolve(value() ?? ''); break;
      case '--list': o.list = true; break;
      case '--help': case '-h': o.help = true; break;
      default: throw new Error(`unknown option "${a}" (see --help)`);
    }
  }
  return o;
}

// ---------------------------------------------------------------- the targets, bundled against dist/

/** Bundles test/fuzz's targets, seeds and mutator into one module whose src/ imports load dist/src/. */
async function bundleTargets() {
  const dist = join(ROOT, 'dist', 'src');
  if (!existsSync(dist)) throw new Error('dist/src is missing: run `npm run build` first');
  const newest = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((t, e) => Math.max(t, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0);
  if (newest(join(ROOT, 'src')) > newest(dist)) console.error('warning: src/ is newer than dist/: fuzzing the old build (run `npm run build`)');
  const { build } = await import('esbuild');
  const outfile = join(tmpdir(), `sixswarm-fuzz-targets-${process.pid}.mjs`);
  const srcRoot = join(ROOT, 'src') + '/';
  await build({
    stdin: {
      contents: `export { TARGETS, targetNamed } from './targets/index.js';
export { seedsFor } from './seeds/index.js';
export { Rng, mutate, amplify } from './mutate.js';
export { Violation } from './contract.js';
export { captureReal } from './capture/capture.js';`,
      resolveDir: join(ROOT, 'test', 'fuzz'),
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outfile,
    logLevel: 'warning',
    plugins: [{
      name: 'src-to-dist',
      setup(b) {
        b.onResolve({ filter: /\/src\// }, (args) => {
          const abs = resolve(args.resolveDir, args.path);
          if (!abs.startsWith(srcRoot)) return undefined;
          return { path: join(dist, abs.slice(srcRoot.length)), external: true };
        });
      },
    }],
  });
  return outfile;
}

const sha = (b) => createHash('sha1').update(b).digest('hex').slice(0, 12);

// ---------------------------------------------------------------- main thread

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`fuzz: ${e.message}`);
    process.exit(2);
  }
  if (o.help) return console.log(HELP);
  const bundle = await bundleTargets();
  try {
    const lib = await import(pathToFileURL(bundle).href);
    const names = lib.TARGETS.map((t) => t.name);
    if (o.list) {
      for (const t of lib.TARGETS) console.log(`${t.name.padEnd(18)} ${t.about}`);
      return;
    }
    for (const p of o.parsers) if (!names.includes(p)) throw new Error(`no parser "${p}"; the parsers are: ${names.join(', ')}`);
    const chosen = o.parsers.length ? o.parsers : names;
    if (o.writeSeeds) return writeSeeds(lib, chosen, o);
    if (o.replay) return replay(lib, chosen, o);
    if (o.capture) return capture(lib, o);
    if (o.minimize) {
      for (const name of chosen) await minimizeParser(name, bundle, o);
      return;
    }
    const rngSeed = o.rngSeed ?? (Date.now() >>> 0);
    console.log(`fuzzing ${chosen.join(', ')} for ${o.seconds} s each (rng seed ${rngSeed}, coverage ${o.coverage ? 'on' : 'off'})`);
    const totals = [];
    for (const [k, name] of chosen.entries()) totals.push(await fuzzParser(name, bundle, o, (rngSeed + k * 7919) >>> 0));
    console.log('\nparser             execs/s   corpus (new)   crashes');
    for (const t of totals) console.log(`${t.name.padEnd(18)} ${String(Math.round(t.execs / t.seconds)).padStart(7)}   ${String(t.corpus).padStart(6)} (${t.added})   ${t.crashes}`);
    if (totals.some((t) => t.crashes > 0)) process.exitCode = 1;
  } finally {
    rmSync(bundle, { force: true });
  }
}

function writeSeeds(lib, chosen, o) {
  const seeds = lib.seedsFor(ROOT);
  for (const name of chosen) {
    const dir = join(o.corpus, name);
    mkdirSync(dir, { recursive: true });
    const list = seeds[name]();
    for (const s of list) {
      if (s.bytes.length >= 64 * 1024) throw new Error(`seed ${name}/${s.name} is ${s.bytes.length} bytes: corpus files stay under 64 KiB`);
      writeFileSync(join(dir, `${s.name}.bin`), s.bytes);
    }
    console.log(`${name}: ${list.length} seeds written to ${relative(ROOT, dir)}/`);
  }
}

async function capture(lib, o) {
  const found = await lib.captureReal((text) => console.log(text));
  for (const c of found) {
    mkdirSync(join(o.corpus, c.corpus), { recursive: true });
    writeFileSync(join(o.corpus, c.corpus, `${c.name}.bin`), c.bytes);
  }
  const per = {};
  for (const c of found) per[c.corpus] = (per[c.corpus] ?? 0) + 1;
  console.log(`saved ${found.length} real inputs: ${Object.entries(per).map(([k, n]) => `${k} ${n}`).join(', ')}`);
}

function replay(lib, chosen, o) {
  if (chosen.length !== 1) throw new Error('--replay needs exactly one --parser');
  const target = lib.targetNamed(chosen[0]);
  const input = readFileSync(o.replay);
  const t0 = performance.now();
  try {
    const sig = target.run(input);
    console.log(`ok (${(performance.now() - t0).toFixed(2)} ms): ${sig}`);
  } catch (e) {
    console.log(`${e instanceof lib.Violation ? 'CONTRACT BROKEN' : 'HARNESS ERROR'} (${(performance.now() - t0).toFixed(2)} ms): ${e.stack ?? e}`);
    process.exitCode = 1;
  }
}

/** Shrink one parser's corpus in a worker (coverage needs the worker's own isolate). */
function minimizeParser(name, bundle, o) {
  return new Promise((resolveRun, rejectRun) => {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { mode: 'minimize', bundle, name, o } });
    w.on('message', (m) => m.type === 'log' && console.log(`${name}: ${m.text}`));
    w.on('error', rejectRun);
    w.on('exit', () => resolveRun());
  });
}

/** Fuzz one parser in a worker for `o.seconds`, restarting it after a hang or an out-of-memory. */
async function fuzzParser(name, bundle, o, rngSeed) {
  const sab = new SharedArrayBuffer(16 + MAX_SHARED_INPUT);
  const state = new Int32Array(sab, 0, 4);
  const shared = new Uint8Array(sab, 16);
  const deadline = Date.now() + o.seconds * 1000;
  const total = { name, execs: 0, corpus: 0, added: 0, crashes: 0, seconds: o.seconds };
  let restarts = 0;
  let before = 0; // executions of the workers that ended
  const killers = new Set(); // hashes of corpus inputs that hung or blew up a worker: not loaded again
  console.log(`\n== ${name}`);
  while (Date.now() < deadline && total.execs < o.iterations) {
    const outcome = await new Promise((resolveRun) => {
      const w = new Worker(fileURLToPath(import.meta.url), {
        workerData: { bundle, name, o, rngSeed: (rngSeed + restarts * 104729) >>> 0, deadline, iterations: o.iterations - total.execs, sab, skip: [...killers] },
        resourceLimits: { maxOldGenerationSizeMb: o.memoryMb },
      });
      let lastCount = -1, since = Date.now(), finished = false;
      const stop = (kind, message) => {
        clearInterval(watch);
        finished = true;
        const input = Buffer.from(shared.subarray(0, Atomics.load(state, 1)));
        void w.terminate();
        resolveRun({ crash: { kind, message, input } });
      };
      // The worker's heap limit does not count buffers and external strings: the process's size does.
      const rssLimit = process.memoryUsage.rss() + 2 * o.memoryMb * 2 ** 20;
      const watch = setInterval(() => {
        const busy = Atomics.load(state, 2) === 1;
        if (busy && process.memoryUsage.rss() > rssLimit) return stop('memory', `one execution took the process past ${(rssLimit / 2 ** 20).toFixed(0)} MiB`);
        const count = Atomics.load(state, 0);
        if (count !== lastCount || !busy) { lastCount = count; since = Date.now(); return; }
        if (Date.now() - since > o.hangMs) stop('hang', `one execution ran past ${o.hangMs} ms`);
      }, 100);
      w.on('message', (m) => {
        if (m.type === 'log') console.log(`  ${m.text}`);
        if (m.type === 'stats') Object.assign(total, { execs: before + m.execsTotal, corpus: m.corpus, added: total.added + m.added, crashes: total.crashes + m.crashes });
      });
      w.on('error', (e) => {
        if (finished) return;
        finished = true;
        clearInterval(watch);
        const input = Buffer.from(shared.subarray(0, Atomics.load(state, 1)));
        const kind = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'harness';
        resolveRun({ crash: { kind, message: `the worker died: ${e.stack ?? e}`, input: Atomics.load(state, 2) ? input : undefined } });
      });
      w.on('exit', () => {
        clearInterval(watch);
        if (!finished) resolveRun({});
        finished = true;
      });
    });
    if (!outcome.crash) break;
    before = total.execs;
    restarts++;
    total.crashes++;
    const { kind, message, input } = outcome.crash;
    if (input) killers.add(sha(input));
    const file = input ? saveCrash(o.crashes, name, kind, input, message) : undefined;
    console.log(`  CRASH ${kind}: ${message.split('\n')[0]}${file ? ` -> ${relative(ROOT, file)}` : ''}; restarting the worker`);
    if (restarts > 20) {
      console.log('  giving up on this parser after 20 restarts');
      break;
    }
  }
  return total;
}

const MAX_SHARED_INPUT = 8 << 20;

function saveCrash(dir, name, kind, input, message) {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${name}-${kind}-${sha(input)}`);
  writeFileSync(`${base}.bin`, input);
  const replayCmd = `node scripts/fuzz.mjs --parser ${name} --replay ${relative(ROOT, `${base}.bin`)}`;
  writeFileSync(`${base}.txt`, `parser: ${name}\nkind: ${kind}\ninput: ${input.length} bytes\nreplay: ${replayCmd}\n\n${message}\n`);
  return `${base}.bin`;
}

// ---------------------------------------------------------------- worker: shrinking a corpus

/**
 * An outcome as features: each entry point's part of the signature on its own (as a whole, the
 * parts of a target with three entry points would multiply into "new" outcomes).
 */
const outcomeFeatures = (sig) => String(sig).split(' | ').map((part, i) => `sig${i}:${part}`);

/** Names the fuzzer gives what it finds; every other corpus file is a seed, a real capture or a regression. */
const FOUND = /^[0-9a-f]{12}\.bin$/;

async function minimizeMain() {
  const { bundle, name, o } = workerData;
  const coverage = o.coverage ? await startCoverage() : undefined;
  const lib = await import(pathToFileURL(bundle).href);
  const target = lib.targetNamed(name);
  const dir = join(o.corpus, name);
  const entries = readdirSync(dir).map((f) => {
    const input = readFileSync(join(dir, f));
    let sig;
    try {
      sig = target.run(input);
    } catch (e) {
      sig = `broken: ${e.message}`;
    }
    return { f, input, features: [...outcomeFeatures(sig), ...(coverage ? coverage.take() : [])] };
  });
  const covered = new Set();
  const kept = entries.filter((e) => !FOUND.test(e.f));
  for (const e of kept) for (const k of e.features) covered.add(k);
  let removed = 0, bytes = 0;
  for (const e of entries.filter((x) => FOUND.test(x.f)).sort((a, b) => a.input.length - b.input.length)) {
    if (e.features.some((k) => !covered.has(k))) {
      for (const k of e.features) covered.add(k);
      kept.push(e);
    } else {
      rmSync(join(dir, e.f));
      removed++;
    }
  }
  for (const e of kept) bytes += e.input.length;
  parentPort.postMessage({ type: 'log', text: `kept ${kept.length} inputs (${bytes} bytes), removed ${removed}; ${covered.size} features` });
}

// ---------------------------------------------------------------- worker: the fuzz loop

async function workerMain() {
  const { bundle, name, o, rngSeed, deadline, iterations, sab, skip } = workerData;
  // Coverage first: the parsers are compiled with its counters from their first call.
  const coverage = o.coverage ? await startCoverage() : undefined;
  const lib = await import(pathToFileURL(bundle).href);
  const target = lib.targetNamed(name);
  const state = new Int32Array(sab, 0, 4);
  const shared = new Uint8Array(sab, 16);
  const log = (text) => parentPort.postMessage({ type: 'log', text });
  const rng = new lib.Rng(rngSeed);
  const hints = { ...target, maxLen: o.maxLen ?? target.maxLen };
  const dir = join(o.corpus, name);
  mkdirSync(dir, { recursive: true });

  const v8 = await import('node:v8');
  const memoryUsed = () => {
    const h = v8.getHeapStatistics();
    return h.used_heap_size + h.external_memory;
  };

  /** One execution: its outcome and what it covered, or the crash. */
  const exec = (input) => {
    shared.set(input.subarray(0, MAX_SHARED_INPUT));
    Atomics.store(state, 1, Math.min(input.length, MAX_SHARED_INPUT));
    Atomics.store(state, 2, 1);
    const memBefore = memoryUsed();
    const t0 = performance.now();
    let sig, violation;
    try {
      sig = target.run(input);
    } catch (e) {
      violation = e instanceof lib.Violation ? e : Object.assign(new Error(`the target itself failed: ${e?.stack ?? e}`), { kind: 'harness' });
    }
    const ms = performance.now() - t0;
    const grew = memoryUsed() - memBefore;
    Atomics.store(state, 2, 0);
    Atomics.add(state, 0, 1);
    const features = coverage ? coverage.take() : [];
    return { sig, violation, ms, grew, features };
  };

  // The corpus (and which of it the parser accepts), and what it covers already.
  const corpus = [];
  const accepted = [];
  const seen = new Set();
  const reported = new Set();
  let crashes = 0, added = 0;
  const crash = (kind, input, message) => {
    const key = `${kind}:${message.replace(/\d+/g, 'N').slice(0, 200)}`;
    if (reported.has(key)) return;
    reported.add(key);
    crashes++;
    const file = saveCrash(o.crashes, name, kind, input, message);
    log(`CRASH ${kind}: ${message.split('\n')[0].slice(0, 300)} -> ${relative(ROOT, file)}`);
  };
  const memoryBound = (len) => (64 << 20) + 512 * len;
  const slowBound = (len) => 20 + (o.slowUsPerByte * len) / 1000;
  /** Whether an execution broke a bound; crashes are saved. */
  const judge = (input, r) => {
    if (r.violation) {
      crash(r.violation.kind ?? 'harness', input, r.violation.stack ?? r.violation.message);
      return false;
    }
    if (r.grew > memoryBound(input.length)) {
      const again = exec(input);
      if (again.grew > memoryBound(input.length)) crash('memory', input, `one execution grew the heap and buffers by ${(again.grew / 2 ** 20).toFixed(1)} MiB for a ${input.length}-byte input`);
    }
    if (r.ms > slowBound(input.length)) {
      const times = [exec(input).ms, exec(input).ms, exec(input).ms].sort((a, b) => a - b);
      if (times[1] > slowBound(input.length)) crash('slow', input, `one execution took ${times[1].toFixed(1)} ms (median of 3) for ${input.length} bytes, past ${slowBound(input.length).toFixed(1)} ms`);
    }
    return true;
  };
  // Outcomes are classes of behaviour, but a message that quotes the input unmarked would make
  // every input a class of its own: past 64 outcomes of an entry point, only coverage counts.
  const outcomes = new Map();
  const novel = (r) => {
    const fresh = r.features.filter((f) => !seen.has(f));
    for (const f of outcomeFeatures(r.sig)) {
      const entry = f.slice(0, f.indexOf(':'));
      if (seen.has(f) || (outcomes.get(entry) ?? 0) >= 64) continue;
      fresh.push(f);
    }
    return fresh;
  };
  const remember = (f) => {
    if (seen.has(f)) return;
    seen.add(f);
    if (f.startsWith('sig')) outcomes.set(f.slice(0, f.indexOf(':')), (outcomes.get(f.slice(0, f.indexOf(':'))) ?? 0) + 1);
  };

  for (const f of readdirSync(dir).sort()) {
    const input = readFileSync(join(dir, f));
    if ((skip ?? []).includes(sha(input))) {
      log(`not loading ${f}: it stopped an earlier worker`);
      continue;
    }
    const r = exec(input);
    if (!judge(input, r)) continue;
    corpus.push(input);
    if (!FOUND.test(f) && !/(\w*Error|refused): /.test(r.sig)) accepted.push(input);
    for (const k of novel(r)) remember(k);
  }
  if (corpus.length === 0) corpus.push(Buffer.alloc(0));
  log(`${corpus.length} corpus inputs cover ${seen.size} features`);

  /** Cut pieces out of `input` while it still shows everything in `fresh`. */
  const trim = (input, fresh) => {
    let best = input;
    for (let k = 0; k < 24 && best.length > 1; k++) {
      const at = rng.below(best.length);
      const n = 1 + rng.below(Math.max(1, Math.floor(best.length / (k < 8 ? 2 : 8))));
      const shorter = Buffer.concat([best.subarray(0, at), best.subarray(at + n)]);
      const r = exec(shorter);
      if (r.violation) continue;
      const have = new Set([...outcomeFeatures(r.sig), ...r.features]);
      if (fresh.every((f) => have.has(f))) best = shorter;
    }
    return best;
  };

  /**
   * A repeated stretch of a corpus input at two sizes: the cost per byte must not grow with it.
   * Both sizes are mostly the stretch (the input around it is at most 2 KiB), so they are the
   * same kind of input and only their size differs.
   */
  const probe = () => {
    // Mostly a named input the parser accepts (a seed or a capture: cleaner than what mutation
    // found): a list inside it, made longer, is accepted too.
    const short = (b) => b.length >= 4 && b.length <= 2048;
    const good = accepted.filter(short);
    const bases = good.length && rng.chance(0.75) ? good : corpus.filter(short);
    if (bases.length === 0) return;
    const base = bases[rng.below(bases.length)];
    let from = rng.below(base.length - 1);
    let to = Math.min(base.length, from + 1 + rng.below(64));
    // Mostly a stretch from one place of a marker to the next place of it (one of the parser's
    // tokens found twice, like "&" or "tr=" in a magnet link, or a byte that comes again): likely
    // one element of a list, which repeated makes a longer list.
    const mode = rng.below(3);
    const twice = hints.tokens.filter((t) => t.length > 0 && base.indexOf(t) >= 0 && base.indexOf(t, base.indexOf(t) + 1) >= 0);
    const marker = mode === 0 ? undefined : mode === 1 && twice.length ? rng.pick(twice) : base.subarray(from, from + 1);
    if (marker && marker.length > 0) {
      const places = [];
      for (let at = base.indexOf(marker); at >= 0 && places.length < 64; at = base.indexOf(marker, at + 1)) places.push(at);
      if (places.length >= 2) {
        const k = rng.below(places.length - 1);
        [from, to] = [places[k], places[k + 1]];
      }
    }
    if (to - from > 512) return;
    const count = rng.chance(mode === 0 ? 0.5 : 0.75);
    const small = lib.amplify(base, from, to, 16 << 10, count);
    const big = lib.amplify(base, from, to, 128 << 10, count);
    // The fastest of three, less the garbage collector's share: a retained result of 128 KiB
    // survives into the old generation where one of 16 KiB dies young, which alone looks
    // several times dearer per byte (test/fuzz/replay.ts measures the growth cases alike).
    const cost = (b) => Math.min(...[0, 1, 2].map(() => {
      const profiler = new v8.GCProfiler();
      profiler.start();
      const { ms } = exec(b);
      return ms - profiler.stop().statistics.reduce((sum, x) => sum + x.cost, 0) / 1000;
    }));
    const growth = () => {
      const perByteSmall = cost(small) / small.length;
      const ms = cost(big);
      return { ms, ratio: ms / big.length / perByteSmall };
    };
    let { ms: bigMs, ratio } = growth();
    // A busy machine can slow one size: it must show twice, and go on growing at 4x the size
    // (where a quadratic path costs 4x more per byte again, and noise does not).
    if (bigMs > 50 && ratio > 4) ({ ms: bigMs, ratio } = growth());
    if (!(bigMs > 50 && ratio > 4)) return;
    const huge = lib.amplify(base, from, to, 512 << 10, count);
    const further = cost(huge) / huge.length / (bigMs / big.length);
    if (further > 2) {
      crash('superlinear', huge, `a repeated stretch (bytes ${from}-${to} of a corpus input${count ? ', numbered' : ''}) costs ${ratio.toFixed(1)}x more per byte at ${big.length} bytes (${bigMs.toFixed(1)} ms) than at ${small.length}, and ${further.toFixed(1)}x more again at ${huge.length}, the garbage collector's time left out`);
    }
  };

  let execs = 0, lastStats = Date.now(), addedSinceStats = 0, sentCrashes = 0;
  const stats = (final) => {
    parentPort.postMessage({ type: 'stats', execsTotal: execs, corpus: corpus.length, added: addedSinceStats, crashes: crashes - sentCrashes });
    sentCrashes = crashes;
    addedSinceStats = 0;
    if (!final) log(`${execs} execs, ${corpus.length} inputs (${added} new), ${seen.size} features, ${crashes} crashes`);
  };
  while (Date.now() < deadline && execs < iterations) {
    const base = corpus[rng.below(corpus.length)];
    const input = lib.mutate(rng, base, corpus, hints);
    const r = exec(input);
    execs++;
    if (judge(input, r)) {
      const fresh = novel(r);
      if (fresh.length > 0) {
        const kept = trim(input, fresh);
        const again = exec(kept);
        for (const k of [...novel(again), ...fresh]) remember(k);
        corpus.push(kept);
        writeFileSync(join(dir, `${sha(kept)}.bin`), kept);
        added++;
        addedSinceStats++;
      }
    }
    if (execs % 1500 === 0) probe();
    if (Date.now() - lastStats > 10_000) {
      stats(false);
      lastStats = Date.now();
    }
  }
  stats(true);
  log(`done: ${execs} execs, ${added} inputs added, ${crashes} crashes`);
}

/** V8 block coverage of dist/src, reset on every take: each range that ran, once or more. */
async function startCoverage() {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  const post = (method, params) => {
    let out, err;
    session.post(method, params, (e, r) => { err = e; out = r; });
    if (err) throw err;
    return out;
  };
  post('Profiler.enable');
  post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  const marker = `${join(ROOT, 'dist', 'src')}/`;
  // Once or more than once: finer counts (AFL's buckets) grow the corpus past its budget.
  const bucket = (n) => (n === 1 ? 1 : 2);
  return {
    take() {
      const out = [];
      for (const script of post('Profiler.takePreciseCoverage').result) {
        const at = script.url.indexOf(marker);
        if (at < 0) continue;
        const file = script.url.slice(at + marker.length);
        for (const fn of script.functions) for (const r of fn.ranges) if (r.count > 0) out.push(`${file}:${r.startOffset}:${r.endOffset}:${bucket(r.count)}`);
      }
      return out;
    },
  };
}

if (isMainThread) {
  main().catch((e) => {
    console.error(`fuzz: ${e.message}`);
    process.exit(2);
  });
} else {
  (workerData.mode === 'minimize' ? minimizeMain() : workerMain()).catch((e) => {
    parentPort.postMessage({ type: 'log', text: `worker failed: ${e.stack ?? e}` });
    throw e;
  });
}
