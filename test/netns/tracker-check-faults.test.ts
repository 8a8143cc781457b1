/**
 * tracker-check against trackers with one known fault each (test/support/fault-tracker.ts: the
 * built-in tracker behind a proxy that rewrites requests or replies, or answers by itself). Each
 * fault must fail exactly the row that names it, and nothing else may fail: other cells keep the
 * verdict the transparent proxy gets, or become skipped because they depend on the broken row.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CheckId, TrackerReport } from '../../src/tracker-check/report.js';
import { scrape } from '../../src/tracker/scrape.js';
import {
  acceptsLinkLocal, answersGarbage, ignoresStopped, neverAnswers, noPeers6, repliesFromAnotherPort, sixByteEntriesOverIpv6, slow,
  slowRedirectLoop, startFaultTracker, threeByteReplies, wrongTransactionId, type Fault, type FaultTracker,
} from '../support/fault-tracker.js';
import { privateHosts } from '../support/hosts.js';
import { netnsUnavailable } from '../support/netns.js';
import { ensureBuilt, removeDir, tempDir } from '../support/sixswarm.js';
import { BUILT_IN_HTTP, BUILT_IN_UDP, cellOf, failing, matrix, runCheck, show } from '../support/tracker-check.js';

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

async function check(fault: Fault, protocol: 'http' | 'udp', extra: string[] = []): Promise<{ code: number | null; r: TrackerReport; ms: number }> {
  dir = await tempDir('sixswarm-tcf-');
  wrap = await privateHosts(dir, ['127.0.0.1 dual.test', '::1 dual.test']);
  tracker = await startFaultTracker(fault);
  const url = protocol === 'udp' ? `udp://dual.test:${tracker.port}` : `http://dual.test:${tracker.port}/announce`;
  const t0 = Date.now();
  const { code, reports, stderr } = await runCheck([url, '--timeout', '2', ...extra], wrap);
  expect(reports, stderr).toHaveLength(1);
  return { code, r: reports[0]!, ms: Date.now() - t0 };
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

  it('UDP replies with a transaction id we never sent, or 3 bytes long: reachable fails saying what came', async () => {
    const { code, r } = await check(wrongTransactionId, 'udp');
    onlyThere(r, 'udp', ['reachable@4', 'reachable@6']);
    expect(cell(r, 'reachable', 6).evidence).toMatch(new RegExp(`^no reply to the connect request from \\[::1\\]:${tracker!.port} within 2 s \\(3 tries\\); came instead: 3 datagrams of 16 bytes from \\[::1\\]:${tracker!.port} with transaction id 0x[0-9a-f]{8}, which we never sent$`));
    expect(cell(r, 'reachable', 6).fix).toContain("the request's action and transaction id");
    expect(code).toBe(1);
    await tracker!.close();
    tracker = undefined;

    const short = await check(threeByteReplies, 'udp');
    onlyThere(short.r, 'udp', ['reachable@4', 'reachable@6']);
    expect(cell(short.r, 'reachable', 4).evidence).toMatch(/came instead: 3 datagrams of 3 bytes from 127\.0\.0\.1:\d+ \(too short for a BEP 15 reply/);
  });

  it('UDP replies from another port: recognised (the rest is judged on them), and that row fails', async () => {
    const { code, r } = await check(repliesFromAnotherPort, 'udp');
    onlyThere(r, 'udp', ['reply-source@4', 'reply-source@6']);
    expect(cell(r, 'reachable', 6).evidence).toMatch(new RegExp(`^UDP reply from \\[::1\\]:${tracker!.port} \\(from \\[::1\\]:\\d+\\) in \\d+ ms$`));
    expect(cell(r, 'reply-source', 6).evidence).toMatch(new RegExp(`^\\d+ replies came from \\[::1\\]:\\d+, not port ${tracker!.port} where the requests went: clients that take replies only from the address asked`));
    expect(cell(r, 'announce', 6).verdict).toBe('pass');
    expect(code).toBe(1);
  });

  it('a slow redirect loop ends within --timeout per request, not per hop (it took 32.6 s at --timeout 2)', async () => {
    const { code, r, ms } = await check(slowRedirectLoop(1500), 'http');
    console.info(`[tracker-check-faults] slow redirect loop at --timeout 2: ${ms} ms`);
    onlyThere(r, 'http', ['reachable@4', 'reachable@6']);
    expect(cell(r, 'reachable', 4).evidence).toMatch(/^no reply from 127\.0\.0\.1:\d+ within 2 s$/);
    expect(ms).toBeLessThan(8000);
    expect(code).toBe(1);
  });

  it('a slow tracker is cut at --tracker-timeout: what was judged stays, the rest says why, every peer is stopped', async () => {
    const { r, ms } = await check(slow(900), 'http', ['--tracker-timeout', '6']);
    console.info(`[tracker-check-faults] slow tracker (0.9 s a reply), --tracker-timeout 6: ${ms} ms, cut: ${r.cut}`);
    expect(r.cut, show(r)).toMatch(/^the 6 s bound per tracker ran out while /);
    expect(r.elapsedMs).toBeLessThan(6500);
    expect(matrix(r).announce).toEqual({ 4: 'pass', 6: 'pass' });
    expect(cell(r, 'stopped', 4)).toMatchObject({ verdict: 'skipped', evidence: expect.stringMatching(/^not judged: the 6 s bound per tracker ran out while /) });
    expect(failing(r), show(r)).toEqual([]);
    // Every peer the check announced was stopped, within the bound.
    const counts = await scrape(`http://127.0.0.1:${tracker!.port}/announce`, [Buffer.from(r.infoHash, 'hex')], { timeoutMs: 3000 });
    expect(counts.get(r.infoHash)).toMatchObject({ complete: 0, incomplete: 0 });
  });

  it('--requests bounds the requests in flight to one tracker, all its addresses together', async () => {
    const one = await check(slow(150), 'http', ['--requests', '1']);
    expect(failing(one.r), show(one.r)).toEqual([]);
    expect(tracker!.maxInFlight()).toBe(1);
    await tracker!.close();
    tracker = undefined;
    const four = await check(slow(150), 'http');
    expect(failing(four.r), show(four.r)).toEqual([]);
    expect(tracker!.maxInFlight()).toBe(4); // the default; the stop step has 8 peers to stop at once
    console.info(`[tracker-check-faults] slow tracker (0.15 s a reply): --requests 1 ${one.ms} ms, --requests 4 ${four.ms} ms`);
  });
});
