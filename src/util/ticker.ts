/**
 * One timer per period for the whole process. Each torrent ticks every second (and saves its resume
 * state every 30 s); with a timer each, a session of a thousand torrents woke the event loop about
 * 500 times a second while idle (2.5% of a core in epoll and timer bookkeeping, for no work). A
 * shared ticker wakes it once per period and calls every subscriber in turn.
 */
type Tick = (now: number) => void;

class Ticker {
  private readonly subscribers = new Set<Tick>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly periodMs: number) {}

  add(tick: Tick): () => void {
    // A function object of its own: subscribing one function twice still gives two ticks.
    const entry: Tick = (now) => tick(now);
    this.subscribers.add(entry);
    if (!this.timer) {
      this.timer = setInterval(() => this.fire(), this.periodMs);
      // Like the timers it replaces: a subscriber never keeps the process alive.
      this.timer.unref();
    }
    return () => {
      this.subscribers.delete(entry);
      if (this.subscribers.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private fire(): void {
    const now = Date.now();
    // A snapshot: a subscriber added or removed by a tick takes effect from the next period.
    for (const tick of [...this.subscribers]) {
      try {
        tick(now);
      } catch (e) {
        // As from a timer of its own: the error is not swallowed, but the other subscribers still tick.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}

const tickers = new Map<number, Ticker>();

/** Calls `tick` every `periodMs` from the process's one timer of that period; returns the call that stops it. */
export function every(periodMs: number, tick: Tick): () => void {
  let ticker = tickers.get(periodMs);
  if (!ticker) tickers.set(periodMs, (ticker = new Ticker(periodMs)));
  return ticker.add(tick);
}
