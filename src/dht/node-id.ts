/** BEP 5 node ids: 160-bit strings compared by XOR distance. */
import { randomBytes } from 'node:crypto';

export const ID_LENGTH = 20;
export const ID_BITS = ID_LENGTH * 8;

export function randomNodeId(): Buffer {
  return randomBytes(ID_LENGTH);
}

/** Which of `a` and `b` is closer to `target`: negative when `a`, positive when `b`, 0 when equal. */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_LENGTH; i++) {
    const d = (a[i]! ^ target[i]!) - (b[i]! ^ target[i]!);
    if (d !== 0) return d;
  }
  return 0;
}

/** Number of leading bits `a` and `b` share (160 when equal): the routing table's bucket index. */
export function sharedPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_LENGTH; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_BITS;
}

/** A random id that shares exactly `bits` leading bits with `id` (a target that refreshes that bucket). */
export function randomIdInBucket(id: Uint8Array, bits: number): Buffer {
  const out = randomBytes(ID_LENGTH);
  const whole = Math.floor(bits / 8);
  for (let i = 0; i < whole; i++) out[i] = id[i]!;
  if (whole < ID_LENGTH) {
    const rest = bits % 8;
    const keep = (0xff00 >> rest) & 0xff; // the shared bits of this byte
    const flip = 0x80 >> rest; // the first bit that differs
    out[whole] = (id[whole]! & keep) | ((~id[whole]! & flip) & 0xff) | (out[whole]! & ~(keep | flip) & 0xff);
  }
  return out;
}
