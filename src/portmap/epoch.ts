/**
 * A gateway's epoch ("seconds since start of epoch"): every PCP and NAT-PMP reply carries it,
 * and a value that did not advance with our own clock means the gateway rebooted or lost its
 * mappings, so every mapping must be requested again.
 *
 * PCP (RFC 6887 section 8.5): state is lost when the epoch went back by more than a second, or
 * when the server's and our elapsed times disagree by more than 2 s plus 1/16.
 * NAT-PMP (RFC 6886 section 3.6): when the epoch is more than 2 s below the previous one plus
 * 7/8 of our elapsed time.
 */
export type EpochRule = 'pcp' | 'natpmp';

export class EpochClock {
  private last?: { epoch: number; at: number };

  constructor(private readonly rule: EpochRule) {}

  /** Feeds an epoch received at local time `nowMs`; true when it shows the gateway lost its state. */
  observe(epoch: number, nowMs: number): boolean {
    const prev = this.last;
    this.last = { epoch, at: nowMs };
    if (!prev) return false;
    const client = Math.max(0, (nowMs - prev.at) / 1000);
    if (this.rule === 'natpmp') return epoch < prev.epoch + (client * 7) / 8 - 2;
    if (epoch + 1 < prev.epoch) return true;
    const server = epoch - prev.epoch;
    return client + 2 < server - server / 16 || server + 2 < client - client / 16;
  }

  /** Forget: the next epoch starts a new history (another gateway). */
  reset(): void {
    this.last = undefined;
  }
}
