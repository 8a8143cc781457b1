/** Removing a torrent asks first, and deleting its data takes a key of its own (shift-D). */
import { Box, Text } from 'ink';
import { fit } from './format.js';
import { useTheme } from './theme.js';

export function ConfirmRemove({ name, width }: { name: string; width: number }) {
  const t = useTheme();
  const room = Math.max(8, width - 4);
  return (
    <Box flexDirection="column" borderStyle="round" width={width} paddingX={1}>
      <Text bold wrap="truncate">{fit(`Remove "${name}" from the session?`, room)}</Text>
      <Text wrap="truncate">  k  remove it, keep the data on disk</Text>
      <Text wrap="truncate">
        {'  '}
        <Text color={t.error} bold>D</Text>
        {'  remove it and delete its files (only the torrent\'s own files)'}
      </Text>
      <Text wrap="truncate" dimColor>  Esc  keep it</Text>
    </Box>
  );
}
