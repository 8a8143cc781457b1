/**
 * The one owner of a downloaded piece's verdict: its check against the metainfo's hashes (v1
 * SHA-1, v2 merkle root, or both), blame for a piece that failed (and for the liars a suspect
 * piece exposes once it passes, see bans.ts), and the write of a piece that passed. A v2 piece
 * that failed with blocks from several peers is judged block by block once its true leaf hashes
 * come (from a peer, proven against the piece's hash): only the senders of bad blocks are
 * blamed. The transfer hears the outcome once nothing reads the piece's buffer any more.
 */
import { HASH_BYTES } from '../merkle/merkle.js';
import type { PieceStore } from '../storage/piece-store.js';
import type { BanList } from './bans.js';
import type { PieceInProgress } from './piece-assembly.js';

export type Verdict =
  /** `banned`: hosts (by hostKey) this piece convicted, to be banned. */
  | { index: number; ok: true; banned: string[] }
  | { index: number; ok: false; senders: string[]; banned: string[]; inconsistent?: true }
  /** It passed but could not be written. */
  | { index: number; error: Error }
  /** Later, for a piece that failed: the senders of its bad blocks, found from its true leaf hashes. */
  | { index: number; blamed: string[]; blocks: number[]; banned: string[] };

/** Who can give a piece's true leaf hashes (v2: a peer, asked with a hash request). */
export interface LeafSource {
  /** `done` gets them once proven (never, if no peer gives them); false when they are not asked for. */
  leaves(index: number, done: (leaves: Buffer) => void): boolean;
}

/** A failed v2 copy waiting for the truth: its blocks' hashes and who sent each. */
interface FailedCopy {
  leaves: Buffer;
  senders: (string | undefined)[];
}

/** Failed copies waiting for their leaf hashes, over all pieces: blame is best effort beyond. */
const MAX_WAITING = 256;

export class PieceVerifier {
  /** Pieces being hashed and written: drain() waits for them so nothing is written after a stop. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly waiting = new Map<number, FailedCopy[]>();
  private waitingCopies = 0;

  constructor(
    private readonly store: PieceStore,
    private readonly bans: BanList,
    private readonly onVerdict: (v: Verdict) => void,
    private readonly leafSource?: LeafSource,
  ) {}

  verify(piece: PieceInProgress): void {
    const { index, senders } = piece;
    const check = this.store.hashes.verify(index, piece.data);
    const ok = check.ok;
    // The blocks themselves are the evidence of who sent what.
    let banned: string[] = [];
    if (!ok && !check.inconsistent) {
      banned = this.bans.pieceFailed(index, piece.blocks(), senders);
      if (check.leaves && new Set(senders.filter((x) => x !== undefined)).size > 1) this.awaitLeaves(index, { leaves: check.leaves, senders: [...senders] });
    } else if (ok && this.bans.suspect(index)) {
      // The good copy judges the failed ones (bans.ts): their leaf hashes are not waited for any more.
      this.forget(index);
      banned = this.bans.piecePassed(index, piece.blocks());
    }
    const written = ok ? this.store.writeVerified(index, piece.data) : Promise.resolve();
    const failed = { index, ok: false as const, banned, senders: [...new Set(senders.filter((x) => x !== undefined))], ...(check.inconsistent ? { inconsistent: true as const } : {}) };
    const v = written.then(
      () => this.onVerdict(ok ? { index, ok, banned } : failed),
      (e: Error) => this.onVerdict({ index, error: e }),
    );
    this.inFlight.add(v);
    void v.finally(() => this.inFlight.delete(v));
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private awaitLeaves(index: number, copy: FailedCopy): void {
    if (!this.leafSource || this.waitingCopies >= MAX_WAITING) return;
    const copies = this.waiting.get(index) ?? [];
    copies.push(copy);
    this.waiting.set(index, copies);
    this.waitingCopies++;
    if (copies.length === 1 && !this.leafSource.leaves(index, (truth) => this.judge(index, truth))) this.forget(index);
  }

  private forget(index: number): void {
    this.waitingCopies -= this.waiting.get(index)?.length ?? 0;
    this.waiting.delete(index);
  }

  /** The piece's true leaf hashes came: every block that differs convicts its sender. */
  private judge(index: number, truth: Buffer): void {
    const copies = this.waiting.get(index);
    if (!copies) return; // the piece passed meanwhile, and its good copy judged them
    this.forget(index);
    const liars = new Set<string>();
    const blocks: number[] = [];
    for (const copy of copies) {
      for (let b = 0; b * HASH_BYTES < copy.leaves.length; b++) {
        const at = b * HASH_BYTES;
        const sender = copy.senders[b];
        if (sender === undefined || copy.leaves.subarray(at, at + HASH_BYTES).equals(truth.subarray(at, at + HASH_BYTES))) continue;
        liars.add(sender);
        blocks.push(b);
      }
    }
    this.onVerdict({ index, blamed: [...liars], blocks, banned: this.bans.blocksConvicted(index, liars) });
  }
}
