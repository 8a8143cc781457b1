/**
 * Types of the native piece-writing addon (native/pwrite.c, built to
 * native/build/Release/sixswarm_pwrite.node). Loaded at run time by src/storage/chunked-write.ts.
 */

/**
 * pwrite(2)s all of `data` at `position` of `fd` in calls of at most `chunk` bytes, one after
 * another in one thread-pool task. Resolves with 0, or with the errno of the call that failed.
 * Throws a TypeError on arguments of other shapes. `fd` must stay open until it settles.
 */
export declare function pwriteChunks(fd: number, data: Uint8Array, position: number, chunk: number): Promise<number>;

export interface PwriteAddon {
  pwriteChunks: typeof pwriteChunks;
}
