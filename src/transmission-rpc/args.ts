/**
 * A request's `arguments`, read with their types checked: a value of the wrong type is an
 * RpcError naming the argument and what it must be, never a crash or a silent default. Text and
 * lists are bounded, so no argument makes the daemon hold or walk more than a request's worth.
 */
import { hasControl, printable } from '../util/sanitize.js';
import { RpcError } from './rpc-error.js';

/** Longer lists than any client sends (ids, fields, labels). */
const MAX_LIST = 100_000;

export class Args {
  constructor(private readonly raw: Record<string, unknown>) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  keys(): string[] {
    return Object.keys(this.raw).filter((k) => this.raw[k] !== undefined);
  }

  /** The value as it came (for `ids`, whose forms are many). */
  value(key: string): unknown {
    return this.raw[key];
  }

  bool(key: string): boolean | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    // transmission-remote and older clients send 0/1 for booleans.
    if (v === 0 || v === 1) return v === 1;
    if (typeof v !== 'boolean') throw new RpcError(`argument "${key}" must be true or false`);
    return v;
  }

  number(key: string, min: number, max: number): number | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new RpcError(`argument "${key}" must be a number from ${min} to ${max}`);
    return v;
  }

  string(key: string, maxLength: number): string | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new RpcError(`argument "${key}" must be a string`);
    if (v.length > maxLength) throw new RpcError(`argument "${key}" is longer than ${maxLength} characters`);
    return v;
  }

  /** A list of strings, each without control characters. */
  strings(key: string, maxItems: number, maxLength: number): string[] | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length > maxItems || !v.every((x) => typeof x === 'string' && x.length <= maxLength && !hasControl(x))) {
      throw new RpcError(`argument "${key}" must be a list of at most ${maxItems} strings of at most ${maxLength} characters`);
    }
    return v as string[];
  }

  /** A list of whole numbers (file indices). */
  integers(key: string): number[] | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length > MAX_LIST || !v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) throw new RpcError(`argument "${key}" must be a list of file indices`);
    return v as number[];
  }
}

/** An argument name fit for an error message. */
export function argName(key: string): string {
  return printable(key, 60);
}
