/**
 * tracker-check against trackers with one known fault each (test/support/fault-tracker.ts: the
 * built-in tracker behind a proxy that rewrites requests or replies, or answers by itself). Each
 * fault must fail exactly the row that names it, and nothing else may fail: other cells keep the
 * verdict the transparent proxy gets, or become skipped because they depend on the broken row.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CheckId, TrackerReport } from '../src/tracker-check/report.js';
import {
  acceptsLinkLocal, answersGarbage, ignoresStopped, neverAnswers, noPeers6, sixByteEntriesOverIpv6, startFaultTracker,
  type Fault, type FaultTracker,
} from './support/fault-tracker.js';
import { privateHosts } from './support/hosts.js';
import { netnsUnavailable } from './support/netns.js';
import { ensureBuilt, removeDir, tempDir } from './support/sixswarm.js';
import { BUILT_IN_HTTP, BUILT_IN_UDP, cellOf, failing, matrix, runCheck, show } from './support/tracker-check.js';

const unavailable = netnsUnavailable(); // root, for the private /etc/hosts
let dir: string | undefined;
let tracker: FaultTracker | undefined;
let wrap: string[] = [];

beforeAll(ensureBuilt);
afterEach(async () => {
  await tracker?.close();
  tracker = undefined;
  await removeDir(dir);
  dir = undefined;
});

async function check(fault: Fault, protocol: 'http' | 'udp'): Promise<{ code: number | null; r: TrackerReport }> {
  dir = await tempDir('sixswarm-tcf-');
  wrap = await privateHosts(dir, ['127.0.0.1 dual.test', '::1 dual.test']);
  tracker = await startFaultTracker(fault);
  const url = protocol === 'udp' ? `udp://dual.test:${tracker.port}` : `http://dual.test:${tracker.port}/announce`;
  const { code, reports, stderr } = await runCheck([url, '--timeout', '2'], wrap);
  expect(reports, stderr).toHaveLength(1);
  return { code, r: reports[0]! };
}

/** `expected` cells fail (and say how to fix it); every other cell is as without the fault, or skipped. */
function onlyThere(r: TrackerReport, protocol: 'http' | 'udp', expected: string[]): void {
  const baseline = protocol === 'udp' ? BUILT_IN_UDP : BUILT_IN_HTTP;
  expect(failing(r), show(r)).toEqual(expected);
  const got = matrix(r);
  for (const row of r.rows) {
    for (const f of [4, 6] as const) {
      if (expected.includes(`${row.id}@${f}`)) {
        expect(cellOf(r, row.id, f).fix, show(r)).toMatch(/^\S.{30,}/);
        continue;
      }
      expect([baseline[row.id][f], 'skipped'], `${row.id}@${f}\n${show(r)}`).toContain(got[row.id][f]);
    }
  }
}

const cell = (r: TrackerReport, id: CheckId, f: 4 | 6) => cellOf(r, id, f);

describe.skipIf(unavailable !== undefined)('tracker-check: each fault in its own row', () => {
  it('the transparent proxy gets the built-in matrix (the baseline)', async () => {
    for (const protocol of ['http', 'udp'] as const) {
      const { code, r } = await check({}, protocol);
      expect(matrix(r), show(r)).toEqual(protocol === 'udp' ? BUILT_IN_UDP : BUILT_IN_HTTP);
      expect(code).toBe(0);
      await tracker!.close();
      tracker = undefined;
    }
  });

  it('UDP over IPv6 with 6-byte entries (the bittorrent-tracker bug)', async () => {
    const { code, r } = await check(sixByteEntriesOverIpv6, 'udp');
    onlyThere(r, 'udp', ['udp-entries@6', 'peers@6']);
    expect(cell(r, 'udp-entries', 6).evidence).toMatch(/^\d+ bytes of 6-byte entries over IPv6 \(0\.0\.0\.1:\d+/);
    // No IPv6 peer reaches the client at all: the peers row fails too, naming the 6-byte entries.
    expect(cell(r, 'peers', 6).evidence).toMatch(/^no IPv6 peer: the IPv6 seed \(port \d+\) is missing, the reply holds 6-byte IPv4 entries \(0\.0\.0\.1:\d+/);
    expect(code).toBe(1);
  });

  it('no peers6', async () => {
    const { code, r } = await check(noPeers6, 'http');
    onlyThere(r, 'http', ['peers@6']);
    expect(cell(r, 'peers', 6).evidence).toBe('no peers6 in the reply to an IPv6 announcer');
    expect(cell(r, 'mixed', 4)).toMatchObject({ verdict: 'skipped', evidence: 'no IPv6 peers are handed out at all (see peers)' });
    expect(code).toBe(1);
  });

  it('accepts a link-local ipv6= (and ipv4=)', async () => {
    const { code, r } = await check(acceptsLinkLocal(), 'http');
    onlyThere(r, 'http', ['link-local@4', 'link-local@6']);
    expect(cell(r, 'link-local', 4).evidence).toMatch(/^the link-local ipv6=fe80::[0-9a-f:]+ was stored and handed out$/);
    expect(cell(r, 'link-local', 6).evidence).toMatch(/^the link-local ipv4=169\.254\.\d+\.\d+ was stored and handed out$/);
    expect(code).toBe(1);
  });

  it('never answers (HTTP and UDP)', async () => {
    for (const protocol of ['http', 'udp'] as const) {
      const { code, r } = await check(neverAnswers, protocol);
      onlyThere(r, protocol, ['reachable@4', 'reachable@6']);
      expect(cell(r, 'reachable', 6).evidence).toMatch(new RegExp(`^no reply from \\[::1\\]:${tracker!.port} within 2 s`));
      expect(code).toBe(1);
      await tracker!.close();
      tracker = undefined;
    }
  });

  it('answers garbage (HTTP and UDP)', async () => {
    for (const protocol of ['http', 'udp'] as const) {
      const { code, r } = await check(answersGarbage, protocol);
      onlyThere(r, protocol, ['announce@4', 'announce@6']);
      expect(cell(r, 'announce', 4).evidence).toMatch(protocol === 'udp' ? /reply has action 7, expected 0/ : /not valid bencode/);
      expect(code).toBe(1);
      await tracker!.close();
      tracker = undefined;
    }
  });

  it('ignores stopped (HTTP and UDP)', async () => {
    for (const protocol of ['http', 'udp'] as const) {
      const { code, r } = await check(ignoresStopped, protocol);
      onlyThere(r, protocol, ['stopped@4', 'stopped@6']);
      expect(cell(r, 'stopped', 4).evidence).toMatch(/^\d of our \d peers still listed after event=stopped \(seed, /);
      expect(code).toBe(1);
      await tracker!.close();
      tracker = undefined;
    }
  });
});
