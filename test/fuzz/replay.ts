/**
 * The fuzz tests of one target, the same for every parser: replay every saved input of its
 * corpus (contract kept, each within a time proportional to its size), the `valid-*` and
 * `real-*` inputs accepted and `valid-*` ones written back byte for byte, a short seeded run of
 * fresh mutations, and the cost per byte of its growth inputs at a small and a large size.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GCProfiler } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/sixswarm.js';
import { accepted, Violation, type Growth, type Target } from './contract.js';
import { mutate, Rng } from './mutate.js';

export const CORPUS = join(ROOT, 'test', 'fuzz', 'corpus');

export interface CorpusEntry {
  name: string;
  bytes: Buffer;
}

export function corpusOf(target: Target): CorpusEntry[] {
  const dir = join(CORPUS, target.name);
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

/** Time budget of one input: generous (the target runs it whole, cut and byte by byte), but linear in its size. */
const budgetMs = (bytes: number) => 50 + bytes * 0.02;

/** Runs `fn` and returns the milliseconds it took. */
function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/** A short description of an input for a failure message: its size and its first bytes in base64. */
function show(b: Buffer): string {
  return `${b.length} bytes, base64 ${b.subarray(0, 600).toString('base64')}${b.length > 600 ? '…' : ''}`;
}

/** Milliseconds of one feed, less the garbage collector's time in it (V8's GCProfiler). */
function feedCost(g: Growth, input: Buffer): number {
  const profiler = new GCProfiler();
  profiler.start();
  const elapsed = timed(() => g.feed(input));
  return elapsed - profiler.stop().statistics.reduce((sum, s) => sum + s.cost, 0) / 1000;
}

interface Cost {
  bytes: number;
  /** The fastest run, less its garbage collection. */
  ms: number;
}

/**
 * What the growth inputs cost at both sizes: five runs of each, taken in turn after a warm-up,
 * the fastest of each kept (a busy machine or a collection only ever adds time). The garbage
 * collector's time is left out: collections cost by the heap they find, not by the parser's
 * algorithm (a retained result of 1 MiB survives into the old generation where 128 KiB dies
 * young, which alone makes building it look 5x dearer per byte); work the parser itself does
 * more than once per byte shows in what remains.
 */
function costs(g: Growth): [Cost, Cost] {
  const inputs = g.sizes.map((n) => g.build(n));
  for (const input of inputs) g.feed(input);
  const best = [Infinity, Infinity];
  for (let k = 0; k < 5; k++) inputs.forEach((input, i) => (best[i] = Math.min(best[i]!, feedCost(g, input))));
  return [{ bytes: inputs[0]!.length, ms: best[0]! }, { bytes: inputs[1]!.length, ms: best[1]! }];
}

/**
 * Above this, cost per byte grows with size. Linear work stays near 1, up to about 2.5 where a
 * large Map or array outgrows the CPU caches (measured: a scrape reply of 27,000 files, 2.4); a
 * quadratic path at 8x the size is near 8 (the magnet links' tracker list was 9.6).
 */
const MAX_PER_BYTE_GROWTH = 4;

export interface SuiteOptions {
  /** Fresh mutations run on every test run (a deterministic seed: the same ones each time). */
  mutations: number;
  seed?: number;
}

export function fuzzSuite(target: Target, opts: SuiteOptions): void {
  describe(`fuzz: ${target.name}`, () => {
    const corpus = corpusOf(target);

    it('replays every corpus input within the contract, each within a time linear in its size', () => {
      expect(corpus.length, `test/fuzz/corpus/${target.name}/ holds the saved inputs`).toBeGreaterThan(10);
      const failures: string[] = [];
      for (const e of corpus) {
        let ms = 0;
        try {
          ms = timed(() => target.run(e.bytes));
          // A slow first run may be the JIT or a busy machine: the best of three decides.
          if (ms > budgetMs(e.bytes.length)) ms = Math.min(ms, timed(() => target.run(e.bytes)), timed(() => target.run(e.bytes)));
        } catch (err) {
          failures.push(`${e.name}: ${err instanceof Violation ? err.message : `the target failed: ${(err as Error).stack}`}`);
          continue;
        }
        if (ms > budgetMs(e.bytes.length)) failures.push(`${e.name}: ${ms.toFixed(1)} ms for ${e.bytes.length} bytes (budget ${budgetMs(e.bytes.length).toFixed(1)} ms)`);
      }
      expect(failures).toEqual([]);
    });

    it('accepts its valid-* and real-* inputs, and writes valid-* ones back byte for byte', () => {
      const wanted = corpus.filter((e) => e.name.startsWith('valid-') || e.name.startsWith('real-'));
      expect(wanted.length, 'the corpus has valid inputs').toBeGreaterThan(0);
      for (const e of wanted) {
        const sig = target.run(e.bytes);
        expect(accepted(target, sig), `${e.name} is accepted (outcome: ${sig})`).toBe(true);
        if (e.name.startsWith('valid-') && target.exact) {
          try {
            target.exact(e.bytes, e.name);
          } catch (err) {
            throw new Error(`${e.name}: ${(err as Error).message}`);
          }
        }
      }
    });

    it(`keeps the contract over ${opts.mutations} seeded mutations of its corpus`, () => {
      const rng = new Rng(opts.seed ?? 0x5eed);
      const inputs = corpus.map((e) => e.bytes);
      for (let i = 0; i < opts.mutations; i++) {
        const base = rng.pick(inputs);
        const input = mutate(rng, base, inputs, target);
        try {
          target.run(input);
        } catch (err) {
          // Save it under test/fuzz/corpus/<parser>/ (as regress-<what>.bin) once the parser is fixed.
          throw new Error(`mutation ${i} broke the contract: ${err instanceof Violation ? err.message : (err as Error).stack}\ninput: ${show(input)}`);
        }
      }
    });

    for (const g of target.growth) {
      it(`costs no more per byte at ${g.sizes[1]} bytes than at ${g.sizes[0]}: ${g.name}`, () => {
        const us = (c: Cost) => ((c.ms * 1000) / c.bytes).toFixed(3);
        // Another process on the machine can slow one size's every run: a growth must show in three measurements.
        const limit = g.maxGrowth ?? MAX_PER_BYTE_GROWTH;
        let growth = Infinity;
        for (let round = 0; round < 3 && growth >= limit; round++) {
          const [small, large] = costs(g);
          const measured = large.ms / large.bytes / (small.ms / small.bytes);
          console.log(`${target.name}: ${g.name}: ${us(small)} us/byte at ${small.bytes} bytes, ${us(large)} at ${large.bytes} (x${measured.toFixed(2)}, the garbage collector's time left out)`);
          // Below a few milliseconds the clock and the JIT say more than the parser.
          if (large.ms < 5) return;
          growth = Math.min(growth, measured);
        }
        expect(growth, `${g.name}: cost per byte x${growth.toFixed(2)} from ${g.sizes[0]} to ${g.sizes[1]} bytes`).toBeLessThan(limit);
      });
    }
  });
}
