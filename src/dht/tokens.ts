/**
 * announce_peer tokens (BEP 5): a hash of the querier's IP and a secret that changes every five
 * minutes; a token is accepted while its secret is the current or the previous one, so it lives
 * five to ten minutes and costs us no state per querier.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ipToBytes } from '../net/address.js';

const TOKEN_BYTES = 8;

export class Tokens {
  private current = randomBytes(16);
  private previous = randomBytes(16);
  private rotatedAt: number;

  constructor(
    private readonly rotateMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.rotatedAt = now();
  }

  private rotate(): void {
    // Rotation happens lazily, on use; after two periods of silence both secrets are stale.
    const periods = Math.floor((this.now() - this.rotatedAt) / this.rotateMs);
    if (periods <= 0) return;
    this.previous = periods === 1 ? this.current : randomBytes(16);
    this.current = randomBytes(16);
    this.rotatedAt += periods * this.rotateMs;
  }

  private hash(secret: Buffer, ip: string): Buffer {
    return createHash('sha1').update(secret).update(ipToBytes(ip) ?? Buffer.from(ip)).digest().subarray(0, TOKEN_BYTES);
  }

  issue(ip: string): Buffer {
    this.rotate();
    return this.hash(this.current, ip);
  }

  valid(ip: string, token: Buffer): boolean {
    this.rotate();
    return token.length === TOKEN_BYTES && (token.equals(this.hash(this.current, ip)) || token.equals(this.hash(this.previous, ip)));
  }
}
