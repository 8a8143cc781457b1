/** `checkTracker`: run the probe script against one tracker and judge what it saw, per address and per family. */
import type { Family } from '../net/address.js';
import type { TrackerUrl } from '../tracker/url.js';
import { judgeBep34 } from './bep34-check.js';
import { judge } from './checks.js';
import type { Observations } from './observations.js';
import { FAMILIES, type CheckRow, type Column, type FamilySummary, type TrackerReport } from './report.js';
import { runScript, type ScriptOptions } from './script.js';

export async function checkTracker(url: TrackerUrl, o: ScriptOptions): Promise<TrackerReport> {
  const t0 = Date.now();
  const seen = await runScript(url, o);
  const rows = judge(seen);
  const columns = columnsOf(seen);
  const bep34 = judgeBep34(seen);
  return {
    type: 'tracker-check',
    url: url.text,
    protocol: url.protocol,
    infoHash: seen.infoHash.toString('hex'),
    columns,
    rows,
    families: FAMILIES.map((f) => summarise(f, seen, columns, rows)),
    bep34,
    requests: seen.requests,
    elapsedMs: Date.now() - t0,
    ...(seen.cut ? { cut: seen.cut } : {}),
    ok: !rows.some((r) => r.cells.some((c) => c.verdict === 'fail')) && bep34.verdict !== 'fail',
  };
}

function columnsOf(o: Observations): Column[] {
  return o.lanes.map((l) => {
    const several = o.lanes.filter((x) => x.family === l.family).length > 1;
    return { family: l.family, ...(l.address ? { address: l.address } : {}), label: several ? `IPv${l.family} ${l.address}` : `IPv${l.family}` };
  });
}

function summarise(f: Family, o: Observations, columns: Column[], rows: CheckRow[]): FamilySummary {
  const lanes = o.lanes.filter((l) => l.family === f);
  const mine = columns.map((c, i) => (c.family === f ? i : -1)).filter((i) => i >= 0);
  const cellsOf = (id: string) => mine.map((i) => rows.find((r) => r.id === id)!.cells[i]!);
  const failures = rows.reduce((n, r) => n + mine.filter((i) => r.cells[i]!.verdict === 'fail').length, 0);
  const rec = f === 4 ? 'A' : 'AAAA';
  const base = { family: f, addresses: o.resolved[f].length, failures };
  const notTried = lanes[0]?.notTried;
  if (notTried) return { ...base, verdict: notTried.verdict, probed: 0, answering: 0, text: notTried.reason };
  const probed = lanes.filter((l) => l.address).length;
  if (probed === 0) return { ...base, verdict: 'fail', probed: 0, answering: 0, text: cellsOf('dns')[0]?.evidence ?? `no ${rec} record` };
  const answering = cellsOf('reachable').filter((c) => c.verdict === 'pass').length;
  const reach = cellsOf('reachable').every((c) => c.verdict === 'skipped') ? 'not probed' : undefined;
  const what = o.url.literalFamily ? 'the address' : probed === 1 && base.addresses === 1 ? `the ${rec} address` : `${probed === base.addresses ? '' : `${probed} probed `}${rec} addresses`;
  const answers = reach ?? (probed === 1 ? `${what} ${answering === 1 ? 'answers' : 'does not answer'}` : `${answering} of ${probed} ${what} answer`);
  const more = base.addresses > probed ? ` (${base.addresses} in all)` : '';
  const checks = failures === 0 ? 'no check failed' : `${failures} check${failures === 1 ? '' : 's'} failed`;
  return { ...base, verdict: failures === 0 ? 'pass' : 'fail', probed, answering, text: `${answers}${more}; ${checks}` };
}
