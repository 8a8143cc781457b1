/** Whole-number command-line options (ports, intervals, counts), checked the same way everywhere. */
import { UsageError } from '../src/util/errors.js';

/**
 * `text` as a whole number from `min` to `max` (decimal digits only: no sign, no fraction, no
 * exponent); a UsageError naming the option (`name`, e.g. "--port") otherwise. Undefined in,
 * undefined out, so optional options need no extra check.
 */
export function parseIntOption(text: string, name: string, min: number, max: number): number;
export function parseIntOption(text: string | undefined, name: string, min: number, max: number): number | undefined;
export function parseIntOption(text: string | undefined, name: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got "${text}"`);
  return n;
}
