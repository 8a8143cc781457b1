/**
 * tracker-check against real trackers on both families, in a namespace of the test's own whose
 * dummy interface holds global (documentation-range) addresses, so that the checker has its own
 * global address of each family to send as ipv6= / ipv4=:
 *
 *   - the npm bittorrent-tracker server (HTTP and UDP on the wildcard addresses): its UDP server
 *     answers IPv6 clients with 6-byte IPv4 entries, its HTTP scrape writes the info-hash keys
 *     UTF-8-encoded, it never answers a malformed UDP request or a wrong connection id, and it
 *     ignores ipv6= / ipv4= (a policy);
 *   - sixswarm's own tracker in its documented default (`sixswarm tracker`: 0.0.0.0 and ::,
 *     ipv6= / ipv4= not stored): it passes its own checker, exit 0.
 *
 *     namespace "real": lo, d0 192.0.2.10/24, 2001:db8:10::10/64 (a veth whose other end lies idle
 *     in a namespace "stub"); the trackers and the checker run in "real", the checker with a
 *     private hosts file: bt.test and own.test -> 192.0.2.10, 2001:db8:10::10
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrackerReport } from '../../src/tracker-check/report.js';
import { startBittorrentTracker } from '../support/bittorrent-tracker.js';
import { privateHosts } from '../support/hosts.js';
import { createNetns, netnsUnavailable, veth, type Netns } from '../support/netns.js';
import { builtInTracker, ensureBuilt, removeDir, stopAll, tempDir } from '../support/sixswarm.js';
import { cellOf, failing, matrix, runCheck, show } from '../support/tracker-check.js';

const unavailable = netnsUnavailable();
let ns: Netns | undefined;
let stub: Netns | undefined;
let dir: string | undefined;
let wrap: string[] = [];
let btPort = 0;
let ownPort = 0;

beforeAll(async () => {
  ensureBuilt();
  if (unavailable) return;
  ns = await createNetns('real');
  stub = await createNetns('stub');
  await veth(ns, 'd0', stub, 'eth0');
  await ns.ip(['addr', 'add', '192.0.2.10/24', 'dev', 'd0']);
  await ns.ip(['addr', 'add', '2001:db8:10::10/64', 'dev', 'd0', 'nodad']);
  dir = await tempDir('sixswarm-tcr-');
  const inNs = ['ip', 'netns', 'exec', ns.name];
  wrap = [...inNs, ...(await privateHosts(dir, ['192.0.2.10 bt.test own.test', '2001:db8:10::10 bt.test own.test']))];
  btPort = (await startBittorrentTracker(6969, inNs)).port;
  ownPort = (await builtInTracker([], { wrap: inNs })).port;
}, 60_000);

afterAll(async () => {
  await stopAll();
  await ns?.destroy();
  await stub?.destroy();
  await removeDir(dir);
});

describe.skipIf(unavailable !== undefined)('tracker-check against real trackers on both families', () => {
  it('bittorrent-tracker: each of its faults in its own row, named for what it is', async () => {
    const { code, reports, stderr } = await runCheck([`http://bt.test:${btPort}/announce`, `udp://bt.test:${btPort}`, '--timeout', '2'], wrap, 90_000);
    expect(reports, stderr).toHaveLength(2);
    const [h, u] = reports as [TrackerReport, TrackerReport];
    expect(code).toBe(1);

    // HTTP: the scrape reply has an entry for our hash, under the hash's UTF-8 encoding.
    expect(failing(h), show(h)).toEqual(['scrape@4', 'scrape@6']);
    expect(cellOf(h, 'scrape', 6)).toMatchObject({
      evidence: expect.stringMatching(/^the "files" key for our hash is UTF-8-encoded/),
      fix: expect.stringContaining('20 raw bytes'),
    });
    expect(cellOf(h, 'scrape', 6).fix).not.toContain('serve scrape next to announce');
    // ipv6= / ipv4= are ignored: a policy, not a fault.
    expect(matrix(h)['own-address'], show(h)).toEqual({ 4: 'policy', 6: 'policy' });
    expect(matrix(h).mixed).toEqual({ 4: 'pass', 6: 'pass' });

    // UDP over IPv6: 6-byte IPv4 entries and no IPv6 peer; both rows fail, naming the entries.
    expect(failing(u), show(u)).toEqual(['udp-entries@6', 'peers@6', 'malformed@4', 'malformed@6', 'connection-id@4', 'connection-id@6']);
    expect(cellOf(u, 'udp-entries', 6).evidence).toMatch(/^\d+ bytes of 6-byte entries over IPv6 \(192\.0\.2\.10:\d+/);
    expect(cellOf(u, 'peers', 6).evidence).toMatch(/^no IPv6 peer: the IPv6 seed \(port \d+\) is missing, the reply holds 6-byte IPv4 entries \(192\.0\.2\.10:\d+/);
    expect(matrix(u).peers[4]).toBe('pass');
    expect(cellOf(u, 'malformed', 4).evidence).toBe('no reply within 2 s');
    expect(h.families.map((f) => f.text)).toEqual(['the A address answers; 1 check failed', 'the AAAA address answers; 1 check failed']);
  });

  it("sixswarm's own tracker in its documented default passes its own checker (ipv6= / ipv4= ignored: policy), exit 0", async () => {
    const { code, reports, stderr } = await runCheck([`http://own.test:${ownPort}/announce`, `udp://own.test:${ownPort}`, '--timeout', '2'], wrap, 90_000);
    expect(reports, stderr).toHaveLength(2);
    const [h, u] = reports as [TrackerReport, TrackerReport];
    expect(failing(h), show(h)).toEqual([]);
    expect(failing(u), show(u)).toEqual([]);
    expect(matrix(h)['own-address']).toEqual({ 4: 'policy', 6: 'policy' });
    expect(cellOf(h, 'own-address', 4).evidence).toMatch(/^ipv6=2001:db8:10::10 is not stored: a choice/);
    expect(h.ok && u.ok).toBe(true);
    expect(code, stderr).toBe(0);
  });
});
