/**
 * Types of the native RC4 addon (native/rc4.c, built to native/build/Release/sixswarm_rc4.node).
 * Loaded at run time by src/mse/rc4.ts; this file only describes it.
 */

/**
 * XORs the next `src.length` keystream bytes over `src` into `dst` (which may be `src`), advancing
 * `state`: 258 bytes, the permutation S[0..255] then i and j. Throws a TypeError on other shapes.
 */
export declare function xor(state: Uint8Array, src: Uint8Array, dst: Uint8Array): void;

export interface Rc4Addon {
  xor: typeof xor;
}
