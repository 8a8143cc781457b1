/**
 * RC4, the stream cipher of Message Stream Encryption. The keystream comes from the native addon
 * (native/rc4.c) when it is built, else from JavaScript; both give the same bytes. Measured by
 * bench/rc4.mjs (MB per CPU second): C ~670, as fast as OpenSSL's RC4 (~590-710), JavaScript over
 * 32-bit words ~440. OpenSSL's is out of reach anyway: Node 20 has RC4 only in OpenSSL's legacy
 * provider, which needs a flag on the node command line (`--openssl-legacy-provider`).
 */
import type { Rc4Addon } from '../../native/sixswarm_rc4.js';
import { loadNativeAddon } from '../util/native-addon.js';

/** One direction's keystream position. */
export interface Rc4 {
  /** XOR the next `src.length` keystream bytes over `src` into `dst` (`dst` may be `src`: in place). */
  xor(src: Uint8Array, dst: Uint8Array): void;
}

export type Rc4Engine = 'native' | 'js';

/** The key schedule: S[0..255], then i and j (both 0), the layout the native addon keeps. */
function schedule(key: Uint8Array): Uint8Array {
  if (key.length < 1 || key.length > 256) throw new RangeError(`an RC4 key has 1 to 256 bytes, not ${key.length}`);
  const s = new Uint8Array(258);
  for (let i = 0; i < 256; i++) s[i] = i;
  let j = 0;
  for (let i = 0; i < 256; i++) {
    const si = s[i]!;
    j = (j + si + key[i % key.length]!) & 255;
    s[i] = s[j]!;
    s[j] = si;
  }
  return s;
}

class NativeRc4 implements Rc4 {
  private readonly state: Uint8Array;
  constructor(
    private readonly addon: Rc4Addon,
    key: Uint8Array,
  ) {
    this.state = schedule(key);
  }
  xor(src: Uint8Array, dst: Uint8Array): void {
    this.addon.xor(this.state, src, dst);
  }
}

/**
 * RC4 in JavaScript: S held in 32-bit slots, and where both buffers are 4-byte aligned the
 * keystream is XORed a 32-bit word at a time (about 1.6 times a byte loop over a Uint8Array).
 */
class JsRc4 implements Rc4 {
  private readonly s = new Int32Array(256);
  private i = 0;
  private j = 0;
  constructor(key: Uint8Array) {
    this.s.set(schedule(key).subarray(0, 256));
  }
  xor(src: Uint8Array, dst: Uint8Array): void {
    if (dst.length < src.length) throw new RangeError('RC4 output shorter than its input');
    const s = this.s;
    let i = this.i;
    let j = this.j;
    const n = src.length;
    let k = 0;
    if (n >= 4 && ((src.byteOffset | dst.byteOffset) & 3) === 0) {
      // Typed-array views use the platform's byte order; the keystream word is built to match it.
      const words = n >> 2;
      const src32 = new Int32Array(src.buffer, src.byteOffset, words);
      const dst32 = new Int32Array(dst.buffer, dst.byteOffset, words);
      // Four steps written out: V8 does not unroll the loop, and the byte order is fixed per platform.
      const [s0, s1, s2, s3] = LITTLE_ENDIAN ? [0, 8, 16, 24] : [24, 16, 8, 0];
      for (let w = 0; w < words; w++) {
        i = (i + 1) & 255;
        let si = s[i]!;
        j = (j + si) & 255;
        let sj = s[j]!;
        s[i] = sj;
        s[j] = si;
        let ks = s[(si + sj) & 255]! << s0;
        i = (i + 1) & 255;
        si = s[i]!;
        j = (j + si) & 255;
        sj = s[j]!;
        s[i] = sj;
        s[j] = si;
        ks |= s[(si + sj) & 255]! << s1;
        i = (i + 1) & 255;
        si = s[i]!;
        j = (j + si) & 255;
        sj = s[j]!;
        s[i] = sj;
        s[j] = si;
        ks |= s[(si + sj) & 255]! << s2;
        i = (i + 1) & 255;
        si = s[i]!;
        j = (j + si) & 255;
        sj = s[j]!;
        s[i] = sj;
        s[j] = si;
        ks |= s[(si + sj) & 255]! << s3;
        dst32[w] = src32[w]! ^ ks;
      }
      k = words << 2;
    }
    for (; k < n; k++) {
      i = (i + 1) & 255;
      const si = s[i]!;
      j = (j + si) & 255;
      const sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      dst[k] = src[k]! ^ s[(si + sj) & 255]!;
    }
    this.i = i;
    this.j = j;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The native addon, or null (with the reason in `nativeRc4Missing()`) when it is not built or does not load. */
function loadAddon(): Rc4Addon | null {
  return loadNativeAddon<Rc4Addon>('sixswarm_rc4').addon ?? null;
}

/** Which engine `createRc4` uses by default: the native one whenever it loads. */
export function defaultRc4Engine(): Rc4Engine {
  return loadAddon() ? 'native' : 'js';
}

/** Why the native engine is not in use ('' when it is). */
export function nativeRc4Missing(): string {
  return loadNativeAddon<Rc4Addon>('sixswarm_rc4').missing ?? '';
}

/** A fresh RC4 keystream for `key` (nothing discarded: MSE's discard is the caller's). */
export function createRc4(key: Uint8Array, engine: Rc4Engine = defaultRc4Engine()): Rc4 {
  if (engine === 'js') return new JsRc4(key);
  const native = loadAddon();
  if (!native) throw new Error(`the native RC4 addon is not available: ${nativeRc4Missing()}`);
  return new NativeRc4(native, key);
}
