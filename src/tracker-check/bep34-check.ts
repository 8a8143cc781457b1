/**
 * The BEP 34 verdict for a tracker's name: whether its DNS TXT records, if it has any, say it
 * runs a tracker on this URL's protocol and port, and whether the other ports they list answer.
 * Pure: the lookup and the probes were done by script.ts.
 */
import type { Bep34Entry } from '../tracker/bep34.js';
import { printable } from '../util/sanitize.js';
import type { Observations } from './observations.js';
import type { Bep34Report } from './report.js';

const show = (e: Bep34Entry) => `${e.protocol.toUpperCase()}:${e.port}`;
const EXAMPLE = '"BITTORRENT UDP:6969 TCP:80" (in order of preference)';

export function judgeBep34(o: Observations): Bep34Report {
  const records = o.bep34?.ok ? o.bep34.value.lookup.records : [];
  const cell = (verdict: Bep34Report['verdict'], evidence: string, fix?: string): Bep34Report => ({ verdict, evidence, ...(fix ? { fix } : {}), records });
  if (o.url.literalFamily) return cell('n/a', 'the URL holds an IP address: no DNS');
  if (!o.bep34) return cell('skipped', o.cut ? `not judged: ${o.cut}` : 'not judged');
  if (!o.bep34.ok) return cell('skipped', `no TXT answer: ${printable(o.bep34.error.message, 160)}`);
  const { lookup, probes } = o.bep34.value;
  if (records.length === 0) return cell('n/a', 'no BITTORRENT TXT record (BEP 34 is optional)');
  const policy = lookup.policy;
  if (!policy) return cell('fail', `"${records[0]}" is no BEP 34 record: ${lookup.malformed[0]}`, `write it as ${EXAMPLE}, or "BITTORRENT DENY"`);
  const own: Bep34Entry = { protocol: o.url.protocol === 'udp' ? 'udp' : 'tcp', port: o.url.port };
  const answering = o.lanes.filter((l) => l.reached).map((l) => l.address!);
  if (policy.deny) {
    if (answering.length === 0) return cell('pass', `"${records[0]}": the name runs no tracker, and none answered`);
    return cell(
      'fail',
      `"${records[0]}" says the name runs no tracker, yet one answers at ${answering[0]}: clients that read BEP 34 will not use it`,
      `replace the DENY record with the tracker's ports, e.g. "BITTORRENT ${show(own)}"`,
    );
  }
  const listed = policy.entries.map(show).join(' ');
  if (!policy.entries.some((e) => e.protocol === own.protocol && e.port === own.port)) {
    return cell(
      'fail',
      `"${records[0]}" does not list ${show(own)}, this URL's: clients that read BEP 34 will not use it`,
      `add ${show(own)} to the record: "BITTORRENT ${listed} ${show(own)}"`,
    );
  }
  const dead = probes.find((p) => !p.outcome.ok);
  if (dead && !dead.outcome.ok) {
    return cell(
      'fail',
      `lists ${show(dead.entry)}, but ${printable(dead.outcome.error.message, 160)}`,
      `make the tracker answer on ${show(dead.entry)} at every address of ${o.url.host}, or remove ${show(dead.entry)} from the record`,
    );
  }
  const others = probes.length > 0 ? `; ${probes.map((p) => `${show(p.entry)} answers`).join(', ')}` : '';
  return cell('pass', `"${records[0]}" lists ${show(own)}, this URL's${others}`);
}
