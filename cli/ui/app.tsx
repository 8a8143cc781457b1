/**
 * The whole screen, from the state alone: a header, the open view (list, details, network, or
 * help), a message line for errors and notices, and the keys. It never draws more than
 * `height - 1` lines (a full screen would make ink clear the terminal at every frame).
 */
import { Box, Text } from 'ink';
import { ConfirmRemove } from './confirm-dialog.js';
import { DetailView } from './detail-view.js';
import { fit, shortRate } from './format.js';
import { HelpOverlay } from './help-overlay.js';
import { NetworkPanel } from './network-panel.js';
import { AddPrompt } from './prompt.js';
import { selectedTorrent, type Capability, type UiState } from './state.js';
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
  const down = ts.reduce((n, x) => n + x.downRate, 0);
  const up = ts.reduce((n, x) => n + x.upRate, 0);
  const p4 = ts.reduce((n, x) => n + x.peers4, 0);
  const p6 = ts.reduce((n, x) => n + x.peers6, 0);
  return (
    <Text wrap="truncate" bold>
      <Text color={t.accent}>sixswarm</Text>
      {` ${fit(state.title, Math.max(8, width - 64))} · ${ts.length} torrent${ts.length === 1 ? '' : 's'} · `}
      <Text color={t.down}>{`↓ ${shortRate(down)}`}</Text> <Text color={t.up}>{`↑ ${shortRate(up)}`}</Text>
      {' · peers '}
      <Text color={t.v4}>{`v4 ${p4}`}</Text> <Text color={t.v6}>{`v6 ${p6}`}</Text>
      {' · ? help'}
    </Text>
  );
}

function Body({ state, width, height }: { state: UiState; width: number; height: number }) {
  const o = state.overlay;
  if (o?.kind === 'help') return <HelpOverlay can={state.can} width={width} height={height} />;
  const dialog = o?.kind === 'prompt' ? 5 : o?.kind === 'confirm-remove' ? 6 : 0;
  const h = height - dialog;
  const sel = selectedTorrent(state);
  let view;
  if (state.view === 'network') view = <NetworkPanel engine={state.snapshot.engine} now={state.snapshot.at} width={width} height={h} />;
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
  } else view = <TorrentList torrents={state.snapshot.torrents} selected={state.selected} width={width} height={h} />;
  return (
    <Box flexDirection="column" height={height}>
      <Box height={h} flexDirection="column" overflow="hidden">
        {view}
      </Box>
      {o?.kind === 'prompt' ? <AddPrompt text={o.text} error={o.error} busy={o.busy} width={width} /> : null}
      {o?.kind === 'confirm-remove' ? <ConfirmRemove name={o.name} width={width} /> : null}
    </Box>
  );
}

function MessageLine({ state, width }: { state: UiState; width: number }) {
  const t = useTheme();
  if (state.quitting) return <Text wrap="truncate">closing peers and saving resume state… (Ctrl-C again quits at once)</Text>;
  const m = state.message;
  if (m) return <Text color={m.kind === 'error' ? t.error : t.ok} wrap="truncate">{fit(`${m.kind === 'error' ? '✗' : '✓'} ${m.text}`, width)}</Text>;
  const sel = selectedTorrent(state);
  if (sel?.error) return <Text color={t.error} wrap="truncate">{fit(`✗ ${sel.name}: ${sel.error}`, width)}</Text>;
  return <Text> </Text>;
}

const HINTS: { text: string; needs?: Capability; views?: UiState['view'][] }[] = [
  { text: 'Enter details', views: ['list'] },
  { text: 'Esc back', views: ['detail', 'network'] },
  { text: '1-4 tabs', views: ['detail'] },
  { text: 'a add', needs: 'add' },
  { text: 'p pause', needs: 'pause' },
  { text: 'r resume', needs: 'resume' },
  { text: 'd remove', needs: 'remove' },
  { text: 'c check', needs: 'recheck' },
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
