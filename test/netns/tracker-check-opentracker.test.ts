/**
 * tracker-check against Debian's opentracker, whose build is IPv4-only and serves listed
 * (whitelisted) torrents only. The checker reaches it by a name with A and AAAA records (a
 * private /etc/hosts), so the IPv6 column shows what an IPv6 client meets. Expected matrix of
 * that build, with --info-hash naming a whitelisted hash:
 *
 *   check            HTTP IPv4 / IPv6     UDP IPv4 / IPv6      why
 *   DNS              pass / pass          pass / pass          dual.test has A and AAAA
 *   reachable        pass / FAIL          pass / FAIL          nothing listens on [::1] (IPv4-only build)
 *   announce .. peers, scrape, stopped, unknown hash:
 *                    pass / skipped       pass / skipped       a sound IPv4 tracker
 *   other family     skipped / skipped    n/a                  no IPv6 peer can exist
 *   ipv6= honoured   skipped / skipped    n/a                  no IPv6 peers are ever handed out to see it
 *   link-local       skipped / skipped    n/a                  (same)
 *   malformed        pass / skipped       FAIL / skipped       HTTP 400; a short UDP announce gets silence
 *   bad conn. id     n/a                  pass / skipped       error "Connection ID missmatch."
 *   retransmission   n/a                  pass / skipped       both copies answered, one peer
 *
 * With a random (unlisted) hash the announce fails (HTTP: the failure reason "Requested download
 * is not authorized"; UDP: an 8-byte reply with the announce action, no error packet) and the
 * swarm checks are skipped.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckId, TrackerReport } from '../../src/tracker-check/report.js';
import { privateHosts } from '../support/hosts.js';
import { netnsUnavailable } from '../support/netns.js';
import { startOpentracker, type Opentracker } from '../support/opentracker.js';
import { ensureBuilt, removeDir, tempDir } from '../support/sixswarm.js';
import { cellOf, matrix, runCheck, show, type Matrix } from '../support/tracker-check.js';

const LISTED = randomBytes(20).toString('hex');
const S = 'skipped' as const;
const P = 'pass' as const;
const NA = 'n/a' as const;

const OPENTRACKER_HTTP: Matrix = {
  dns: { 4: P, 6: P },
  reachable: { 4: P, 6: 'fail' },
  'reply-source': { 4: NA, 6: NA },
  announce: { 4: P, 6: S },
  interval: { 4: P, 6: S },
  'udp-entries': { 4: NA, 6: NA },
  peers: { 4: P, 6: S },
  mixed: { 4: S, 6: S },
  'own-address': { 4: S, 6: S },
  'link-local': { 4: S, 6: S },
  scrape: { 4: P, 6: S },
  stopped: { 4: P, 6: S },
  'unknown-hash': { 4: P, 6: S },
  malformed: { 4: P, 6: S },
  'connection-id': { 4: NA, 6: NA },
  retransmit: { 4: NA, 6: NA },
};
const OPENTRACKER_UDP: Matrix = {
  ...OPENTRACKER_HTTP,
  'reply-source': { 4: P, 6: S },
  'udp-entries': { 4: NA, 6: S },
  mixed: { 4: NA, 6: NA },
  'own-address': { 4: NA, 6: NA },
  'link-local': { 4: NA, 6: NA },
  malformed: { 4: 'fail', 6: S },
  'connection-id': { 4: P, 6: S },
  retransmit: { 4: P, 6: S },
};

const unavailable = netnsUnavailable(); // root, for the private /etc/hosts
let dir = '';
let port = 0;
let wrap: string[] = [];
let ot: Opentracker | undefined;

beforeAll(async () => {
  ensureBuilt();
  if (unavailable) return;
  dir = await tempDir('sixswarm-tco-');
  wrap = await privateHosts(dir, ['127.0.0.1 dual.test', '::1 dual.test']);
  ot = await startOpentracker(dir, [LISTED]);
  port = ot.port;
});

afterAll(async () => {
  await ot?.stop();
  await removeDir(dir || undefined);
});

const cell = (r: TrackerReport, id: CheckId, f: 4 | 6) => cellOf(r, id, f);

describe.skipIf(unavailable !== undefined)('tracker-check against opentracker (Debian: IPv4 only, whitelist)', () => {
  it('a listed hash: IPv4 sound, IPv6 unreachable, a short UDP request met with silence', async () => {
    const { code, reports } = await runCheck([`http://dual.test:${port}/announce`, `udp://dual.test:${port}`, '--info-hash', LISTED, '--timeout', '2'], wrap);
    expect(reports, ot?.log()).toHaveLength(2);
    const [h, u] = reports as [TrackerReport, TrackerReport];
    expect(matrix(h), show(h)).toEqual(OPENTRACKER_HTTP);
    expect(matrix(u), show(u)).toEqual(OPENTRACKER_UDP);
    expect(code).toBe(1);
    expect(cell(h, 'reachable', 6)).toMatchObject({ evidence: `connection refused by [::1]:${port}`, fix: expect.stringContaining(`listen on ::1 port ${port}/tcp`) });
    expect(cell(u, 'reachable', 6).evidence).toBe(`port unreachable: nothing listens on [::1]:${port}/udp`);
    expect(cell(h, 'malformed', 4).evidence).toBe('HTTP 400 (no bencoded failure reason)');
    expect(cell(u, 'malformed', 4).evidence).toBe('no reply within 2 s');
    expect(cell(u, 'connection-id', 4).evidence).toMatch(/^error: Connection ID missmatch/);
    // It lists a peer to itself, which the check does not mistake for another one.
    expect(cell(h, 'peers', 4).evidence).toMatch(/^peers lists the seed/);
  });

  it('a random hash: the announce is refused and the swarm checks are skipped', async () => {
    const { code, reports } = await runCheck([`http://127.0.0.1:${port}/announce`, `udp://127.0.0.1:${port}`, '--timeout', '2'], wrap);
    const [h, u] = reports as [TrackerReport, TrackerReport];
    expect(code).toBe(1);
    expect(cell(h, 'announce', 4)).toMatchObject({ verdict: 'fail', evidence: 'refused: Requested download is not authorized for use with this tracker.', fix: expect.stringContaining('--info-hash') });
    // The UDP reply is the 8-byte header alone: the same hint as HTTP's refusal.
    expect(cell(u, 'announce', 4)).toMatchObject({ verdict: 'fail', evidence: 'an announce reply of 8 bytes: the header alone, no interval and no peers', fix: expect.stringContaining('--info-hash') });
    for (const id of ['interval', 'peers', 'scrape', 'stopped'] as const) expect(cell(h, id, 4).verdict, show(h)).toBe('skipped');
    // Refused with a reason is a proper answer: the error handling is still judged.
    expect(cell(h, 'unknown-hash', 4).verdict, show(h)).toBe('pass');
    expect(cell(h, 'malformed', 4).verdict, show(h)).toBe('pass');
  });
});
