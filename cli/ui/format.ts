/** Text for the terminal UI's cells: short sizes and rates, bars, ages, and text cut to a width. */
import type { LsdStatus } from '../../src/discovery/lsd-discovery.js';
import { printable } from '../../src/util/sanitize.js';

const SHORT_UNITS = ['B', 'K', 'M', 'G', 'T', 'P'];

/** A byte count in at most 5 characters: 999B, 12.3K, 1.0G. */
export function shortSize(bytes: number): string {
  let v = Math.max(0, bytes);
  let u = 0;
  while (v >= 999.5 && u < SHORT_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${Math.round(v)}B`;
  return `${v >= 99.95 ? Math.round(v) : v.toFixed(1)}${SHORT_UNITS[u]}`;
}

export function shortRate(bytesPerSecond: number): string {
  return `${shortSize(bytesPerSecond)}/s`;
}

/** A rate with the limit on it, where there is one: "1.2M/s of 2.0M/s". */
export function rateWithLimit(rate: number, limit: number | null | undefined): string {
  return limit ? `${shortRate(rate)} of ${shortRate(limit)}` : shortRate(rate);
}

/** `fraction` (0..1) of `width` cells filled, with eighths at the edge so slow progress still moves. */
export function bar(fraction: number, width: number): string {
  if (width <= 0) return '';
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8);
  const part = eighths % 8;
  const partial = part > 0 ? '▏▎▍▌▋▊▉'[part - 1]! : '';
  return '█'.repeat(full) + partial + '·'.repeat(width - full - (partial ? 1 : 0));
}

export function percent(p: number): string {
  return `${p >= 100 ? '100' : p.toFixed(1)}%`;
}

export function ratio(r: number | null): string {
  if (r === null) return '-';
  return r >= 99.95 ? `${Math.round(r)}` : r.toFixed(2);
}

export function eta(seconds: number | null): string {
  return seconds === null ? '-' : formatDuration(seconds);
}

/** How long ago `at` (ms since the epoch) was, from `now`: 5s, 3m20s, 1h02m; "never" for 0. */
export function ago(at: number, now: number): string {
  if (!at) return 'never';
  return formatDuration(Math.max(0, (now - at) / 1000));
}

/**
 * `text` cut to `width` columns, with … where it was cut; `middle` keeps both ends (addresses,
 * paths). Control characters (from torrents, peers, trackers) come out as visible escapes.
 */
export function fit(text: string, width: number, middle = false): string {
  if (width <= 0) return '';
  const chars = [...printable(text)];
  if (chars.length <= width) return chars.join('');
  if (width === 1) return '…';
  if (!middle) return `${chars.slice(0, width - 1).join('')}…`;
  const head = Math.ceil((width - 1) / 2);
  return `${chars.slice(0, head).join('')}…${chars.slice(chars.length - (width - 1 - head)).join('')}`;
}

/** `text` cut or padded to exactly `width` columns (right-aligned with `right`). */
export function cell(text: string, width: number, right = false, middle = false): string {
  const t = fit(text, width, middle);
  const pad = ' '.repeat(Math.max(0, width - [...t].length));
  return right ? pad + t : t + pad;
}

/** 1h05m, 3m07s, 42s. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** Where local peer discovery runs, per family: "on eth0, wlan0 (IPv4) and eth0 (IPv6)". */
export function lsdInterfaces(interfaces: LsdStatus['interfaces']): string {
  const parts = ([4, 6] as const).flatMap((f) => {
    const list = interfaces[f];
    if (!list) return [];
    return [list.length > 0 ? `${list.map((i) => printable(i.name, 32)).join(', ')} (IPv${f})` : `no LAN interface yet (IPv${f})`];
  });
  return `on ${parts.join(' and ')}`;
}
