/**
 * tracker-check from a checker namespace to tracker hosts with only IPv4, only IPv6, or both,
 * behind names with A and/or AAAA records (the checker's private /etc/hosts). The DNS and
 * reachability rows must say exactly what each host has; on the dual-stack host, where the
 * checker has global (documentation) addresses of its own, ipv6= / ipv4= are honoured by the
 * built-in tracker with --honor-ip-params and ignored without it (a policy, not a fault).
 *
 *     v4 ns  192.0.2.1/24 (IPv6 off) <---> 192.0.2.2/24, 2001:db8:4::2/64   checker ns
 *     v6 ns  2001:db8:6::1/64        <---> 2001:db8:6::2/64                 checker ns
 *     dual   198.51.100.1/24,        <---> 198.51.100.2/24,                 checker ns
 *            2001:db8:d::1/64              2001:db8:d::2/64
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckId, TrackerReport } from '../../src/tracker-check/report.js';
import { privateHosts } from '../support/hosts.js';
import { createNetns, netnsUnavailable, veth, type Netns } from '../support/netns.js';
import { builtInTracker, ensureBuilt, removeDir, stopAll, tempDir } from '../support/sixswarm.js';
import { cellOf, failing, matrix, runCheck, show } from '../support/tracker-check.js';

const unavailable = netnsUnavailable();
const spaces: Netns[] = [];
let dir: string | undefined;
let reports = new Map<string, TrackerReport>();
let code: number | null = null;

const inNs = (ns: Netns) => ['ip', 'netns', 'exec', ns.name];

beforeAll(async () => {
  ensureBuilt();
  if (unavailable) return;
  const chk = await createNetns('chk');
  spaces.push(chk);
  const v4 = await createNetns('v4');
  spaces.push(v4);
  const v6 = await createNetns('v6');
  spaces.push(v6);
  const dual = await createNetns('dual');
  spaces.push(dual);
  await veth(chk, 'to4', v4, 'eth0');
  await veth(chk, 'to6', v6, 'eth0');
  await veth(chk, 'tod', dual, 'eth0');
  await v4.must('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
  await v4.ip(['addr', 'add', '192.0.2.1/24', 'dev', 'eth0']);
  await chk.ip(['addr', 'add', '192.0.2.2/24', 'dev', 'to4']);
  await chk.ip(['addr', 'add', '2001:db8:4::2/64', 'dev', 'to4', 'nodad']);
  await v6.ip(['addr', 'add', '2001:db8:6::1/64', 'dev', 'eth0', 'nodad']);
  await chk.ip(['addr', 'add', '2001:db8:6::2/64', 'dev', 'to6', 'nodad']);
  await dual.ip(['addr', 'add', '198.51.100.1/24', 'dev', 'eth0']);
  await dual.ip(['addr', 'add', '2001:db8:d::1/64', 'dev', 'eth0', 'nodad']);
  await chk.ip(['addr', 'add', '198.51.100.2/24', 'dev', 'tod']);
  await chk.ip(['addr', 'add', '2001:db8:d::2/64', 'dev', 'tod', 'nodad']);

  const t4 = await builtInTracker(['--http', '--bind', '192.0.2.1'], { wrap: inNs(v4) });
  const t6 = await builtInTracker(['--http', '--bind', '2001:db8:6::1'], { wrap: inNs(v6) });
  const honour = await builtInTracker(['--http', '--bind', '198.51.100.1', '--bind', '2001:db8:d::1', '--honor-ip-params'], { wrap: inNs(dual) });
  const plain = await builtInTracker(['--http', '--bind', '198.51.100.1', '--bind', '2001:db8:d::1'], { wrap: inNs(dual) });
  const v4bound = await builtInTracker(['--http', '--bind', '198.51.100.1'], { wrap: inNs(dual) });

  dir = await tempDir('sixswarm-tcn-');
  const hosts = await privateHosts(dir, [
    '192.0.2.1 v4.test v4aaaa.test',
    '2001:db8:4::1 v4aaaa.test', // an AAAA record the IPv4-only host does not have
    '2001:db8:6::1 v6.test',
    '198.51.100.1 dual.test plain.test v4bound.test dualnoaaaa.test',
    '2001:db8:d::1 dual.test plain.test v4bound.test',
  ]);
  const urls: Record<string, string> = {
    v4: `http://v4.test:${t4.port}/announce`,
    v4aaaa: `http://v4aaaa.test:${t4.port}/announce`,
    v6: `http://v6.test:${t6.port}/announce`,
    dual: `http://dual.test:${honour.port}/announce`,
    dualnoaaaa: `http://dualnoaaaa.test:${honour.port}/announce`,
    plain: `http://plain.test:${plain.port}/announce`,
    v4bound: `http://v4bound.test:${v4bound.port}/announce`,
  };
  const t0 = Date.now();
  const run = await runCheck([...Object.values(urls), '--timeout', '2'], [...inNs(chk), ...hosts], 120_000);
  console.info(`[tracker-check-netns] 7 trackers checked in ${Date.now() - t0} ms`);
  code = run.code;
  reports = new Map(Object.keys(urls).map((k, i) => [k, run.reports[i]!]));
  if (run.reports.length !== 7) throw new Error(`expected 7 reports: ${run.stderr}\n${run.stdout}`);
}, 180_000);

afterAll(async () => {
  await stopAll();
  await Promise.all(spaces.map((ns) => ns.destroy()));
  await removeDir(dir);
});

const rows = (name: string, ...ids: string[]) => {
  const m = matrix(reports.get(name)!) as Record<string, unknown>;
  return Object.fromEntries(ids.map((id) => [id, m[id]]));
};
const cell = (name: string, id: CheckId, f: 4 | 6) => cellOf(reports.get(name)!, id, f);

describe.skipIf(unavailable !== undefined)('tracker-check in network namespaces: DNS and reachability per host', () => {
  it('IPv4-only host, A record only: no AAAA (fail), IPv6 not tried', () => {
    expect(rows('v4', 'dns', 'reachable'), show(reports.get('v4')!)).toEqual({ dns: { 4: 'pass', 6: 'fail' }, reachable: { 4: 'pass', 6: 'skipped' } });
    // The hosts file has no AAAA line, so the resolver goes on to DNS, which the namespace cannot reach.
    expect(cell('v4', 'dns', 6)).toMatchObject({ evidence: expect.stringMatching(/^(no AAAA record \(ENOTFOUND\)|AAAA lookup failed \(EAI_AGAIN\))$/), fix: expect.stringContaining('AAAA record') });
    expect(failing(reports.get('v4')!)).toEqual(['dns@6']);
  });

  it('IPv4-only host whose name also has an AAAA record: IPv6 unreachable', () => {
    expect(rows('v4aaaa', 'dns', 'reachable'), show(reports.get('v4aaaa')!)).toEqual({ dns: { 4: 'pass', 6: 'pass' }, reachable: { 4: 'pass', 6: 'fail' } });
    expect(cell('v4aaaa', 'dns', 6).evidence).toBe('AAAA 2001:db8:4::1');
    expect(failing(reports.get('v4aaaa')!)).toEqual(['reachable@6']);
  });

  it('IPv6-only host, AAAA record only: no A (fail), IPv4 not tried, IPv6 passes', () => {
    const r = reports.get('v6')!;
    expect(rows('v6', 'dns', 'reachable', 'announce', 'peers'), show(r)).toEqual({
      dns: { 4: 'fail', 6: 'pass' },
      reachable: { 4: 'skipped', 6: 'pass' },
      announce: { 4: 'skipped', 6: 'pass' },
      peers: { 4: 'skipped', 6: 'pass' },
    });
    expect(cell('v6', 'reachable', 6).evidence).toMatch(/^HTTP reply from \[2001:db8:6::1\]:\d+ in \d+ ms$/);
    expect(failing(r)).toEqual(['dns@4']);
  });

  it('dual-stack host with A and AAAA: every check passes, ipv6= and ipv4= honoured', () => {
    const r = reports.get('dual')!;
    expect(failing(r), show(r)).toEqual([]);
    expect(rows('dual', 'dns', 'reachable', 'mixed', 'own-address', 'link-local')).toEqual({
      dns: { 4: 'pass', 6: 'pass' },
      reachable: { 4: 'pass', 6: 'pass' },
      mixed: { 4: 'pass', 6: 'pass' },
      'own-address': { 4: 'pass', 6: 'pass' },
      'link-local': { 4: 'pass', 6: 'pass' },
    });
    expect(cell('dual', 'own-address', 4).evidence).toMatch(/^ipv6=2001:db8:[46d]::2 was handed out to another peer$/);
  });

  it('dual-stack host whose name has no AAAA record: the IPv6 column says so', () => {
    expect(rows('dualnoaaaa', 'dns', 'reachable')).toEqual({ dns: { 4: 'pass', 6: 'fail' }, reachable: { 4: 'pass', 6: 'skipped' } });
    expect(failing(reports.get('dualnoaaaa')!)).toEqual(['dns@6']);
  });

  it('dual-stack host, tracker bound to IPv4 only: IPv6 connection refused', () => {
    expect(rows('v4bound', 'dns', 'reachable')).toEqual({ dns: { 4: 'pass', 6: 'pass' }, reachable: { 4: 'pass', 6: 'fail' } });
    expect(cell('v4bound', 'reachable', 6).evidence).toMatch(/^connection refused by \[2001:db8:d::1\]:\d+$/);
    expect(failing(reports.get('v4bound')!)).toEqual(['reachable@6']);
  });

  it('a tracker that ignores ipv6= and ipv4= (the built-in one in its default): a policy, not a fault; it passes', () => {
    const r = reports.get('plain')!;
    expect(failing(r), show(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(rows('plain', 'own-address')).toEqual({ 'own-address': { 4: 'policy', 6: 'policy' } });
    expect(cell('plain', 'own-address', 4)).toMatchObject({ evidence: expect.stringMatching(/^ipv6=2001:db8:[46d]::2 is not stored: a choice/) });
    expect(cell('plain', 'own-address', 4).fix).toBeUndefined();
    expect(code).toBe(1); // the other hosts' faults
  });
});
