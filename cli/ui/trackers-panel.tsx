/** The torrent's trackers, one row per tracker and address family (BEP 7: announced once per family). */
import { Box, Text } from 'ink';
import type { TrackerStatus } from '../../src/status/feed.js';
import { ago, cell, fit } from './format.js';
import { useTheme } from './theme.js';

export function TrackersPanel({ trackers, now, width, height, scroll }: { trackers: readonly TrackerStatus[]; now: number; width: number; height: number; scroll: number }) {
  const t = useTheme();
  if (trackers.length === 0) {
    return (
      <Box flexDirection="column" height={height}>
        <Text wrap="truncate">No tracker announced to yet (the torrent may have none, or trackers are off).</Text>
      </Box>
    );
  }
  const rows = [...trackers].sort((a, b) => a.url.localeCompare(b.url) || b.family - a.family);
  const fixed = 2 + 5 + 1 + 9 + 1 + 13 + 1 + 9;
  const url = Math.max(16, width - fixed);
  const body = height - 1;
  const start = Math.min(scroll, Math.max(0, rows.length - body));
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate">
        {`  ${cell('Tracker', url)}${cell('Over', 5)} ${cell('Announced', 9, true)} ${cell('Peers v4/v6', 13, true)} ${cell('Next', 9, true)}`}
      </Text>
      {rows.slice(start, start + body).map((r) => {
        const failed = !!r.error;
        return (
          <Text key={`${r.url} ${r.family}`} wrap="truncate">
            <Text color={failed ? t.error : t.ok}>{failed ? '✗ ' : '✓ '}</Text>
            {cell(r.url, url, false, true)}
            <Text color={r.family === 6 ? t.v6 : t.v4}>{cell(`IPv${r.family}`, 5)}</Text>{' '}
            {failed ? (
              <Text color={t.error}>{cell(`${ago(r.lastAnnounce, now)} ago: ${r.error}`, width - url - 8)}</Text>
            ) : (
              <>
                {cell(`${ago(r.lastAnnounce, now)} ago`, 9, true)} {cell(`${r.peers4}/${r.peers6}`, 13, true)}{' '}
                {cell(r.nextAnnounce === null ? '-' : `in ${ago(now, r.nextAnnounce)}`, 9, true)}
                {r.warning ? <Text color={t.warn}>{fit(` ${r.warning}`, width)}</Text> : null}
              </>
            )}
          </Text>
        );
      })}
    </Box>
  );
}
