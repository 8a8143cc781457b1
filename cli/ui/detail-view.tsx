/**
 * One torrent in detail: its figures, the rate history, then one tab (peers, trackers, files,
 * pieces). A wide terminal shows peers beside trackers and pieces instead of one tab at a time.
 */
import { Box, Text } from 'ink';
import type { TorrentDetail, TorrentSummary } from '../../src/status/feed.js';
import { FilesPanel } from './files-panel.js';
import { cell, eta, fit, percent, ratio, shortRate, shortSize } from './format.js';
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
      </Text>
      {s.error ? (
        <Text color={t.error} wrap="truncate">{fit(`✗ ${s.error}`, width)}</Text>
      ) : (
        <Text wrap="truncate">
          {`${percent(s.percent)} ${shortSize(s.haveBytes)} of ${shortSize(s.totalBytes)} · ${s.have}/${s.pieces} pieces · `}
          <Text color={t.down}>{`↓ ${shortRate(s.downRate)}`}</Text> <Text color={t.up}>{`↑ ${shortRate(s.upRate)}`}</Text>
          {` · eta ${eta(s.eta)} · ratio ${ratio(s.ratio)} · peers ${s.peers} (v4 ${s.peers4}, v6 ${s.peers6}, seeds ${s.seeds}) · known ${s.candidates}`}
          {s.unreachable > 0 ? <Text color={s.peers === 0 ? t.warn : undefined}>{` · unreachable ${s.unreachable}${s.peers === 0 && s.lastUnreachable ? ` (last: ${fit(s.lastUnreachable, 60)})` : ''}`}</Text> : null}
        </Text>
      )}
      <RateChart history={history} width={width} height={chart} />
      {side ? (
        <>
          <Text wrap="truncate" bold>{`${cell(`Peers ${counts.peers}`, Math.floor(width / 2))}Trackers ${counts.trackers}`}</Text>
          <Box height={rest}>
            <Box width={Math.floor(width / 2)} flexDirection="column">
              {panel('peers', Math.floor(width / 2) - 1, rest)}
            </Box>
            <Box flexDirection="column" width={width - Math.floor(width / 2)}>
              {panel('trackers', width - Math.floor(width / 2), Math.ceil(rest / 2))}
              {panel(tab === 'files' ? 'files' : 'pieces', width - Math.floor(width / 2), Math.floor(rest / 2))}
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
