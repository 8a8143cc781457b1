/**
 * The one owner of a downloaded piece's verdict: its SHA-1 against the metainfo's, blame for a
 * piece that failed (and for the liars a suspect piece exposes once it passes, see bans.ts), and
 * the write of a piece that passed. The transfer hears the outcome once nothing reads the
 * piece's buffer any more.
 */
import type { PieceStore } from '../storage/piece-store.js';
import type { BanList } from './bans.js';
import type { PieceInProgress } from './piece-assembly.js';

export type Verdict =
  /** `banned`: hosts (by hostKey) this piece convicted, to be banned. */
  | { index: number; ok: true; banned: string[] }
  | { index: number; ok: false; senders: string[]; banned: string[] }
  /** It passed but could not be written. */
  | { index: number; error: Error };

export class PieceVerifier {
  /** Pieces being hashed and written: drain() waits for them so nothing is written after a stop. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly store: PieceStore,
    private readonly bans: BanList,
    private readonly onVerdict: (v: Verdict) => void,
  ) {}

  verify(piece: PieceInProgress): void {
    const { index, senders } = piece;
    const ok = piece.digest().equals(this.store.expected(index));
    // The blocks themselves are the evidence of who sent what.
    let banned: string[] = [];
    if (!ok) banned = this.bans.pieceFailed(index, piece.blocks(), senders);
    else if (this.bans.suspect(index)) banned = this.bans.piecePassed(index, piece.blocks());
    const written = ok ? this.store.writeVerified(index, piece.data) : Promise.resolve();
    const v = written.then(
      () => this.onVerdict(ok ? { index, ok, banned } : { index, ok, banned, senders: [...new Set(senders.filter((x) => x !== undefined))] }),
      (e: Error) => this.onVerdict({ index, error: e }),
    );
    this.inFlight.add(v);
    void v.finally(() => this.inFlight.delete(v));
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}
