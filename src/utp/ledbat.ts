/**
 * LEDBAT congestion control with the 100 ms target delay (BEP 29, libutp): below the target the
 * congestion window grows in proportion to how far under it the measured queuing delay is and to
 * the share of the window each ACK covers, at most 3000 bytes per round trip (libutp's gain).
 * Above the target it shrinks in proportion to how far over it is, by that fraction of the window
 * per round trip and at most half (LEDBAT++'s multiplicative decrease, draft-irtf-iccrg-ledbat-
 * plus-plus): libutp's linear decrease of a few kilobytes per round trip takes tens of seconds to
 * give a TCP flow its link back, the decrease takes a few round trips. Slow start doubles the
 * window per round trip (as libtorrent's) until the delay nears the target; a loss halves it, at
 * most once per 100 ms; a timeout starts over from one packet.
 */

/** The queuing delay LEDBAT aims at, microseconds (BEP 29 and libutp: 100 ms). */
export const TARGET_DELAY_US = 100_000;
/** Most the window grows in one round trip in congestion avoidance (libutp's MAX_CWND_INCREASE_BYTES_PER_RTT). */
const GAIN_BYTES_PER_RTT = 3000;
/** The window never shrinks below this many bytes (libutp's MIN_WINDOW_SIZE: a zero window could never reopen). */
const MIN_WINDOW = 10;
/** A loss halves the window at most this often. */
const DECAY_INTERVAL_MS = 100;
/**
 * If the window was not full for this long, the sender is limited by something else (the
 * application, a rate limit): the window stops growing, or it would grow without bound.
 */
const NOT_LIMITED_MS = 1000;

export class Ledbat {
  /** The congestion window, bytes. */
  window: number;
  slowStart = true;
  private ssthresh: number;
  private lastDecay = -Infinity;
  private lastFull = -Infinity;

  constructor(
    packetSize: number,
    /** The largest window allowed (the send buffer). */
    private readonly maxWindow: number,
  ) {
    this.window = packetSize;
    this.ssthresh = maxWindow;
  }

  /** The sender wanted to send more than the window allowed. */
  full(nowMs: number): void {
    this.lastFull = nowMs;
  }

  /**
   * `acked` bytes were newly acknowledged, with `delayUs` the current queuing delay towards the
   * peer (already capped by the lowest round trip of the ACKed packets).
   */
  acknowledged(acked: number, delayUs: number, nowMs: number): void {
    if (delayUs >= TARGET_DELAY_US) {
      if (this.slowStart) {
        this.slowStart = false;
        this.ssthresh = this.window;
      }
      // This ACK's share of a round trip's decrease: (delay / target - 1) of the window, at most half.
      const over = delayUs / TARGET_DELAY_US - 1;
      this.window -= Math.min(acked / 2, acked * over);
    } else if (nowMs - this.lastFull <= NOT_LIMITED_MS) {
      if (this.slowStart) {
        this.window += acked;
        if (this.window > this.ssthresh || delayUs > TARGET_DELAY_US * 0.9) {
          // Past the threshold, or nearing the target: LEDBAT alone from here.
          this.slowStart = false;
          this.ssthresh = this.window;
        }
      } else {
        const windowFactor = Math.min(acked, this.window) / Math.max(this.window, acked);
        this.window += GAIN_BYTES_PER_RTT * windowFactor * ((TARGET_DELAY_US - delayUs) / TARGET_DELAY_US);
      }
    }
    this.window = Math.min(this.maxWindow, Math.max(MIN_WINDOW, this.window));
  }

  /** A packet was lost (fast retransmit): halve the window, once per DECAY_INTERVAL_MS. */
  lost(nowMs: number): void {
    if (nowMs - this.lastDecay < DECAY_INTERVAL_MS) return;
    this.lastDecay = nowMs;
    this.window = Math.max(MIN_WINDOW, Math.floor(this.window / 2));
    this.slowStart = false;
    this.ssthresh = this.window;
  }

  /** The retransmission timer fired with packets in flight: start over from one packet in slow start. */
  timedOut(packetSize: number): void {
    this.ssthresh = Math.max(Math.floor(this.window / 2), 2 * packetSize);
    this.window = packetSize;
    this.slowStart = true;
  }
}
