/**
 * Who to blame for pieces that fail their hash, without banning honest peers that happened to
 * share a piece with a liar. A failed piece's blocks are remembered (a hash per block and who
 * sent it); when the piece later passes, every block that differs from the good data convicts
 * its sender. A piece that came from one peer alone convicts it at once, and so does a block whose
 * true hash is known (BEP 52: the piece's leaf hashes, from a peer). Two convictions ban the
 * address (an IPv6 host: its /64) for the rest of the session; one bans a web seed (its bytes
 * came over a checked stream from the server itself: nothing but the server can be at fault).
 */
import { createHash } from 'node:crypto';
import { hostKey } from '../net/address.js';

interface FailedCopy {
  blockHashes: Buffer[];
  senders: (string | undefined)[];
}

/** Failed copies kept per piece, and pieces kept at all: a liar must not make us hoard memory. */
const MAX_COPIES = 4;
const MAX_PIECES = 256;

const WEB_SEED = 'web seed ';

/** A web seed's sender key: never an address, so no peer shares its blame or its ban. */
export function webSeedKey(url: string): string {
  return `${WEB_SEED}${url}`;
}

/** The web seed's URL when `key` is one's. */
export function webSeedOf(key: string): string | undefined {
  return key.startsWith(WEB_SEED) ? key.slice(WEB_SEED.length) : undefined;
}

export class BanList {
  private readonly strikes = new Map<string, number>();
  private readonly banned = new Set<string>();
  private readonly failed = new Map<number, FailedCopy[]>();

  constructor(private readonly threshold = 2) {}

  isBanned(ip: string): boolean {
    return this.banned.has(hostKey(ip));
  }

  get size(): number {
    return this.banned.size;
  }

  /** Whether a piece has failed before, so its good data will tell who lied. */
  suspect(index: number): boolean {
    return this.failed.has(index);
  }

  /** Record a failed piece; returns the IPs banned because of it. */
  pieceFailed(index: number, blocks: readonly Buffer[], senders: (string | undefined)[]): string[] {
    const distinct = new Set(senders.filter((s): s is string => s !== undefined));
    if (distinct.size === 1) return this.convict(distinct);
    const copies = this.failed.get(index) ?? [];
    if (copies.length < MAX_COPIES && (this.failed.has(index) || this.failed.size < MAX_PIECES)) {
      copies.push({ blockHashes: blockHashes(blocks), senders });
      this.failed.set(index, copies);
    }
    return [];
  }

  /** The piece passed: convict the senders of every block that differed in an earlier failed copy. */
  piecePassed(index: number, blocks: readonly Buffer[]): string[] {
    const copies = this.failed.get(index);
    if (!copies) return [];
    this.failed.delete(index);
    const good = blockHashes(blocks);
    const liars = new Set<string>();
    for (const copy of copies) {
      copy.blockHashes.forEach((h, b) => {
        const sender = copy.senders[b];
        if (sender !== undefined && !h.equals(good[b]!)) liars.add(sender);
      });
    }
    return this.convict(liars);
  }

  /**
   * Blocks of a failed piece whose true hashes convicted their senders: the piece's copies kept
   * as evidence go (a later pass must not convict them twice). Returns the hosts banned now.
   */
  blocksConvicted(index: number, liars: Set<string>): string[] {
    this.failed.delete(index);
    return this.convict(liars);
  }

  /** Returns the ban keys (see hostKey) that are banned now. */
  private convict(ips: Set<string>): string[] {
    const newlyBanned: string[] = [];
    for (const ip of new Set([...ips].map(hostKey))) {
      const s = (this.strikes.get(ip) ?? 0) + 1;
      this.strikes.set(ip, s);
      if (s >= (webSeedOf(ip) !== undefined ? 1 : this.threshold) && !this.banned.has(ip)) {
        this.banned.add(ip);
        newlyBanned.push(ip);
      }
    }
    return newlyBanned;
  }
}

function blockHashes(blocks: readonly Buffer[]): Buffer[] {
  return blocks.map((b) => createHash('sha1').update(b).digest());
}
