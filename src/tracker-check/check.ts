/** `checkTracker`: run the probe script against one tracker and judge what it saw. */
import type { TrackerUrl } from '../tracker/url.js';
import { judge } from './checks.js';
import { FAMILIES, type TrackerReport } from './report.js';
import { runScript, type ScriptOptions } from './script.js';

export async function checkTracker(url: TrackerUrl, o: ScriptOptions): Promise<TrackerReport> {
  const t0 = Date.now();
  const seen = await runScript(url, o);
  const rows = judge(seen);
  return {
    type: 'tracker-check',
    url: url.text,
    protocol: url.protocol,
    infoHash: seen.infoHash.toString('hex'),
    rows,
    requests: seen.requests,
    elapsedMs: Date.now() - t0,
    ok: !rows.some((r) => FAMILIES.some((f) => r.cells[f].verdict === 'fail')),
  };
}
