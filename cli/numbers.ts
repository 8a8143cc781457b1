/** Whole-number command-line options (ports, intervals, counts), checked the same way everywhere. */
import { OptionValueError } from './usage-error.js';

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
  if (!(n >= min && n <= max)) throw new OptionValueError(name, `must be a whole number from ${min} to ${max}, got "${text}"`);
  return n;
}

const RATE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * A rate in bytes per second: `500k`, `2M`, `1.5MiB/s`, `65536` (binary units, any case; `/s` and
 * `B`/`iB` optional). `0` means no limit (undefined), as does an absent option.
 */
export function parseRateOption(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d{1,12}(?:\.\d{1,6})?)\s*(?:([kmg])(?:i?b)?|b)?(?:\/s)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * RATE_UNITS[(m[2] ?? '').toLowerCase()]! : NaN;
  if (!Number.isFinite(n)) throw new OptionValueError(name, `must be a rate such as 500k, 2M or 1.5MiB/s (bytes per second; 0 for no limit), got "${text}"`);
  const rate = Math.round(n);
  if (rate === 0) return undefined;
  if (rate < 1024) throw new OptionValueError(name, `${text} is below 1 KiB/s, too slow for any peer to work with; give at least 1k (or 0 for no limit)`);
  return rate;
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** A duration in seconds: `90` (seconds), `30s`, `10m`, `2h`, `1h30m`, `1d`. Undefined when absent. */
export function parseDurationOption(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim().toLowerCase();
  let seconds = 0;
  if (/^\d{1,9}$/.test(t)) seconds = Number(t);
  else if (/^(\d{1,9}[smhd])+$/.test(t)) for (const [, n, u] of t.matchAll(/(\d+)([smhd])/g)) seconds += Number(n) * DURATION_UNITS[u!]!;
  else throw new OptionValueError(name, `must be a duration such as 90 (seconds), 30s, 10m, 2h or 1h30m, got "${text}"`);
  return seconds;
}

/** A number with an optional fraction (`1`, `0.5`, `2.25`) from `min` to `max`. */
export function parseDecimalOption(text: string | undefined, name: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d{1,9}(\.\d{1,9})?$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new OptionValueError(name, `must be a number from ${min} to ${max} (such as 1 or 0.5), got "${text}"`);
  return n;
}
