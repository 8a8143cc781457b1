/** Byte counts for people: `1.5 MiB` out, `256K` / `1M` / `262144` in. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1).replace(/\.0$/, '')} ${UNITS[unit]}`;
}

const MULTIPLIERS: Record<string, number> = { '': 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** A whole number of bytes, optionally with a binary suffix (K, KiB, M, MiB, G, GiB; any case). Undefined when malformed. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d{1,16})\s*([a-z]*)$/i.exec(text.trim());
  if (!m) return undefined;
  const mult = MULTIPLIERS[m[2]!.toLowerCase()];
  if (mult === undefined) return undefined;
  const n = Number(m[1]) * mult;
  return Number.isSafeInteger(n) ? n : undefined;
}
