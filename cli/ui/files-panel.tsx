/**
 * The torrent's files with how much of each is verified; skipped ones marked. Which files are
 * downloaded is fixed when the torrent starts (the engine has no way to change it while it runs),
 * and the panel says so rather than offer keys that would do nothing.
 */
import { Box, Text } from 'ink';
import type { FileStatus } from '../../src/status/feed.js';
import { bar, cell, percent, shortSize } from './format.js';
import { useTheme } from './theme.js';

export function FilesPanel({ files, width, height, scroll }: { files: readonly FileStatus[]; width: number; height: number; scroll: number }) {
  const t = useTheme();
  const barWidth = width >= 110 ? 20 : 10;
  const path = Math.max(12, width - (2 + 6 + 1 + barWidth + 1 + 6));
  const body = height - 1;
  const start = Math.min(scroll, Math.max(0, files.length - body));
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate">{`  ${cell(`Files (${files.length})`, path)}${cell('Size', 6, true)} ${cell('Progress', barWidth + 7)}`}</Text>
      {files.slice(start, start + body - 1).map((f) => {
        const share = f.length === 0 ? 1 : f.haveBytes / f.length;
        return (
          <Text key={f.path} wrap="truncate" dimColor={!f.selected}>
            {`  ${cell(f.path, path, false, true)}${cell(shortSize(f.length), 6, true)} `}
            {f.selected ? <Text color={share >= 1 ? t.ok : t.down}>{bar(share, barWidth)}</Text> : cell('skipped', barWidth)}
            {` ${f.selected ? cell(percent(Math.floor(share * 10000) / 100), 6, true) : ''}`}
          </Text>
        );
      })}
      <Text dimColor wrap="truncate">
        {'  files are chosen at start (download --select 1,3-5 / --skip GLOB); the engine cannot change them while it runs'}
      </Text>
    </Box>
  );
}
