/**
 * bench/utp --cross-traffic: a bulk TCP flow (bench/lib/bulk-tcp.js) from the shaped path's cross
 * host to the leecher's host, through the same bottleneck as the transfer, for a window in the
 * middle of each transfer. What each got of the link in that window is read from the path's
 * counters (IP bytes reaching the leecher's host, by sender). LEDBAT should yield to the TCP flow;
 * a TCP transfer shares with it.
 */
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BenchProcess } from './processes.js';

const BULK = join(dirname(fileURLToPath(import.meta.url)), 'bulk-tcp.js');
const PORT = 5201;
/** The transfer runs alone this long after its first connection (past slow start) before the flow starts. */
export const CROSS_LEAD_MS = 5000;
/** The flow's own start (slow start, filling the queue) is left out of the measurement. */
export const CROSS_SETTLE_MS = 2000;

export class CrossTraffic {
  /**
   * @param {import('./shaped-path.js').ShapedPath} path  built with `cross`
   * @param {{ family: number, seconds: number, logDir: string }} o
   */
  constructor(path, o) {
    this.path = path;
    this.o = o;
    this.sink = undefined;
  }

  /** The sink on the leecher's host; runs until the benchmark stops every process. */
  async start() {
    const host = this.path.address('leecher', this.o.family);
    this.sink = new BenchProcess('cross TCP sink', this.path.exec('leecher', [process.execPath, BULK, 'sink', host, String(PORT)]), { logBase: join(this.o.logDir, 'cross-sink') });
    await this.sink.waitFor((e) => e.event === 'listening', 30_000, '"listening" event');
  }

  /**
   * One transfer's window: call `connected(t)` at its first connection (epoch ms), `finish(doneAt)`
   * once it has ended. finish resolves with the window's figures: when the flow ran, the share of
   * the link the transfer and the flow got (bytes/s over the link's), and whether the transfer
   * lasted the whole window.
   */
  window(dir) {
    const stop = new AbortController();
    let running;
    const measure = async (connectedAt) => {
      await sleep(Math.max(0, connectedAt + CROSS_LEAD_MS - Date.now()), undefined, { signal: stop.signal });
      const source = new BenchProcess('cross TCP source', this.path.exec('cross', [process.execPath, BULK, 'source', this.path.address('leecher', this.o.family), String(PORT)]), { logBase: join(dir, 'cross-source') });
      try {
        await source.waitFor((e) => e.event === 'connected', 30_000, '"connected" event');
        const from = Date.now();
        await sleep(CROSS_SETTLE_MS, undefined, { signal: stop.signal });
        const a = await this.path.counters();
        await sleep(this.o.seconds * 1000 - CROSS_SETTLE_MS, undefined, { signal: stop.signal }).catch(() => {});
        const b = await this.path.counters();
        const link = this.path.bytesPerSecond;
        const seconds = (b.t - a.t) / 1000;
        return { from, measuredFrom: a.t, to: b.t, transferShare: (b.other - a.other) / seconds / link, tcpShare: (b.cross - a.cross) / seconds / link };
      } finally {
        await source.stop();
      }
    };
    return {
      connected: (t) => {
        running = measure(t).catch((e) => (e.name === 'AbortError' ? undefined : { error: e.message }));
      },
      finish: async (doneAt) => {
        stop.abort();
        const r = await running;
        if (r && !r.error) r.complete = doneAt >= r.to;
        return r;
      },
    };
  }
}
