/**
 * tracker-check with real DNS: dnsmasq answers in the checker's namespace (its resolv.conf comes
 * from /etc/netns/NAME/), and every address a name resolves to is probed on its own.
 *
 *   trk.test    A 198.51.100.1   sixswarm's tracker (default policy), dual-stack host "dual"
 *               A 192.0.2.1      opentracker (Debian: IPv4 only), host "v4"
 *               AAAA 2001:db8:d::1   the sixswarm tracker again
 *               AAAA 2001:db8:d::99  nothing (no host has it)
 *               TXT "BITTORRENT UDP:6969 TCP:6969"
 *   multi.test  A 203.0.113.1, 203.0.113.2, AAAA 2001:db8:e::1, 2001:db8:e::2: one host "multi"
 *               whose UDP tracker answers from .1 / e::1 whichever address was asked, as a
 *               tracker on a wildcard socket does (the kernel picks the route's source): an
 *               nftables rule on "multi" rewrites the source of the replies from .2 / e::2
 *               (sixswarm's own tracker binds a socket per address and answers from the right one)
 *   deny.test, other.test, bad.test: BEP 34 records that say DENY, list other ports, or are malformed
 *
 *     v4     192.0.2.1/24 (IPv6 off)                   <---> 192.0.2.2/24                chk
 *     dual   198.51.100.1/24, 2001:db8:d::1/64         <---> 198.51.100.2, 2001:db8:d::2  chk
 *     multi  203.0.113.1-2/24, 2001:db8:e::1-2/64      <---> 203.0.113.100, 2001:db8:e::100 chk
 *            (routes to chk with src .1 / e::1)
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrackerReport } from '../../src/tracker-check/report.js';
import { startDnsmasq, type Dnsmasq } from '../support/dnsmasq.js';
import { createNetns, netnsUnavailable, veth, type Netns } from '../support/netns.js';
import { startOpentracker, type Opentracker } from '../support/opentracker.js';
import { builtInTracker, ensureBuilt, removeDir, stopAll, tempDir } from '../support/sixswarm.js';
import { byColumn, cellOf, failing, runCheck, show } from '../support/tracker-check.js';

const unavailable = netnsUnavailable();
const LISTED = randomBytes(20).toString('hex');
const spaces: Netns[] = [];
let dir: string | undefined;
let dns: Dnsmasq | undefined;
let ot: Opentracker | undefined;
let chk: Netns;
let reports = new Map<string, TrackerReport>();
let code: number | null = null;
let elapsed = 0;

const inNs = (ns: Netns) => ['ip', 'netns', 'exec', ns.name];

beforeAll(async () => {
  ensureBuilt();
  if (unavailable) return;
  chk = await createNetns('chk');
  spaces.push(chk);
  const v4 = await createNetns('v4');
  spaces.push(v4);
  const dual = await createNetns('dual');
  spaces.push(dual);
  const multi = await createNetns('multi');
  spaces.push(multi);
  await veth(chk, 'to4', v4, 'eth0');
  await veth(chk, 'tod', dual, 'eth0');
  await veth(chk, 'tom', multi, 'eth0');
  await v4.must('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
  await v4.ip(['addr', 'add', '192.0.2.1/24', 'dev', 'eth0']);
  await chk.ip(['addr', 'add', '192.0.2.2/24', 'dev', 'to4']);
  await dual.ip(['addr', 'add', '198.51.100.1/24', 'dev', 'eth0']);
  await dual.ip(['addr', 'add', '2001:db8:d::1/64', 'dev', 'eth0', 'nodad']);
  await chk.ip(['addr', 'add', '198.51.100.2/24', 'dev', 'tod']);
  await chk.ip(['addr', 'add', '2001:db8:d::2/64', 'dev', 'tod', 'nodad']);
  for (const a of ['203.0.113.1/24', '203.0.113.2/24']) await multi.ip(['addr', 'add', a, 'dev', 'eth0']);
  for (const a of ['2001:db8:e::1/64', '2001:db8:e::2/64']) await multi.ip(['addr', 'add', a, 'dev', 'eth0', 'nodad']);
  await chk.ip(['addr', 'add', '203.0.113.100/24', 'dev', 'tom']);
  await chk.ip(['addr', 'add', '2001:db8:e::100/64', 'dev', 'tom', 'nodad']);
  // UDP replies to the checker leave from .1 / e::1 whatever address the request came to.
  await multi.exec('nft', [
    'add table inet wrongsrc; add chain inet wrongsrc out { type filter hook output priority 0; }; ' +
      'add rule inet wrongsrc out ip saddr 203.0.113.2 udp sport 6969 ip saddr set 203.0.113.1; ' +
      'add rule inet wrongsrc out ip6 saddr 2001:db8:e::2 udp sport 6969 ip6 saddr set 2001:db8:e::1',
  ]);

  dir = await tempDir('sixswarm-tcd-');
  dns = await startDnsmasq(chk, dir, {
    domain: 'test',
    hosts: {
      'trk.test': ['198.51.100.1', '192.0.2.1', '2001:db8:d::1', '2001:db8:d::99'],
      'multi.test': ['203.0.113.1', '203.0.113.2', '2001:db8:e::1', '2001:db8:e::2'],
      'deny.test': ['198.51.100.1', '2001:db8:d::1'],
      'other.test': ['198.51.100.1', '2001:db8:d::1'],
      'bad.test': ['198.51.100.1', '2001:db8:d::1'],
      'plain.test': ['198.51.100.1', '2001:db8:d::1'],
    },
    txt: {
      'trk.test': ['v=spf1 -all', 'BITTORRENT UDP:6969 TCP:6969'],
      'deny.test': ['BITTORRENT DENY'],
      'other.test': ['BITTORRENT TCP:6969 UDP:7777'],
      'bad.test': ['BITTORRENT UDP:x'],
    },
  });
  const otDir = await tempDir('sixswarm-tcd-ot-');
  ot = await startOpentracker(otDir, [LISTED], {
    address: '192.0.2.1',
    port: 6969,
    wrap: inNs(v4),
    listening: async () => (await v4.exec('ss', ['-Hltn', 'sport = :6969'])).stdout.includes('6969'),
  });
  await builtInTracker(['--port', '6969', '--bind', '198.51.100.1', '--bind', '2001:db8:d::1'], { wrap: inNs(dual) });
  await builtInTracker(['--port', '6969'], { wrap: inNs(multi) });

  const urls: Record<string, string> = {
    'trk-http': 'http://trk.test:6969/announce',
    'trk-udp': 'udp://trk.test:6969',
    'multi-udp': 'udp://multi.test:6969',
    'multi-literal': 'udp://[2001:db8:e::2]:6969',
    'multi-http': 'http://multi.test:6969/announce',
    'deny-http': 'http://deny.test:6969/announce',
    'other-udp': 'udp://other.test:6969',
    'other-http': 'http://other.test:6969/announce',
    'bad-http': 'http://bad.test:6969/announce',
    'plain-http': 'http://plain.test:6969/announce',
  };
  const t0 = Date.now();
  const run = await runCheck([...Object.values(urls), '--timeout', '2', '--info-hash', LISTED], inNs(chk), 180_000);
  elapsed = Date.now() - t0;
  console.info(`[tracker-check-dns] ${Object.keys(urls).length} trackers over real DNS in ${elapsed} ms`);
  code = run.code;
  if (run.reports.length !== Object.keys(urls).length) throw new Error(`expected ${Object.keys(urls).length} reports: ${run.stderr}\n${run.stdout}\n${dns.log()}`);
  reports = new Map(Object.keys(urls).map((k, i) => [k, run.reports[i]!]));
  await removeDir(otDir);
}, 240_000);

afterAll(async () => {
  await ot?.stop();
  await dns?.stop();
  await stopAll();
  await Promise.all(spaces.map((ns) => ns.destroy()));
  await removeDir(dir);
});

const get = (name: string) => reports.get(name)!;

describe.skipIf(unavailable !== undefined)('tracker-check over real DNS: every address of a name on its own', () => {
  it('two A and two AAAA records: a column each, and a verdict per family ("1 of 2 AAAA addresses answer")', () => {
    for (const name of ['trk-http', 'trk-udp']) {
      const r = get(name);
      expect(r.columns.map((c) => c.label).sort(), show(r)).toEqual(['IPv4 192.0.2.1', 'IPv4 198.51.100.1', 'IPv6 2001:db8:d::1', 'IPv6 2001:db8:d::99']);
      const m = byColumn(r);
      expect(m.dns).toEqual({ 'IPv4 192.0.2.1': 'pass', 'IPv4 198.51.100.1': 'pass', 'IPv6 2001:db8:d::1': 'pass', 'IPv6 2001:db8:d::99': 'pass' });
      expect(m.reachable, show(r)).toEqual({ 'IPv4 192.0.2.1': 'pass', 'IPv4 198.51.100.1': 'pass', 'IPv6 2001:db8:d::1': 'pass', 'IPv6 2001:db8:d::99': 'fail' });
      expect(m.announce['IPv4 192.0.2.1']).toBe('pass'); // opentracker, the listed hash
      expect(m.peers).toMatchObject({ 'IPv4 192.0.2.1': 'pass', 'IPv4 198.51.100.1': 'pass', 'IPv6 2001:db8:d::1': 'pass', 'IPv6 2001:db8:d::99': 'skipped' });
      expect(cellOf(r, 'dns', 'IPv6 2001:db8:d::99').evidence).toMatch(/^AAAA 2001:db8:d::99 \([12] of 2\)$/);
      // The address that points at nothing: what to do, including dropping it from the name.
      expect(cellOf(r, 'reachable', 'IPv6 2001:db8:d::99').fix).toContain('remove 2001:db8:d::99 from the AAAA records of trk.test (1 other address of the name answers)');
      expect(r.families.map((f) => f.text.split(';')[0]), show(r)).toEqual(['2 of 2 A addresses answer', '1 of 2 AAAA addresses answer']);
      expect(r.families.map((f) => [f.addresses, f.probed, f.answering])).toEqual([[2, 2, 2], [2, 2, 1]]);
      expect(r.bep34).toMatchObject({ verdict: 'pass', records: ['BITTORRENT UDP:6969 TCP:6969'] });
    }
  });

  it('HTTP: the IPv4-only opentracker behind one A record does not share the swarm; the other addresses do', () => {
    const r = get('trk-http');
    expect(failing(r).sort(), show(r)).toEqual(['mixed@IPv4 192.0.2.1', 'reachable@IPv6 2001:db8:d::99']);
    expect(cellOf(r, 'mixed', 'IPv4 192.0.2.1')).toMatchObject({
      evidence: 'an IPv4 announcer at 192.0.2.1 did not get the IPv6 seed in peers6',
      fix: expect.stringContaining('serve every address of trk.test from one swarm: 192.0.2.1 does not share its peers'),
    });
    expect(cellOf(r, 'mixed', 'IPv6 2001:db8:d::1').evidence).toBe("peers lists the IPv4 seed (1 of the 2 announced at the name's A addresses)");
    // sixswarm's tracker (and opentracker) ignore ipv6= / ipv4=: a policy, not a fault.
    expect(cellOf(r, 'own-address', 'IPv4 198.51.100.1').verdict).toBe('policy');
    expect(r.bep34.evidence).toBe('"BITTORRENT UDP:6969 TCP:6969" lists TCP:6969, this URL\'s; UDP:6969 answers');
  });

  it('UDP: opentracker is silent to a short request; the address with nothing behind it fails reachable only', () => {
    const r = get('trk-udp');
    expect(failing(r).sort(), show(r)).toEqual(['malformed@IPv4 192.0.2.1', 'reachable@IPv6 2001:db8:d::99']);
    expect(byColumn(r)['reply-source']).toMatchObject({ 'IPv4 192.0.2.1': 'pass', 'IPv4 198.51.100.1': 'pass', 'IPv6 2001:db8:d::1': 'pass' });
    expect(code).toBe(1);
  });

  it('a UDP tracker answering from another of its addresses: recognised, named, the rest judged on its replies', () => {
    const r = get('multi-udp');
    expect(failing(r).sort(), show(r)).toEqual(['reply-source@IPv4 203.0.113.2', 'reply-source@IPv6 2001:db8:e::2']);
    expect(cellOf(r, 'reply-source', 'IPv6 2001:db8:e::2')).toMatchObject({
      evidence: expect.stringMatching(/^\d+ replies came from \[2001:db8:e::1\]:6969, another of multi\.test's addresses, not \[2001:db8:e::2\]:6969 where the requests went: clients that take replies only from the address asked \(connected sockets: libtorrent, sixswarm\) time out; clients that match the transaction id alone get them$/),
      fix: expect.stringContaining('bind one UDP socket per address instead of the wildcard'),
    });
    expect(cellOf(r, 'reachable', 'IPv6 2001:db8:e::2').evidence).toMatch(/^UDP reply from \[2001:db8:e::2\]:6969 \(from \[2001:db8:e::1\]:6969\) in \d+ ms$/);
    expect(cellOf(r, 'reply-source', 'IPv4 203.0.113.1').evidence).toBe('every reply came from 203.0.113.1:6969');
    for (const col of ['IPv4 203.0.113.2', 'IPv6 2001:db8:e::2']) expect(byColumn(r).announce[col]).toBe('pass');
    // The same tracker over HTTP (TCP replies always come from the address asked) passes.
    expect(failing(get('multi-http')), show(get('multi-http'))).toEqual([]);
    // A literal URL: the other address is not one the URL names.
    expect(cellOf(get('multi-literal'), 'reply-source', 6).evidence).toMatch(/^\d+ replies came from \[2001:db8:e::1\]:6969, an address the URL does not name, not \[2001:db8:e::2\]:6969/);
  });

  it('BEP 34: DENY, a record without this URL, a listed port that does not answer, a malformed record, none', () => {
    expect(get('deny-http').bep34).toMatchObject({ verdict: 'fail', evidence: expect.stringMatching(/^"BITTORRENT DENY" says the name runs no tracker, yet one answers at /), fix: expect.stringContaining('"BITTORRENT TCP:6969"') });
    expect(get('other-udp').bep34).toMatchObject({ verdict: 'fail', evidence: '"BITTORRENT TCP:6969 UDP:7777" does not list UDP:6969, this URL\'s: clients that read BEP 34 will not use it', fix: 'add UDP:6969 to the record: "BITTORRENT TCP:6969 UDP:7777 UDP:6969"' });
    expect(get('other-http').bep34).toMatchObject({ verdict: 'fail', evidence: 'lists UDP:7777, but port unreachable: nothing listens on 198.51.100.1:7777/udp', fix: expect.stringContaining('remove UDP:7777 from the record') });
    expect(get('bad-http').bep34).toMatchObject({ verdict: 'fail', evidence: '"BITTORRENT UDP:x" is no BEP 34 record: "UDP:x" is neither UDP:port, TCP:port nor DENY' });
    expect(get('plain-http').bep34).toMatchObject({ verdict: 'n/a', evidence: 'no BITTORRENT TXT record (BEP 34 is optional)', records: [] });
    expect(get('plain-http').ok, show(get('plain-http'))).toBe(true);
    for (const name of ['deny-http', 'other-udp', 'other-http', 'bad-http']) expect(get(name).ok, name).toBe(false);
  });
});
