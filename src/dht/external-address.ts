/**
 * Our IPv4 address as other nodes see it, from the "ip" they put in their responses (BEP 42):
 * one vote per /24 of responders, so a host (or a /24) that lies counts once. An address wins
 * with at least MIN_VOTES votes and two thirds of all votes; after ROUND votes the count starts
 * over, so a changed address is learned too. Bounded whatever is sent.
 */
import { net24 } from './scope.js';

const MIN_VOTES = 3;
const ROUND = 32;

export class ExternalAddress {
  private readonly votes = new Map<string, number>();
  private readonly voters = new Set<string>();
  private current: string | undefined;

  /** The address most nodes agree on, if any. */
  get address(): string | undefined {
    return this.current;
  }

  /** `voter` (a node that answered us) says we are `address`; returns true when that changed the agreed address. */
  add(address: string, voter: string): boolean {
    const net = net24(voter);
    if (this.voters.has(net)) return false;
    if (this.voters.size >= ROUND) {
      this.voters.clear();
      this.votes.clear();
    }
    this.voters.add(net);
    const n = (this.votes.get(address) ?? 0) + 1;
    this.votes.set(address, n);
    if (n < MIN_VOTES || n * 3 < this.voters.size * 2 || address === this.current) return false;
    this.current = address;
    return true;
  }
}
