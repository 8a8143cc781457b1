/**
 * The whole screen, from the state alone: a header, the open view (list, details, network, the
 * log, or help), a message line for errors, warnings and notices, and the keys. It never draws
 * more than `height - 1` lines (a full screen would make ink clear the terminal at every frame).
 */
import { Box, Text } from 'ink';
import { ConfirmRemove } from './confirm-dialog.js';
import { LimitsDialog } from './limits-dialog.js';
import { DetailView } from './detail-view.js';
import { fit, rateWithLimit } from './format.js';
import { HelpOverlay } from './help-overlay.js';
import { LEVEL_MARK, levelColor, LogView } from './log-view.js';
import { NetworkPanel } from './network-panel.js';
import { AddPrompt } from './prompt.js';
import { selectedTorrent, visibleTorrents, type Capability, type UiState } from './state.js';
import { ThemeContext, useTheme, type Theme } from './theme.js';
import { TorrentList } from './torrent-list.js';

/** The smallest screen laid out as designed; smaller ones get the same, cut. */
export const MIN_WIDTH = 40;
export const MIN_HEIGHT = 8;

export function App({ state, width, height, theme }: { state: UiState; width: number; height: number; theme: Theme }) {
  const w = Math.max(MIN_WIDTH, width);
  const rows = Math.max(MIN_HEIGHT, height) - 1;
  return (
    <ThemeContext.Provider value={theme}>
      <Box flexDirection="column" width={w} height={rows}>
        <Header state={state} width={w} />
        <Body state={state} width={w} height={rows - 3} />
        <MessageLine state={state} width={w} />
        <Footer state={state} width={w} />
      </Box>
    </ThemeContext.Provider>
  );
}

function Header({ state, width }: { state: UiState; width: number }) {
  const t = useTheme();
  const ts = state.snapshot.torrents;
  const limits = state.snapshot.engine.limits;
  const down = `↓ ${rateWithLimit(ts.reduce((n, x) => n + x.downRate, 0), limits?.down)}`;
  const up = `↑ ${rateWithLimit(ts.reduce((n, x) => n + x.upRate, 0), limits?.up)}`;
  const p4 = ts.reduce((n, x) => n + x.peers4, 0);
  const p6 = ts.reduce((n, x) => n + x.peers6, 0);
  const count = ` · ${ts.length} torrent${ts.length === 1 ? '' : 's'} · `;
  const peers = ' · peers: ';
  const v4 = `IPv4 ${p4}`;
  const v6 = `IPv6 ${p6}`;
  // The title (a session's folder, a torrent's name) gets what the figures leave, cut in the middle: its end tells most.
  const rest = 'sixswarm '.length + count.length + down.length + 1 + up.length + peers.length + v4.length + 2 + v6.length;
  return (
    <Text wrap="truncate" bold>
      <Text color={t.accent}>sixswarm</Text>
      {` ${fit(state.title, Math.max(8, width - rest), true)}${count}`}
      <Text color={t.down}>{down}</Text> <Text color={t.up}>{up}</Text>
      {peers}
      <Text color={t.v4}>{v4}</Text>
      {', '}
      <Text color={t.v6}>{v6}</Text>
    </Text>
  );
}

function Body({ state, width, height }: { state: UiState; width: number; height: number }) {
  const o = state.overlay;
  if (o?.kind === 'help') return <HelpOverlay can={state.can} width={width} height={height} />;
  const dialog = o?.kind === 'prompt' ? (o.candidates ? 6 : 5) : o?.kind === 'confirm-remove' || o?.kind === 'limits' ? 6 : o?.kind === 'filter' ? 1 : 0;
  const h = height - dialog;
  const sel = selectedTorrent(state);
  let view;
  if (state.view === 'network') view = <NetworkPanel engine={state.snapshot.engine} now={state.snapshot.at} width={width} height={h} />;
  else if (state.view === 'log') view = <LogView log={state.log} scroll={state.scroll} width={width} height={h} />;
  else if (state.view === 'detail' && sel) {
    view = (
      <DetailView
        summary={sel}
        detail={state.snapshot.detail?.infoHash === sel.infoHash ? state.snapshot.detail : undefined}
        history={state.history[sel.infoHash]}
        tab={state.tab}
        scroll={state.scroll}
        now={state.snapshot.at}
        width={width}
        height={h}
      />
    );
  } else {
    const all = state.snapshot.torrents.length;
    view = <TorrentList torrents={visibleTorrents(state)} of={all} sort={state.sort} reversed={state.reversed} filter={state.filter} selected={state.selected} width={width} height={h} />;
  }
  return (
    <Box flexDirection="column" height={height}>
      <Box height={h} flexDirection="column" overflow="hidden">
        {view}
      </Box>
      {o?.kind === 'prompt' ? <AddPrompt text={o.text} error={o.error} busy={o.busy} candidates={o.candidates} width={width} /> : null}
      {o?.kind === 'confirm-remove' ? <ConfirmRemove name={o.name} width={width} /> : null}
      {o?.kind === 'limits' ? <LimitsDialog down={o.down} up={o.up} field={o.field} error={o.error} busy={o.busy} width={width} /> : null}
      {o?.kind === 'filter' ? <Text wrap="truncate">{fit(`filter: ${state.filter}`, width - 40)}<Text inverse> </Text><Text dimColor>  Enter keep · Esc clear</Text></Text> : null}
    </Box>
  );
}

function MessageLine({ state, width }: { state: UiState; width: number }) {
  const t = useTheme();
  if (state.quitting) return <Text wrap="truncate">closing peers and saving resume state… (Ctrl-C again quits at once)</Text>;
  const m = state.message;
  if (m) {
    const text = `${LEVEL_MARK[m.kind]} ${m.kind === 'warning' ? 'warning: ' : ''}${m.text}`;
    // Cut: the whole of it is in the log.
    const shown = [...text].length > width ? `${fit(text, width - 9)} (l: log)` : text;
    return <Text color={levelColor(m.kind, t)} wrap="truncate">{shown}</Text>;
  }
  const sel = selectedTorrent(state);
  if (sel?.error) return <Text color={t.error} wrap="truncate">{fit(`✗ ${sel.name}: ${sel.error}`, width)}</Text>;
  return <Text> </Text>;
}

const HINTS: { text: string; needs?: Capability; views?: UiState['view'][] }[] = [
  { text: 'Enter details', views: ['list'] },
  { text: 'Esc back', views: ['detail', 'network', 'log'] },
  { text: '1-4 tabs', views: ['detail'] },
  { text: 'a add', needs: 'add' },
  { text: 'p pause', needs: 'pause' },
  { text: 'r resume', needs: 'resume' },
  { text: 'd remove', needs: 'remove' },
  { text: 't limits', needs: 'limits' },
  { text: 's sort', views: ['list'] },
  { text: '/ filter', views: ['list'] },
  { text: 'l log' },
  { text: 'n network' },
  { text: '? help' },
  { text: 'q quit' },
];

function Footer({ state, width }: { state: UiState; width: number }) {
  const hints = HINTS.filter((h) => (!h.needs || state.can.has(h.needs)) && (!h.views || h.views.includes(state.view))).map((h) => h.text);
  return (
    <Text dimColor wrap="truncate">
      {fit(hints.join('  '), width)}
    </Text>
  );
}
