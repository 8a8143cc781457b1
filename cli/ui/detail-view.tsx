/**
 * One torrent in detail: its figures, the rate history, then one tab (peers, trackers, files,
 * pieces). A wide terminal shows peers beside trackers and pieces instead of one tab at a time.
 */
import { Box, Text } from 'ink';
import type { TorrentDetail, TorrentSummary } from '../../src/status/feed.js';
import { FilesPanel } from './files-panel.js';
import { cell, eta, fit, percent, rateWithLimit, ratio, shortSize } from './format.js';
import { PeersPanel } from './peers-panel.js';
import { PieceMapPanel } from './piece-map.js';
import { RateChart } from './rate-chart.js';
import { TABS, type RateHistory, type Tab } from './state.js';
import { useTheme } from './theme.js';
import { STATE_LABEL, stateColor } from './torrent-list.js';
import { TrackersPanel } from './trackers-panel.js';

/** Columns from which peers and trackers/pieces sit side by side. */
export const SIDE_BY_SIDE = 150;

const TAB_LABEL: Record<Tab, string> = { peers: 'Peers', trackers: 'Trackers', files: 'Files', pieces: 'Pieces' };

export interface DetailProps {
  summary: TorrentSummary;
  detail: TorrentDetail | undefined;
  history: RateHistory | undefined;
  tab: Tab;
  scroll: number;
  now: number;
  width: number;
  height: number;
}

/** The chart's rows for a body of `height` rows. */
export function chartRows(height: number): number {
  return height >= 30 ? 8 : height >= 18 ? 4 : 2;
}

export function DetailView({ summary: s, detail, history, tab, scroll, now, width, height }: DetailProps) {
  const t = useTheme();
  const chart = chartRows(height);
  const rest = height - 2 - chart - 1;
  const counts: Record<Tab, number> = {
    peers: (detail?.peerList.length ?? 0) + (s.webSeeds?.length ?? 0),
    trackers: detail?.trackers.length ?? 0,
    files: detail?.files.length ?? 0,
    pieces: s.pieces,
  };
  const side = width >= SIDE_BY_SIDE;
  const left = Math.floor(width / 2);
  const panel = (which: Tab, w: number, h: number) => {
    if (!detail) return <Text>waiting for the engine…</Text>;
    if (which === 'peers') return <PeersPanel peers={detail.peerList} webSeeds={s.webSeeds} width={w} height={h} scroll={scroll} />;
    if (which === 'trackers') return <TrackersPanel trackers={detail.trackers} now={now} width={w} height={h} scroll={scroll} />;
    if (which === 'files') return <FilesPanel files={detail.files} width={w} height={h} scroll={scroll} />;
    return <PieceMapPanel map={detail.pieceMap} pieces={s.pieces} have={s.have} width={w} height={h} />;
  };
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate" bold>
        {fit(s.name, Math.max(10, width - 30))} <Text color={stateColor(s.state, t)}>{STATE_LABEL[s.state]}</Text>
        {s.state === 'checking' && s.checking ? ` ${shortSize(s.checking.checkedBytes)} of ${shortSize(s.checking.totalBytes)} checked` : ''}
        {s.holepunch?.off ? <Text dimColor bold={false}>{` · no holepunch (${s.holepunch.off.split(':')[0]})`}</Text> : null}
      </Text>
      {s.error ? (
        <Text color={t.error} wrap="truncate">{fit(`✗ ${s.error}`, width)}</Text>
      ) : (
        <Text wrap="truncate">
          {`${percent(s.percent)} ${shortSize(s.haveBytes)} of ${shortSize(s.totalBytes)} · ${s.have}/${s.pieces} pieces · `}
          <Text color={t.down}>{`↓ ${rateWithLimit(s.downRate, s.maxDown)}`}</Text> <Text color={t.up}>{`↑ ${rateWithLimit(s.upRate, s.maxUp)}`}</Text>
          {` · eta ${eta(s.eta)} · ratio ${ratio(s.ratio)} · peers ${s.peers} connected (IPv4 ${s.peers4}, IPv6 ${s.peers6}; ${s.seeds} seed${s.seeds === 1 ? '' : 's'}), ${s.candidates} more known`}
          {s.unreachable > 0 ? <Text color={s.peers === 0 ? t.warn : undefined}>{` · ${s.unreachable} unreachable${s.peers === 0 && s.lastUnreachable ? ` (last: ${fit(s.lastUnreachable, 60)})` : ''}`}</Text> : null}
        </Text>
      )}
      <RateChart history={history} limits={{ down: s.maxDown, up: s.maxUp }} width={width} height={chart} />
      {side ? (
        <>
          <Text wrap="truncate" bold>{`${cell(`Peers ${counts.peers}`, left)}Trackers ${counts.trackers}`}</Text>
          <Box height={rest}>
            <Box width={left} flexDirection="column">
              {panel('peers', left - 1, rest)}
            </Box>
            <Box flexDirection="column" width={width - left}>
              {panel('trackers', width - left, Math.ceil(rest / 2))}
              {panel(tab === 'files' ? 'files' : 'pieces', width - left, Math.floor(rest / 2))}
            </Box>
          </Box>
        </>
      ) : (
        <>
          <Text wrap="truncate">
            {TABS.map((k, i) => (
              <Text key={k} inverse={k === tab} bold={k === tab}>{` ${i + 1} ${TAB_LABEL[k]} ${counts[k]} `}</Text>
            ))}
            <Text dimColor> Tab/1-4 switch · ↑↓ scroll</Text>
          </Text>
          <Box height={rest} flexDirection="column">
            {panel(tab, width, rest)}
          </Box>
        </>
      )}
    </Box>
  );
}
