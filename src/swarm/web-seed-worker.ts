/**
 * One connection's work for a web seed: the run of blocks its request fetches, filled in order
 * from the bytes as they arrive and handed on block by block, and the download limit's credit
 * (reading pauses when it runs out: the server's TCP window closes, not our memory filling).
 */
import { WebSeedFailure } from '../webseed/failure.js';
import { WebSeedFetcher, type WebSeedSite } from '../webseed/fetcher.js';
import { BLOCK_SIZE, type BlockRef } from '../wire/messages.js';
import type { RateLimit } from './rate-limit.js';

/** One request's run of blocks, filled in order from the bytes as they arrive. */
export class Run {
  /** Index of the block being filled. */
  next = 0;
  private fill = 0;
  /** Bytes arrived for it, in all. */
  received = 0;
  /** Given up (its request aborted): whatever else arrives is dropped. */
  private halted = false;

  constructor(
    readonly blocks: readonly BlockRef[],
    private readonly staging: Buffer,
    private readonly deliver: (r: BlockRef, block: Buffer) => void,
  ) {}

  get length(): number {
    return this.blocks.reduce((n, r) => n + r.length, 0);
  }

  halt(): void {
    this.halted = true;
  }

  push(bytes: Buffer): void {
    this.received += bytes.length;
    let at = 0;
    while (at < bytes.length && !this.halted) {
      const r = this.blocks[this.next];
      if (!r) throw new WebSeedFailure('too-much', 'sent more than the run asked for');
      if (this.fill === 0 && bytes.length - at >= r.length) {
        // A whole block in one piece of the input: handed on as a view (the picker copies it).
        this.deliver(r, bytes.subarray(at, at + r.length));
        at += r.length;
        this.next++;
        continue;
      }
      const n = Math.min(r.length - this.fill, bytes.length - at);
      bytes.copy(this.staging, this.fill, at, at + n);
      this.fill += n;
      at += n;
      if (this.fill === r.length) {
        this.fill = 0;
        this.deliver(r, this.staging.subarray(0, r.length));
        this.next++;
      }
    }
  }
}

export class Worker {
  readonly fetcher: WebSeedFetcher;
  run?: Run;
  /** The piece after its last run: where it goes on when that piece is as rare as any. */
  resume?: number;
  /** Download-limit credit (bytes) and its pending ask. */
  private credit = 0;
  private ask?: () => void;
  private readonly staging = Buffer.alloc(BLOCK_SIZE);

  constructor(
    site: WebSeedSite,
    private readonly limit: RateLimit | undefined,
  ) {
    this.fetcher = new WebSeedFetcher(site);
  }

  get busy(): boolean {
    return this.run !== undefined;
  }

  start(blocks: readonly BlockRef[], deliver: (r: BlockRef, block: Buffer) => void): Run {
    this.run = new Run(blocks, this.staging, deliver);
    return this.run;
  }

  /** Bytes arrived: the run takes them; past the limit's credit, reading pauses until it grants more. */
  take(bytes: Buffer): void {
    this.run!.push(bytes);
    if (!this.limit || this.limit.unlimited) return;
    this.credit -= bytes.length;
    if (this.credit < 0) {
      this.fetcher.pause();
      this.askCredit();
    }
  }

  private askCredit(): void {
    if (this.ask) return;
    this.ask = this.limit!.request(BLOCK_SIZE, () => {
      this.ask = undefined;
      this.credit += BLOCK_SIZE;
      if (this.credit >= 0) this.fetcher.resume();
      else this.askCredit();
    });
  }

  finish(): void {
    this.run = undefined;
  }

  close(): void {
    this.ask?.();
    this.ask = undefined;
    this.fetcher.abort();
  }
}
