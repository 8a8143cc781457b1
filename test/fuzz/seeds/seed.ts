/**
 * The shape of a seed input and helpers to make many of them: `valid-*` seeds are accepted and
 * re-encoded byte for byte, `real-*` ones are other programs' bytes that must be accepted, the
 * rest are edge cases whose names say what they try.
 */

export interface Seed {
  name: string;
  bytes: Buffer;
}

export const seed = (name: string, bytes: Buffer | string): Seed => ({ name, bytes: typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes });

/**
 * `bytes` cut short: at every byte when it is short, else at the `boundaries` given (where one
 * field ends and the next begins) and one byte either side of each.
 */
export function truncations(name: string, bytes: Buffer, boundaries?: readonly number[]): Seed[] {
  const cuts = new Set<number>();
  if (!boundaries) for (let i = 1; i < bytes.length; i++) cuts.add(i);
  else for (const b of boundaries) for (const c of [b - 1, b, b + 1]) if (c > 0 && c < bytes.length) cuts.add(c);
  return [...cuts].sort((a, b) => a - b).map((c) => seed(`${name}-cut-at-${c}`, bytes.subarray(0, c)));
}

/** A copy of `bytes` with `patch` written at `at`. */
export function patched(bytes: Buffer, at: number, patch: Buffer | number[]): Buffer {
  const out = Buffer.from(bytes);
  Buffer.from(patch).copy(out, at);
  return out;
}
