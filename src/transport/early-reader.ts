/**
 * The reading side every transport shares: bytes (and the connection's end) that arrive before
 * anyone reads are kept, bounded, and handed over in order once reading starts; after close()
 * nothing is handed over at all.
 */
import type { TransportHandlers } from './transport.js';

/** What may arrive before anyone reads (a handshake is 68 bytes; a few frames may follow it). */
export const MAX_EARLY_BYTES = 256 * 1024;

export class EarlyReader {
  handlers?: TransportHandlers;
  private early: Buffer[] = [];
  private earlyBytes = 0;
  /** Why it ended before anyone started reading: told to the reader when it starts. */
  private endedEarly?: string;
  /** close() was called: no handler runs any more. */
  private stopped = false;

  /** `overflow` ends the connection: too much arrived before anyone read it. */
  constructor(private readonly overflow: () => void) {}

  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    // A peer that sent its bytes and hung up before anyone read still has them read.
    for (const chunk of early) {
      if (this.stopped) return;
      handlers.data(chunk, false);
    }
    if (this.endedEarly !== undefined && !this.stopped) handlers.close(this.endedEarly);
  }

  data(chunk: Buffer, transient: boolean): void {
    if (this.stopped) return;
    if (this.handlers) return this.handlers.data(chunk, transient);
    this.earlyBytes += chunk.length;
    if (this.earlyBytes > MAX_EARLY_BYTES) return this.overflow();
    this.early.push(transient ? Buffer.from(chunk) : chunk);
  }

  /** The connection ended (not by us). */
  end(reason: string): void {
    if (this.stopped) return;
    if (this.handlers) this.handlers.close(reason);
    else this.endedEarly = reason;
  }

  /** We closed it. */
  stop(): void {
    this.stopped = true;
    this.early = [];
  }
}
