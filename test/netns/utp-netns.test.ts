/**
 * uTP between two sixswarm engines (each speaking uTP only: bench/lib/utp-peer.js) in network
 * namespaces joined through a router namespace that impairs the path both ways: a 100 Mbit/s
 * bottleneck (tc htb) with a 1000-packet queue, 1% of the datagrams dropped and 1% duplicated
 * (nftables `numgen random`, `dup`), 5% sent through a side class that skips the queue (so they
 * overtake: reordering), and a 1400-byte MTU towards the leecher (path MTU probes above it are
 * lost; the kernel learns it by ICMP). This kernel has no sch_netem, so netem's knobs are built
 * from these. Over IPv4 and IPv6; the data is verified.
 *
 *     seed ns                 router ns                      leech ns
 *     a0 192.0.2.2 ---- r0 192.0.2.1   r1 198.51.100.1 ---- b0 198.51.100.2
 *        2001:db8:a::2     2001:db8:a::1  2001:db8:b::1        2001:db8:b::2
 *                          impaired both ways, r1/b0 MTU 1400
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetns, netnsUnavailable, veth, type Netns } from '../support/netns.js';
import { cleanUpAfterEach, ROOT, seedPayload, tempDir } from '../support/sixswarm.js';
import { sha1 } from '../support/utp.js';

const unavailable = netnsUnavailable();
const PEER = resolve(ROOT, 'bench', 'lib', 'utp-peer.js');
/** Loss and the reordering class for forwarded UDP; duplication on the way out of each router link. */
const IMPAIR = `
table inet impair {
  chain forwarding {
    type filter hook forward priority 0; policy accept;
    meta l4proto udp numgen random mod 100 < 1 drop
    meta l4proto udp numgen random mod 100 < 5 meta priority set 1:20
  }
}
table netdev dup0 {
  chain out { type filter hook egress device "r0" priority 0; meta l4proto udp numgen random mod 100 < 1 dup to "r0"; }
}
table netdev dup1 {
  chain out { type filter hook egress device "r1" priority 0; meta l4proto udp numgen random mod 100 < 1 dup to "r1"; }
}
`;

let dir: string | undefined;
cleanUpAfterEach(() => dir);

let seedNs: Netns, router: Netns, leechNs: Netns;

describe.skipIf(unavailable !== undefined)('uTP through an impaired path in network namespaces', () => {
  beforeAll(async () => {
    seedNs = await createNetns('utp-seed');
    router = await createNetns('utp-router');
    leechNs = await createNetns('utp-leech');
    await veth(seedNs, 'a0', router, 'r0');
    await veth(router, 'r1', leechNs, 'b0');
    await router.ip(['link', 'set', 'r1', 'mtu', '1400']);
    await leechNs.ip(['link', 'set', 'b0', 'mtu', '1400']);
    await seedNs.ip(['addr', 'add', '192.0.2.2/24', 'dev', 'a0']);
    await seedNs.ip(['-6', 'addr', 'add', '2001:db8:a::2/64', 'dev', 'a0', 'nodad']);
    await seedNs.ip(['route', 'add', 'default', 'via', '192.0.2.1']);
    await seedNs.ip(['-6', 'route', 'add', 'default', 'via', '2001:db8:a::1']);
    await leechNs.ip(['addr', 'add', '198.51.100.2/24', 'dev', 'b0']);
    await leechNs.ip(['-6', 'addr', 'add', '2001:db8:b::2/64', 'dev', 'b0', 'nodad']);
    await leechNs.ip(['route', 'add', 'default', 'via', '198.51.100.1']);
    await leechNs.ip(['-6', 'route', 'add', 'default', 'via', '2001:db8:b::1']);
    await router.ip(['addr', 'add', '192.0.2.1/24', 'dev', 'r0']);
    await router.ip(['addr', 'add', '198.51.100.1/24', 'dev', 'r1']);
    await router.ip(['-6', 'addr', 'add', '2001:db8:a::1/64', 'dev', 'r0', 'nodad']);
    await router.ip(['-6', 'addr', 'add', '2001:db8:b::1/64', 'dev', 'r1', 'nodad']);
    await router.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    for (const dev of ['r0', 'r1']) {
      // The bottleneck and its queue (class 10), and the side class the 5% take (20): empty, so they overtake.
      await router.must('tc', ['qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '10', 'r2q', '100']);
      await router.must('tc', ['class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '100mbit']);
      await router.must('tc', ['qdisc', 'add', 'dev', dev, 'parent', '1:10', 'handle', '10:', 'pfifo', 'limit', '1000']);
      await router.must('tc', ['class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '20mbit']);
    }
    const rules = join(await tempDir('sixswarm-utp-nft-'), 'impair.nft');
    await writeFile(rules, IMPAIR);
    await router.must('nft', ['-f', rules]);
  });

  afterAll(async () => {
    for (const ns of [leechNs, router, seedNs]) await ns?.destroy();
  });

  it.each([
    { family: 4, seedHost: '192.0.2.2', leechHost: '198.51.100.2' },
    { family: 6, seedHost: '2001:db8:a::2', leechHost: '2001:db8:b::2' },
  ])('moves 16 MiB from a seed to a leecher over IPv$family', { timeout: 180_000 }, async ({ family, seedHost, leechHost }) => {
    dir = await tempDir('sixswarm-utp-netns-');
    const { torrent, payload } = await seedPayload(dir, { 'data.bin': 16 * 1024 * 1024 }, 256 * 1024);
    const seed = seedNs.spawn(process.execPath, [PEER, ROOT, 'seed', torrent, join(dir, 'seed'), join(dir, 'seed-state'), seedHost]);
    const ready = JSON.parse(await seed.waitForLine((l) => l.includes('"ready"'), { timeoutMs: 30_000 })) as { port: number };
    const target = family === 6 ? `[${seedHost}]:${ready.port}` : `${seedHost}:${ready.port}`;
    const leech = leechNs.spawn(process.execPath, [PEER, ROOT, 'leech', torrent, join(dir, 'leech'), join(dir, 'leech-state'), target, leechHost]);
    const t0 = Date.now();
    await leech.waitForLine((l) => l.includes('"complete"'), { timeoutMs: 150_000 });
    const seconds = (Date.now() - t0) / 1000;
    const stats = JSON.parse(await leech.waitForLine((l) => l.includes('"stats"'))) as { datagramsIn: number };
    expect((await leech.exited).code).toBe(0);
    await seed.stop();
    const seedStats = seed.json<{ event: string; resent: number; largestPacket: number }>().find((e) => e.event === 'stats');
    console.info(`[utp netns] IPv${family}: 16 MiB in ${seconds.toFixed(1)} s through the impaired path; ${stats.datagramsIn} datagrams in, seed resent ${seedStats?.resent}, largest packet ${seedStats?.largestPacket}`);
    expect(sha1(await readFile(join(dir, 'leech', 'payload', 'data.bin')))).toBe(sha1(payload));
    // Loss happened and was repaired (1% each way, plus the lost MTU probes).
    expect(seedStats?.resent).toBeGreaterThan(0);
    // The path MTU probes found the 1400-byte link: no new packet bigger than fits it (less the
    // IP and UDP headers) went out but probes (and copies of lost ones), and the search got close.
    const fits = 1400 - (family === 6 ? 40 : 20) - 8;
    expect(seedStats!.largestPacket).toBeLessThanOrEqual(fits);
    expect(seedStats!.largestPacket).toBeGreaterThan(fits - 40);
  });
});

/** A TCP sink that prints the bytes it has received every 250 ms, and a sender that writes as fast as it can. */
const TCP_SINK = `
const net = require('node:net');
let total = 0;
net.createServer((s) => s.on('data', (b) => (total += b.length))).listen(Number(process.argv[2]), process.argv[1], () => console.log('ready'));
setInterval(() => console.log(JSON.stringify({ t: Date.now(), total })), 250);
`;
const TCP_SOURCE = `
const net = require('node:net');
const chunk = Buffer.alloc(64 * 1024);
const s = net.connect(Number(process.argv[2]), process.argv[1], () => {
  const pump = () => { while (s.write(chunk)); };
  s.on('drain', pump);
  pump();
});
`;

describe.skipIf(unavailable !== undefined)('LEDBAT: a uTP upload yields a shared bottleneck to TCP', () => {
  let a: Netns, r: Netns, b: Netns;
  beforeAll(async () => {
    a = await createNetns('ledbat-a');
    r = await createNetns('ledbat-r');
    b = await createNetns('ledbat-b');
    await veth(a, 'a0', r, 'r0');
    await veth(r, 'r1', b, 'b0');
    await a.ip(['addr', 'add', '192.0.2.2/24', 'dev', 'a0']);
    await a.ip(['route', 'add', 'default', 'via', '192.0.2.1']);
    await b.ip(['addr', 'add', '198.51.100.2/24', 'dev', 'b0']);
    await b.ip(['route', 'add', 'default', 'via', '198.51.100.1']);
    await r.ip(['addr', 'add', '192.0.2.1/24', 'dev', 'r0']);
    await r.ip(['addr', 'add', '198.51.100.1/24', 'dev', 'r1']);
    await r.must('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // 20 Mbit/s towards b with a 1000-packet queue (about 600 ms when full): the bloated
    // buffer of a home uplink, which LEDBAT was made for; TCP fills it, LEDBAT keeps 100 ms.
    await r.must('tc', ['qdisc', 'add', 'dev', 'r1', 'root', 'handle', '1:', 'htb', 'default', '10']);
    await r.must('tc', ['class', 'add', 'dev', 'r1', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '20mbit']);
    await r.must('tc', ['qdisc', 'add', 'dev', 'r1', 'parent', '1:10', 'handle', '10:', 'pfifo', 'limit', '1000']);
  });

  afterAll(async () => {
    for (const ns of [b, r, a]) await ns?.destroy();
  });

  /** Bytes per second the TCP sink got over the last `seconds` of its reports. */
  function tcpRate(sink: ReturnType<Netns['spawn']>, seconds: number): number {
    const reports = sink.json<{ t: number; total: number }>().filter((x) => 'total' in x);
    const last = reports.at(-1)!;
    const first = reports.find((x) => x.t >= last.t - seconds * 1000)!;
    return ((last.total - first.total) * 1000) / (last.t - first.t);
  }

  it('leaves the TCP flow most of the link', { timeout: 120_000 }, async () => {
    const link = 20e6 / 8;
    dir = await tempDir('sixswarm-utp-ledbat-');
    const { torrent } = await seedPayload(dir, { 'data.bin': 256 * 1024 * 1024 }, 1024 * 1024);
    const sink = b.spawn(process.execPath, ['-e', TCP_SINK, '198.51.100.2', '7001']);
    await sink.waitForLine((l) => l === 'ready');
    // TCP alone: what the link gives it.
    let source = a.spawn(process.execPath, ['-e', TCP_SOURCE, '198.51.100.2', '7001']);
    await new Promise((res) => setTimeout(res, 5000));
    const alone = tcpRate(sink, 3);
    await source.stop();
    // A uTP upload from a to b fills the link for a few seconds, then TCP starts beside it.
    const seed = a.spawn(process.execPath, [PEER, ROOT, 'seed', torrent, join(dir, 'seed'), join(dir, 'seed-state'), '192.0.2.2']);
    const ready = JSON.parse(await seed.waitForLine((l) => l.includes('"ready"'), { timeoutMs: 60_000 })) as { port: number };
    const leech = b.spawn(process.execPath, [PEER, ROOT, 'leech', torrent, join(dir, 'leech'), join(dir, 'leech-state'), `192.0.2.2:${ready.port}`, '198.51.100.2']);
    await leech.waitForLine((l) => l.includes('"connected"'), { timeoutMs: 30_000 });
    await new Promise((res) => setTimeout(res, 4000));
    source = a.spawn(process.execPath, ['-e', TCP_SOURCE, '198.51.100.2', '7001']);
    await new Promise((res) => setTimeout(res, 10_000));
    const shared = tcpRate(sink, 5);
    await source.stop();
    await leech.stop();
    await seed.stop();
    await sink.stop();
    console.info(`[utp ledbat] 20 Mbit/s link: TCP alone ${(alone / 1e6).toFixed(2)} MB/s, beside a uTP upload ${(shared / 1e6).toFixed(2)} MB/s (${((shared / alone) * 100).toFixed(0)}%)`);
    expect(alone).toBeGreaterThan(0.8 * link);
    // LEDBAT keeps its queuing delay near 100 ms and backs off when TCP fills the queue beyond it.
    expect(shared).toBeGreaterThan(0.85 * alone);
  });
});
