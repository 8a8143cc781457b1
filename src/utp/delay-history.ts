/**
 * One direction's one-way delay, as LEDBAT measures it: raw samples are one clock minus the
 * other (meaningless alone), so the lowest sample seen stands for "no queue" (the base delay)
 * and each sample's distance above it is the queuing delay. The base is the minimum over the
 * last 13 minutes, kept per minute, so that clock drift between the two hosts cannot pin it to
 * a stale value for ever (libutp keeps the same history). All values wrap at 2^32.
 */
import { u32Before } from './packet.js';

/** Minutes of base-delay history (libutp's DELAY_BASE_HISTORY). */
const BASE_MINUTES = 13;
/** The current delay is the lowest of the last few samples, which filters one-off spikes. */
const RECENT_SAMPLES = 3;
const MINUTE_MS = 60_000;

export class DelayHistory {
  /** The lowest sample of the history: the delay of an empty queue plus the clock offset. */
  base = 0;
  initialized = false;
  private readonly minutes = new Uint32Array(BASE_MINUTES);
  private minute = 0;
  private minuteStarted = 0;
  private readonly recent = new Uint32Array(RECENT_SAMPLES);
  private recentAt = 0;

  /** Takes a raw sample (microseconds, wrapping); returns its queuing delay above the base. */
  add(sample: number, nowMs: number): number {
    sample >>>= 0;
    if (!this.initialized) {
      this.minutes.fill(sample);
      this.base = sample;
      this.minuteStarted = nowMs;
      this.initialized = true;
    }
    if (u32Before(sample, this.minutes[this.minute]!)) this.minutes[this.minute] = sample;
    if (u32Before(sample, this.base)) this.base = sample;
    const delay = (sample - this.base) >>> 0;
    this.recent[this.recentAt] = delay;
    this.recentAt = (this.recentAt + 1) % RECENT_SAMPLES;
    if (nowMs - this.minuteStarted > MINUTE_MS) this.step(sample, nowMs);
    return delay;
  }

  /** The current queuing delay: the lowest of the last few samples (0 before any). */
  get value(): number {
    let v = 0xffffffff;
    for (const d of this.recent) if (d < v) v = d;
    return this.initialized ? v : 0;
  }

  /** Move the base (and its history) up by `offset` microseconds: the other side's clock drifted. */
  shift(offset: number): void {
    for (let i = 0; i < BASE_MINUTES; i++) this.minutes[i] = (this.minutes[i]! + offset) >>> 0;
    this.base = (this.base + offset) >>> 0;
    for (let i = 0; i < RECENT_SAMPLES; i++) this.recent[i] = Math.max(0, this.recent[i]! - offset);
  }

  /** A new minute: the oldest minute's minimum drops out, the base is the minimum of the rest. */
  private step(sample: number, nowMs: number): void {
    this.minuteStarted = nowMs;
    this.minute = (this.minute + 1) % BASE_MINUTES;
    this.minutes[this.minute] = sample;
    let base = this.minutes[0]!;
    for (const m of this.minutes) if (u32Before(m, base)) base = m;
    this.base = base;
  }
}
