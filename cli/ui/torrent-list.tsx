/**
 * The torrent list: one row per torrent on wide terminals, two on narrow ones (name and state,
 * then the figures, each with its word), the selection marked with > and inverse, scrolled to
 * keep it in view; in the order and through the filter chosen (s, S, /), which the header says.
 */
import { Box, Text } from 'ink';
import type { TorrentSummary } from '../../src/status/feed.js';
import { bar, cell, eta, percent, ratio, shortRate, shortSize } from './format.js';
import type { Sort } from './state.js';
import { useTheme, type Theme } from './theme.js';

const SORT_LABEL: Record<Sort, string> = { added: 'as added', name: 'name', progress: 'progress', down: 'download rate', up: 'upload rate', size: 'size', ratio: 'ratio', state: 'state' };

/** Columns from which one line per torrent carries everything. */
export const WIDE = 120;

export const STATE_LABEL: Record<TorrentSummary['state'], string> = {
  'fetching-metadata': 'fetching metadata',
  checking: 'checking',
  downloading: 'downloading',
  seeding: 'seeding',
  stopped: 'stopped',
  paused: 'paused',
  error: 'error',
};

export function stateColor(state: TorrentSummary['state'], t: Theme): string | undefined {
  if (state === 'error') return t.error;
  if (state === 'seeding') return t.ok;
  if (state === 'downloading') return t.down;
  if (state === 'checking' || state === 'fetching-metadata') return t.warn;
  return t.muted;
}

/** Share done: of the check while checking, else of the data. */
export function doneShare(s: TorrentSummary): number {
  if (s.state === 'checking' && s.checking) return s.checking.totalBytes === 0 ? 1 : s.checking.checkedBytes / s.checking.totalBytes;
  return s.totalBytes === 0 ? 1 : s.haveBytes / s.totalBytes;
}

function donePercent(s: TorrentSummary): string {
  return s.state === 'checking' && s.checking ? `${percent(doneShare(s) * 100)}` : percent(s.percent);
}

/** The first row to show so that `index` is visible in `height` rows of `rowsPer` lines each. */
export function firstVisible(index: number, count: number, height: number, rowsPer = 1): number {
  const fits = Math.max(1, Math.floor(height / rowsPer));
  if (count <= fits || index < 0) return 0;
  return Math.min(Math.max(0, index - Math.floor(fits / 2)), count - fits);
}

export interface ListProps {
  /** The torrents shown: sorted and filtered already. */
  torrents: TorrentSummary[];
  /** How many there are in all (the filter may hide some). */
  of?: number;
  sort?: Sort;
  reversed?: boolean;
  filter?: string;
  selected?: string | undefined;
  width: number;
  height: number;
}

/** What the order and the filter are, when either is not the plain list. */
function orderLine({ torrents, of = torrents.length, sort = 'added', reversed = false, filter = '' }: ListProps): string | undefined {
  if (sort === 'added' && !reversed && !filter) return undefined;
  const order = `sorted by ${SORT_LABEL[sort]}${reversed ? ', reversed' : ''}`;
  return filter ? `${order} · filter "${filter}": ${torrents.length} of ${of} (/ then Esc clears it)` : `${order} (s: next order, S: reverse)`;
}

export function TorrentList(props: ListProps) {
  const { torrents, selected, width, height } = props;
  const t = useTheme();
  const order = orderLine(props);
  if (torrents.length === 0) {
    return (
      <Box flexDirection="column" height={height}>
        {order ? <Text wrap="truncate" dimColor>{order}</Text> : null}
        <Text wrap="truncate">{props.of ? 'No torrent matches the filter.' : 'No torrents yet.'}</Text>
        <Text wrap="truncate">Press a to add a .torrent file or a magnet link, ? for every key.</Text>
      </Box>
    );
  }
  const wide = width >= WIDE;
  const rowsPer = wide ? 1 : 2;
  const body = height - 1 - (order ? 1 : 0);
  const index = torrents.findIndex((x) => x.infoHash === selected);
  const start = firstVisible(index, torrents.length, body, rowsPer);
  const shown = torrents.slice(start, start + Math.max(1, Math.floor(body / rowsPer)));
  const more = torrents.length - start - shown.length;
  return (
    <Box flexDirection="column" height={height}>
      {order ? <Text wrap="truncate" dimColor>{order}</Text> : null}
      <Text bold wrap="truncate">
        {wide ? header(width) : `  ${cell('Name', width - 2 - W.state)}${cell('State', W.state, true)}`}
      </Text>
      {shown.map((s) => (
        <Row key={s.infoHash} s={s} wide={wide} width={width} selected={s.infoHash === selected} t={t} />
      ))}
      {start > 0 || more > 0 ? (
        <Text dimColor wrap="truncate">
          {`  ${start > 0 ? `${start} above` : ''}${start > 0 && more > 0 ? ', ' : ''}${more > 0 ? `${more} below` : ''}`}
        </Text>
      ) : null}
    </Box>
  );
}

/** Wide layout: fixed columns after a flexible name. */
const W = { size: 6, bar: 14, pct: 6, rate: 8, eta: 7, ratio: 6, peers: 10, seeds: 5, state: 18 };
const FIXED = 2 + W.size + 1 + W.bar + 1 + W.pct + 1 + W.rate * 2 + 2 + W.eta + 1 + W.ratio + 1 + W.peers + 1 + W.seeds + 1 + W.state;

function header(width: number): string {
  const name = Math.max(10, width - FIXED - 1);
  return (
    `  ${cell('Name', name)} ${cell('Size', W.size, true)} ${cell('Progress', W.bar + 1 + W.pct)} ` +
    `${cell('Down', W.rate, true)} ${cell('Up', W.rate, true)} ${cell('ETA', W.eta, true)} ${cell('Ratio', W.ratio, true)} ` +
    `${cell('IPv4/IPv6', W.peers, true)} ${cell('Seeds', W.seeds, true)} ${cell('State', W.state, true)}`
  );
}

function Row({ s, wide, width, selected, t }: { s: TorrentSummary; wide: boolean; width: number; selected: boolean; t: Theme }) {
  const mark = selected ? '> ' : '  ';
  const state = cell(STATE_LABEL[s.state], W.state, true);
  if (wide) {
    const name = Math.max(10, width - FIXED - 1);
    return (
      <Text wrap="truncate" inverse={selected}>
        {mark}
        {cell(s.name, name)} {cell(shortSize(s.totalBytes), W.size, true)} <Text color={stateColor(s.state, t)}>{bar(doneShare(s), W.bar)}</Text>{' '}
        {cell(donePercent(s), W.pct, true)} <Text color={t.down}>{cell(shortRate(s.downRate), W.rate, true)}</Text>{' '}
        <Text color={t.up}>{cell(shortRate(s.upRate), W.rate, true)}</Text> {cell(eta(s.eta), W.eta, true)} {cell(ratio(s.ratio), W.ratio, true)}{' '}
        {cell(`${s.peers4}/${s.peers6}`, W.peers, true)} {cell(String(s.seeds), W.seeds, true)} <Text color={stateColor(s.state, t)}>{state}</Text>
      </Text>
    );
  }
  // Narrow: each figure with its word; the bar takes what they leave (the IPv4/IPv6 split where there is room).
  const split = width >= 96 ? ` (IPv4 ${s.peers4}, IPv6 ${s.peers6})` : '';
  const figures = ` ${cell(donePercent(s), 6, true)} of ${cell(shortSize(s.totalBytes), 5)}  ↓${cell(shortRate(s.downRate), 7, true)} ↑${cell(shortRate(s.upRate), 7, true)}  eta ${cell(eta(s.eta), 6)} ratio ${cell(ratio(s.ratio), 4)} peers ${s.peers}${split}`;
  const barWidth = Math.max(4, width - 2 - [...figures].length);
  return (
    <>
      <Text wrap="truncate" inverse={selected}>
        {mark}
        {cell(s.name, width - 2 - W.state)}
        <Text color={stateColor(s.state, t)}>{state}</Text>
      </Text>
      <Text wrap="truncate">
        {'  '}
        {s.error ? (
          <Text color={t.error}>{cell(`✗ ${s.error}`, width - 2)}</Text>
        ) : (
          <>
            <Text color={stateColor(s.state, t)}>{bar(doneShare(s), barWidth)}</Text>
            {figures}
          </>
        )}
      </Text>
    </>
  );
}
