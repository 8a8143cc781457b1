/**
 * What every fuzz target promises and how a break is reported: a parser returns a value or
 * throws only its declared error type; what it accepts survives its encoder; a stream parser
 * says the same whatever the chunking. A break is a Violation, which the tests fail on and
 * scripts/fuzz.mjs saves as a crash. Also the behaviour signature: the outcome of an input in a
 * few words (an error message with its numbers and quoted text taken out), which is what "new
 * behaviour" means to the generator besides coverage.
 */
import { isDeepStrictEqual } from 'node:util';
import type { MutationHints } from './mutate.js';
import { Rng } from './mutate.js';

export type ViolationKind = 'undeclared-error' | 'round-trip' | 'chunking' | 'invariant';

export class Violation extends Error {
  constructor(
    readonly kind: ViolationKind,
    message: string,
    readonly original?: unknown,
  ) {
    super(`${kind}: ${message}`);
    this.name = 'Violation';
  }
}

export type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * A message without what varies from input to input: its class of behaviour. Quoted text goes
 * from the first quote to the last (a quoted value may hold quotes of its own), and so does
 * anything in parentheses (a nested error's details), numbers and hex become N and X.
 */
export function messageClass(text: string): string {
  return text
    .replace(/"[^]*"/g, '"S"')
    .replace(/\([^]*\)/g, '(…)')
    .replace(/0x[0-9a-f]+/gi, 'X')
    .replace(/-?\d+(\.\d+)?/g, 'N')
    .replace(/[^\x20-\x7e…]/g, '?')
    .slice(0, 120);
}

/** An error as a class of behaviour: its name and its message's class. */
export function errorSignature(e: Error): string {
  return `${e.name}: ${messageClass(e.message)}`;
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}${e.stack ? `\n${e.stack.split('\n').slice(1, 6).join('\n')}` : ''}`;
  return `non-Error value ${String(e)}`;
}

export type Guarded<T> = { ok: true; value: T } | { ok: false; sig: string; error: Error };

/**
 * Runs one entry point: a declared error becomes its signature, anything else (a TypeError, a
 * RangeError, a thrown string, a Violation from inside) is a Violation naming the entry point.
 * `exactly`: the error's class must be that one itself, not a subclass (for entry points
 * documented to throw a plain Error with a message).
 */
export function guarded<T>(entry: string, declared: readonly ErrorClass[], fn: () => T, exactly = false): Guarded<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof Violation) throw e;
    if (e instanceof Error && declared.some((c) => (exactly ? e.constructor === c : e instanceof c))) return { ok: false, sig: errorSignature(e), error: e };
    const names = declared.map((c) => c.name).join(' or ') || 'nothing';
    throw new Violation('undeclared-error', `${entry} threw ${describe(e)} (it may throw only ${names})`, e);
  }
}

/** Runs an entry point that may not throw at all (anything it throws is a Violation). */
export function total<T>(entry: string, fn: () => T): T {
  const r = guarded(entry, [], fn);
  return (r as { ok: true; value: T }).value;
}

/** Fails with a Violation when `cond` is false. */
export function check(cond: boolean, kind: ViolationKind, message: () => string): void {
  if (!cond) throw new Violation(kind, message());
}

export function same(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

/** FNV-1a over the input's length and up to 256 of its bytes: seeds the input's own chunking. */
export function inputSeed(b: Buffer): number {
  let h = 0x811c9dc5 ^ b.length;
  const n = Math.min(b.length, 256);
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * Ways to cut `b` into chunks, each fixed by the input itself (so a saved input replays the same):
 * random cuts of 1..64 bytes (some long ones), and one byte at a time for inputs up to `bytewiseMax`.
 */
export function chunkings(b: Buffer, bytewiseMax = 512): Buffer[][] {
  const rng = new Rng(inputSeed(b));
  const random: Buffer[] = [];
  for (let i = 0; i < b.length; ) {
    const n = 1 + (rng.chance(0.1) ? rng.below(4096) : rng.below(64));
    random.push(b.subarray(i, i + n));
    i += n;
  }
  const out = [random];
  if (b.length <= bytewiseMax) out.push(Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1)));
  return out;
}

/** Inputs of growing size whose cost must grow no faster than their size. */
export interface Growth {
  name: string;
  /** An input of about `size` bytes. */
  build(size: number): Buffer;
  /** A small and a large size, both past what fits the young generation (so the GC treats them alike). */
  sizes: [number, number];
  /** The parser alone on the input (no oracles), as it is timed; it must accept the input. */
  feed: (input: Buffer) => void;
  /** Largest growth of the cost per byte from the small size to the large one (default 4). */
  maxGrowth?: number;
}

export interface Target extends MutationHints {
  /** The corpus folder's name (test/fuzz/corpus/<name>/). */
  name: string;
  /** What is fed to what, for --help and the README. */
  about: string;
  /** Feeds one input to every entry point; returns its behaviour signature; throws Violation. */
  run(input: Buffer): string;
  /**
   * For `valid-*` corpus entries: what was accepted is given back byte for byte by our encoder.
   * Throws Violation.
   */
  exact?(input: Buffer, name: string): void;
  /**
   * Whether a signature says the input was accepted (what `valid-*` and `real-*` entries must be).
   * Default: no entry point refused it (no "SomethingError: " and no "refused: " in it).
   */
  accepted?(sig: string): boolean;
  growth: Growth[];
}

export function accepted(t: Target, sig: string): boolean {
  return t.accepted ? t.accepted(sig) : !/(\w*Error|refused): /.test(sig);
}

/** A short name for the kind of a value, for signatures. */
export function kindOf(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint') return 'int';
  if (Buffer.isBuffer(v)) return 'str';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'dict';
  return typeof v;
}

/** Counts in coarse buckets (0, 1, 2-3, 4-15, 16+), so signatures do not grow with every length. */
export function bucket(n: number): string {
  return n === 0 ? '0' : n === 1 ? '1' : n < 4 ? '2-3' : n < 16 ? '4-15' : '16+';
}
