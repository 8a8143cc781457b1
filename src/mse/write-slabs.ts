/**
 * Memory for the ciphertext of large writes (blocks), reused: each is carved from a slab, and a
 * slab is filled again once every write carved from it is done. A fresh 16 KiB buffer per block
 * tripled an encrypting seed's garbage-collection time (bench/transfer --cpu-prof); small
 * messages stay with Buffer.allocUnsafe, so connections that upload nothing hold no slab.
 */

const SLAB_BYTES = 256 * 1024;
/** Writes from this size on come from a slab. */
const SLAB_FROM = 1024;
/** Emptied slabs kept for reuse; more in flight at once (up to the upload queue's bound) are left to the GC. */
const MAX_SPARE = 2;

interface Slab {
  mem: Buffer;
  used: number;
  /** Writes carved from it and not done yet. */
  pending: number;
  /** No longer carved from: reusable once `pending` is 0. */
  full: boolean;
}

const nothing = (): void => {};

export class WriteSlabs {
  private current?: Slab;
  private readonly spare: Slab[] = [];

  /** `n` bytes to fill and write, and what to call once the write no longer needs them. */
  take(n: number): [Buffer, () => void] {
    if (n < SLAB_FROM || n > SLAB_BYTES) return [Buffer.allocUnsafe(n), nothing];
    let s = this.current;
    if (!s || s.used + n > SLAB_BYTES) {
      if (s) {
        s.full = true;
        if (s.pending === 0) this.recycle(s);
      }
      s = this.spare.pop() ?? { mem: Buffer.allocUnsafeSlow(SLAB_BYTES), used: 0, pending: 0, full: false };
      this.current = s;
    }
    const slab = s;
    const out = slab.mem.subarray(slab.used, slab.used + n);
    slab.used += n;
    slab.pending++;
    return [
      out,
      () => {
        if (--slab.pending === 0 && slab.full) this.recycle(slab);
      },
    ];
  }

  private recycle(s: Slab): void {
    s.used = 0;
    s.full = false;
    if (this.spare.length < MAX_SPARE) this.spare.push(s);
  }
}
