/**
 * bench/utp --path wan: its runs and report. Every pair (sixswarm and libtorrent, each over uTP and
 * over TCP) crosses the same shaped path (bench/lib/shaped-path.js) in turn; per transfer: MB/s,
 * its share of the link, CPU of both ends, the bottleneck queue's delay while it ran and the
 * packets it dropped, the seed's retransmissions; then the medians, sixswarm's ratios to
 * libtorrent per transport and each client's uTP against its TCP, and with --cross-traffic what
 * share of the link each got beside a bulk TCP flow.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CROSS_LEAD_MS, CROSS_SETTLE_MS } from './cross-traffic.js';
import { settlePageCache } from './page-cache.js';
import { fixed, loadAverage, mbps, median } from './report.js';
import { runVerified } from './utp-pairs.js';

const GiB = 2 ** 30;

const HEADER =
  `  ${'pair'.padEnd(32)}${'transfer'.padStart(10)}${'MB/s'.padStart(8)}${'link'.padStart(7)}${'CPU s seed/leech'.padStart(18)}` +
  `${'CPU s/GiB s/l'.padStart(16)}${'queue ms avg/max'.padStart(18)}${'drops'.padStart(8)}${'resent'.padStart(8)}${'load1'.padStart(7)}  ok`;

const percent = (x) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '-');
const count = (x) => (Number.isFinite(x) ? String(Math.round(x)) : '-');

function row(name, f, load1, ok) {
  return (
    `  ${name.padEnd(32)}${`${fixed(f.seconds, 2)} s`.padStart(10)}${fixed(f.mbps).padStart(8)}${percent(f.link).padStart(7)}` +
    `${`${fixed(f.seedCpu)} / ${fixed(f.leechCpu)}`.padStart(18)}${`${fixed(f.seedPerGiB, 2)} / ${fixed(f.leechPerGiB, 2)}`.padStart(16)}` +
    `${`${fixed(f.queueAvgMs, 0)} / ${fixed(f.queueMaxMs, 0)}`.padStart(18)}${count(f.drops).padStart(8)}${count(f.resent).padStart(8)}${String(load1).padStart(7)}  ${ok ? 'yes' : 'NO'}`
  );
}

/** The queue while the transfer ran: mean and largest delay (bytes waiting over the rate), and drops over the whole pair. */
function queueFigures(samples, t, bytesPerSecond) {
  const during = samples.filter((s) => s.t >= t.connectedAt && s.t <= t.doneAt).map((s) => (s.backlog / bytesPerSecond) * 1000);
  const mean = during.length ? during.reduce((a, b) => a + b, 0) / during.length : NaN;
  return { queueAvgMs: mean, queueMaxMs: during.length ? Math.max(...during) : NaN, drops: samples.at(-1).drops - samples[0].drops };
}

function figures(t, bytes, path, queue, resent) {
  const seconds = (t.doneAt - t.connectedAt) / 1000;
  return {
    seconds,
    mbps: mbps(bytes, seconds),
    link: bytes / seconds / path.bytesPerSecond,
    seedCpu: t.seedUsage?.cpuS,
    leechCpu: t.leechUsage?.cpuS,
    seedPerGiB: (t.seedUsage?.cpuS ?? NaN) / (bytes / GiB),
    leechPerGiB: (t.leechUsage?.cpuS ?? NaN) / (bytes / GiB),
    ...queueFigures(queue, t, path.bytesPerSecond),
    resent,
  };
}

function crossLine(c) {
  if (!c) return `    the transfer ended before the TCP flow was due (${CROSS_LEAD_MS / 1000} s after its first connection): raise --size`;
  if (c.error) return `    the TCP flow failed: ${c.error}`;
  const note = c.complete ? '' : ' (the transfer ended inside the window: these shares are not counted; raise --size)';
  return `    beside a TCP flow for ${fixed((c.to - c.from) / 1000, 1)} s (measured over the last ${fixed((c.to - c.measuredFrom) / 1000, 1)} s): this transfer ${percent(c.transferShare)} of the link, the TCP flow ${percent(c.tcpShare)}${note}`;
}

/**
 * Runs every selected pair `o.runs` times over `path` and prints the report; returns how many
 * transfers failed. `env`: { ctx, payload, sha1, dropCaches, cross, interrupted(), out, profiles }.
 */
export async function wanRuns(o, selected, path, env) {
  const { ctx, payload, sha1, dropCaches, cross, out } = env;
  out('MB/s = 10^6 bytes/s of payload; "link" = MB/s over the bottleneck\'s rate (IP, UDP/TCP and uTP headers take about 3-4% of it);');
  out('"transfer" = first connection -> every piece verified, by the leecher\'s own account (libtorrent\'s starts at its connect attempt, one RTT earlier).');
  out('CPU s = user+sys of the whole process (seeds include their initial hash check). queue ms = bytes waiting at the bottleneck towards the');
  out(`leecher over its rate, sampled every 250 ms while the transfer ran; drops = packets that queue dropped (full) during the pair${cross ? ', the TCP flow\'s included' : ''};`);
  out('resent = the seed\'s retransmissions (TCP: segments, from its namespace\'s counters; sixswarm uTP: packets; libtorrent uTP: not known).');
  if (cross) out(`--cross-traffic: ${CROSS_LEAD_MS / 1000} s after each transfer's first connection a bulk TCP flow from a third host to the leecher's host shares the bottleneck for ${o.crossSeconds} s; shares are of the link's rate, over that window less its first ${CROSS_SETTLE_MS / 1000} s.`);
  out(`page cache before every pair: flushed, ${dropCaches ? 'clean pages dropped' : 'NOT dropped (not root)'}, payload read back`);

  const results = Object.fromEntries(selected.map((p) => [p.key, []]));
  let failures = 0;
  for (let i = 1; i <= o.runs && !env.interrupted(); i++) {
    out();
    out(`run ${i}/${o.runs}`);
    out(HEADER);
    for (const pair of selected) {
      if (env.interrupted()) break;
      const dir = join(ctx.work, `run${i}-${pair.key}`);
      await mkdir(dir);
      const profiled = o.cpuProf && pair.client === 'sixswarm';
      settlePageCache(payload, dropCaches);
      const load1 = loadAverage().split(' ')[0];
      const window = cross?.window(dir);
      const retransmits0 = path.tcpRetransmits('seed');
      const stopWatching = path.watchQueue();
      try {
        const profileDir = profiled ? env.profiles.add(`run ${i}, sixswarm ${pair.transport === 'tcp' ? 'TCP' : 'uTP'}`, join(ctx.work, 'cpu-prof', `run${i}-${pair.key}`)) : undefined;
        const { t, digest, ok } = await runVerified(pair.run, { ...ctx, cpuProfDir: profileDir, onConnected: window?.connected }, dir, sha1);
        const crossed = await window?.finish(t.doneAt);
        const queue = await stopWatching();
        const resent = pair.transport === 'tcp' ? path.tcpRetransmits('seed') - retransmits0 : t.packets.resent;
        const f = { ...figures(t, o.size, path, queue, resent), cross: crossed?.complete ? crossed : undefined };
        out(row(`${pair.name}${profiled ? ' (profiled)' : ''}`, f, load1, ok));
        if (cross) out(crossLine(crossed));
        if (ok) results[pair.key].push(f);
        else {
          failures++;
          out(`    the downloaded data does not match the payload (sha1 ${digest}, expected ${sha1})`);
        }
      } catch (e) {
        await window?.finish(0);
        await stopWatching().catch(() => {});
        if (env.interrupted()) break;
        failures++;
        out(`  ${pair.name.padEnd(32)} FAILED: ${e.message}${o.keep ? '' : ' (--keep keeps the logs)'}`);
      }
    }
  }
  if (env.interrupted()) return failures;
  summary(o, selected, results, cross, out);
  return failures;
}

function summary(o, selected, results, cross, out) {
  out();
  out(`medians of ${o.runs} run(s)`);
  out(HEADER);
  const med = {};
  for (const pair of selected) {
    const rs = results[pair.key];
    if (rs.length === 0) continue;
    const m = (k) => median(rs.map((r) => r[k]));
    med[pair.key] = Object.fromEntries(['seconds', 'mbps', 'link', 'seedCpu', 'leechCpu', 'seedPerGiB', 'leechPerGiB', 'queueAvgMs', 'queueMaxMs', 'drops', 'resent'].map((k) => [k, m(k)]));
    const shared = rs.filter((r) => r.cross);
    if (shared.length) med[pair.key].cross = { n: shared.length, transfer: median(shared.map((r) => r.cross.transferShare)), tcp: median(shared.map((r) => r.cross.tcpShare)) };
    out(row(pair.name, med[pair.key], '', true));
  }
  const [su, lu, st, lt] = ['sixswarm-utp', 'libtorrent-utp', 'sixswarm-tcp', 'libtorrent-tcp'].map((k) => med[k]);
  const ratio = (a, b) => `${fixed(a.mbps / b.mbps, 2)}x (${fixed(a.mbps)} vs ${fixed(b.mbps)} MB/s)`;
  const versus = [];
  if (su && lu) versus.push(`over uTP ${ratio(su, lu)}`);
  if (st && lt) versus.push(`over TCP ${ratio(st, lt)}`);
  if (versus.length) out(`sixswarm / libtorrent: ${versus.join('; ')}`);
  const cost = [];
  if (su && st) cost.push(`sixswarm ${ratio(su, st)}`);
  if (lu && lt) cost.push(`libtorrent ${ratio(lu, lt)}`);
  if (cost.length) out(`uTP / TCP on this path: ${cost.join('; ')}`);
  if (cross) {
    const shares = selected.filter((p) => med[p.key]?.cross).map((p) => `${p.name.replace(/ -> \S+/, '')} ${percent(med[p.key].cross.transfer)} / ${percent(med[p.key].cross.tcp)} (${med[p.key].cross.n} run(s))`);
    out(`beside a bulk TCP flow, share of the link (transfer / TCP flow): ${shares.length ? shares.join('; ') : 'no complete window (raise --size)'}`);
  }
}
