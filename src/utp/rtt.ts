/**
 * Round-trip time and the retransmission timeout (RFC 6298's smoothed RTT and variance, as
 * libutp computes them), with exponential backoff while timeouts repeat. Only packets sent once
 * give samples (Karn's rule): an ACK of a resent packet could answer either copy.
 *
 * The floor is 500 ms (libtorrent's utp_min_timeout) rather than RFC 6298's 1 s, which allows
 * for TCP's delayed ACKs of up to 500 ms; a uTP receiver ACKs at the end of every read batch.
 */

/** The timeout before any sample (a SYN's), as libutp and libtorrent use. */
export const INITIAL_RTO_MS = 3000;
const MIN_RTO_MS = 500;
/** Backoff stops doubling here: a dead peer is detected by the number of timeouts instead. */
const MAX_RTO_MS = 60_000;

export class RttEstimator {
  /** Smoothed round-trip time, ms (0: no sample yet). */
  srtt = 0;
  variance = 0;
  /** The timeout for the next packet, ms, before backoff. */
  rto = INITIAL_RTO_MS;
  /** The timeout in force: rto, doubled at each consecutive timeout. */
  current = INITIAL_RTO_MS;

  /** A round trip of a packet sent once, ms. */
  sample(ms: number): void {
    if (this.srtt === 0) {
      this.srtt = ms;
      this.variance = ms / 2;
    } else {
      this.variance += (Math.abs(this.srtt - ms) - this.variance) / 4;
      this.srtt += (ms - this.srtt) / 8;
    }
    this.rto = Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, this.srtt + 4 * this.variance));
    this.current = this.rto;
  }

  /** Something was acknowledged: the backoff ends. */
  acknowledged(): void {
    this.current = this.rto;
  }

  /** A timeout fired: wait twice as long for the next. */
  backOff(): void {
    this.current = Math.min(MAX_RTO_MS, this.current * 2);
  }
}
