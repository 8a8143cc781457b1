/**
 * The built-in tracker on a host with two addresses of each family answers UDP from the address
 * each request went to. A wildcard socket's replies leave from the address routing picks (the
 * primary IPv4 address; not a deprecated IPv6 one), and a checker's connected socket never gets
 * them. tracker-check's "replies from that address" row judges it from the checker's namespace.
 * Addresses the host gains later are answered too (and the socket of one it loses is closed).
 *
 *     trk ns  10.77.0.1/24, 10.77.0.2/24 (secondary)          <---> 10.77.0.9/24      chk ns
 *             2001:db8:77::1/64, 2001:db8:77::2/64 (deprecated)      2001:db8:77::9/64
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetns, netnsUnavailable, veth, type Netns } from '../support/netns.js';
import { builtInTracker, ensureBuilt, stopAll, type SixswarmProcess } from '../support/sixswarm.js';
import { cellOf, runCheck, show } from '../support/tracker-check.js';

const unavailable = netnsUnavailable();
const spaces: Netns[] = [];
let trk: Netns;
let chk: Netns;
let tracker: SixswarmProcess;
let port = 0;

beforeAll(async () => {
  ensureBuilt();
  if (unavailable) return;
  trk = await createNetns('trk');
  spaces.push(trk);
  chk = await createNetns('chk');
  spaces.push(chk);
  await veth(trk, 'eth0', chk, 'eth0');
  await trk.ip(['link', 'set', 'lo', 'up']);
  await trk.ip(['addr', 'add', '10.77.0.1/24', 'dev', 'eth0']);
  await trk.ip(['addr', 'add', '10.77.0.2/24', 'dev', 'eth0']);
  await trk.ip(['addr', 'add', '2001:db8:77::1/64', 'dev', 'eth0', 'nodad']);
  // Deprecated: still valid, never picked as a source for new traffic.
  await trk.ip(['addr', 'add', '2001:db8:77::2/64', 'dev', 'eth0', 'nodad', 'preferred_lft', '0']);
  await chk.ip(['addr', 'add', '10.77.0.9/24', 'dev', 'eth0']);
  await chk.ip(['addr', 'add', '2001:db8:77::9/64', 'dev', 'eth0', 'nodad']);
  // The default binds (0.0.0.0 and ::), as a user starts it.
  const t = await builtInTracker(['--udp'], { wrap: ['ip', 'netns', 'exec', trk.name] });
  tracker = t.proc;
  port = t.port;
}, 60_000);

afterAll(async () => {
  await stopAll();
  for (const ns of spaces.reverse()) await ns.destroy();
});

const udpSockets = () => tracker.events.filter((e) => e.type === 'listening' && e.transport === 'udp').map((e) => e.address as string);

async function replySource(address: string, family: 4 | 6) {
  const url = family === 6 ? `udp://[${address}]:${port}/announce` : `udp://${address}:${port}/announce`;
  const r = await runCheck([url, '--timeout', '3'], ['ip', 'netns', 'exec', chk.name]);
  const report = r.reports[0];
  if (!report) throw new Error(`no report from tracker-check: ${r.stderr}${r.stdout}`);
  return { source: cellOf(report, 'reply-source', family), announce: cellOf(report, 'announce', family), shown: show(report) };
}

describe.skipIf(unavailable)('the built-in tracker on a host with several addresses', () => {
  it('binds UDP on each address of the host, loopback included', async () => {
    // The first line is out; the others follow in the same tick.
    await tracker.waitFor(() => udpSockets().length >= 6, 2000, 'six UDP sockets').catch(() => undefined);
    expect(udpSockets().sort()).toEqual(['10.77.0.1', '10.77.0.2', '127.0.0.1', '2001:db8:77::1', '2001:db8:77::2', '::1'].sort());
  });

  it.each([
    ['10.77.0.2', 4],
    ['2001:db8:77::2', 6],
    ['10.77.0.1', 4],
    ['2001:db8:77::1', 6],
  ] as const)('answers a request to %s from that address', async (address, family) => {
    const { source, announce, shown } = await replySource(address, family);
    expect(source.verdict, shown).toBe('pass');
    expect(announce.verdict, shown).toBe('pass');
  });

  it('follows the addresses the host gains and loses', async () => {
    await trk.ip(['addr', 'add', '10.77.0.3/24', 'dev', 'eth0']);
    await trk.ip(['addr', 'add', '2001:db8:77::3/64', 'dev', 'eth0', 'nodad', 'preferred_lft', '0']);
    await tracker.waitFor((e) => e.type === 'listening' && e.address === '2001:db8:77::3', 15_000, 'a socket for the new IPv6 address');
    await tracker.waitFor((e) => e.type === 'listening' && e.address === '10.77.0.3', 15_000, 'a socket for the new IPv4 address');
    for (const [address, family] of [['10.77.0.3', 4], ['2001:db8:77::3', 6]] as const) {
      const { source, shown } = await replySource(address, family);
      expect(source.verdict, shown).toBe('pass');
    }
    await trk.ip(['addr', 'del', '10.77.0.3/24', 'dev', 'eth0']);
    await tracker.waitFor((e) => e.type === 'closed' && e.address === '10.77.0.3', 15_000, 'the socket of the lost address closed');
  });
});
