/**
 * Checking many trackers: at most `parallel` at once, each within its own time bound, the whole
 * run within a total bound. A tracker whose turn comes when the total bound leaves too little
 * time is not started (and reported as not checked); an interrupt stops the running checks (each
 * stops its peers) and starts no more.
 */
import type { TrackerUrl } from '../tracker/url.js';
import { checkTracker } from './check.js';
import { Limiter } from './limiter.js';
import type { TrackerReport } from './report.js';
import type { ScriptOptions } from './script.js';
import type { ListEntry } from './summary.js';

export interface BatchOptions extends Omit<ScriptOptions, 'onStep' | 'deadline' | 'signal'> {
  /** Trackers checked at once (one when `infoHash` is given). */
  parallel: number;
  /** The bound for the whole check of one tracker. */
  trackerBoundMs: number;
  /** The bound for the whole run; undefined: none. */
  totalBoundMs?: number;
  /** Aborted: no tracker starts any more, running ones stop (their peers are stopped). */
  signal?: AbortSignal;
  onStart?(i: number): void;
  onStep?(i: number, step: string): void;
  onDone?(i: number, r: TrackerReport): void;
}

const secs = (ms: number) => `${Math.round(ms / 1000)} s`;

/** Every URL checked (or not, and why), in list order. */
export async function checkAll(urls: readonly TrackerUrl[], o: BatchOptions): Promise<ListEntry[]> {
  const started = Date.now();
  const end = o.totalBoundMs !== undefined ? started + o.totalBoundMs : Infinity;
  // One info hash for every tracker (--info-hash): two checks at once would see each other's
  // peers in their counts whenever their names lead to one tracker, so they run one at a time.
  const slots = new Limiter(o.infoHash ? 1 : o.parallel);
  const out: ListEntry[] = new Array(urls.length);
  // Less than this left: one request and the stop of its peer would not fit.
  const least = 2 * o.timeoutMs;
  await Promise.all(
    urls.map((url, i) =>
      slots.run(async () => {
        if (o.signal?.aborted) {
          out[i] = { url: url.text, notChecked: 'interrupted before its turn' };
          return;
        }
        const now = Date.now();
        if (end - now < least) {
          out[i] = { url: url.text, notChecked: `the run's ${secs(o.totalBoundMs!)} bound ran out before its turn` };
          return;
        }
        const own = now + o.trackerBoundMs;
        const deadline = own <= end
          ? { at: own, what: `the ${secs(o.trackerBoundMs)} bound per tracker` }
          : { at: end, what: `the run's ${secs(o.totalBoundMs!)} bound` };
        o.onStart?.(i);
        const report = await checkTracker(url, {
          ...o,
          deadline,
          onStep: (s) => o.onStep?.(i, s),
          ...(o.signal ? { signal: o.signal } : {}),
        });
        out[i] = { url: url.text, report };
        o.onDone?.(i, report);
      }),
    ),
  );
  return out;
}
