/** Numbers for people: rates, medians, the per-run table. MB = 10^6 bytes, GB = 10^9 bytes. */
import { readFileSync } from 'node:fs';

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function mbps(bytes, seconds) {
  return bytes / 1e6 / seconds;
}

export function fixed(x, digits = 1) {
  return Number.isFinite(x) ? x.toFixed(digits) : '-';
}

export function loadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function mib(kib) {
  return kib === undefined ? '-' : `${Math.round(kib / 1024)}`;
}

/** Width of the pair-name column (fits "sixswarm -> sixswarm (profiled)"). */
export const NAME_WIDTH = 33;

/** Columns of one transfer row; `r` is a pair's Transfer plus `bytes`, `ok`, `load1`. */
export const TABLE_HEADER =
  `  ${'pair'.padEnd(NAME_WIDTH)}${'transfer'.padStart(10)}${'MB/s'.padStart(8)}${'wall'.padStart(9)}${'wall MB/s'.padStart(11)}` +
  `${'to 1st conn'.padStart(13)}${'CPU s seed/leech'.padStart(18)}${'peak RSS MiB s/l'.padStart(18)}${'load1'.padStart(7)}  ok`;

export function transferRow(name, r) {
  const t = (r.doneAt - r.connectedAt) / 1000;
  const wall = (r.exitAt - r.spawnAt) / 1000;
  const startup = (r.connectedAt - r.spawnAt) / 1000;
  const cpu = `${fixed(r.seedUsage?.cpuS)} / ${fixed(r.leechUsage?.cpuS)}`;
  const rss = `${mib(r.seedUsage?.maxRssKiB)} / ${mib(r.leechUsage?.maxRssKiB)}`;
  return (
    `  ${name.padEnd(NAME_WIDTH)}${`${fixed(t, 2)} s`.padStart(10)}${fixed(mbps(r.bytes, t)).padStart(8)}${`${fixed(wall, 2)} s`.padStart(9)}` +
    `${fixed(mbps(r.bytes, wall)).padStart(11)}${`${fixed(startup, 2)} s`.padStart(13)}${cpu.padStart(18)}${rss.padStart(18)}${r.load1.padStart(7)}  ${r.ok ? 'yes' : 'NO'}`
  );
}
