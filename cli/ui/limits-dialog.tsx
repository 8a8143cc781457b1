/** The rate limits, changed while torrents run (t): download and upload, one field at a time, applied on Enter. */
import { Box, Text } from 'ink';
import { fit } from './format.js';
import { useTheme } from './theme.js';

export function LimitsDialog({ down, up, field, error, busy, width }: { down: string; up: string; field: 'down' | 'up'; error?: string | undefined; busy: boolean; width: number }) {
  const t = useTheme();
  const room = Math.max(8, width - 4);
  const row = (name: 'down' | 'up', label: string, value: string) => (
    <Text wrap="truncate">
      {`  ${label} `}
      <Text inverse={field === name}>{` ${value || (field === name ? '' : 'no limit')} `}</Text>
      {field === name ? <Text inverse>{busy ? '…' : ' '}</Text> : null}
    </Text>
  );
  return (
    <Box flexDirection="column" borderStyle="round" width={width} paddingX={1}>
      <Text bold wrap="truncate">{fit('Rate limits, all torrents together (500k, 2M, 1.5MiB/s; empty or 0: no limit)', room)}</Text>
      {row('down', 'download at most', down)}
      {row('up', 'upload at most  ', up)}
      {error ? (
        <Text color={t.error} wrap="truncate">{fit(`✗ ${error}`, room)}</Text>
      ) : (
        <Text dimColor wrap="truncate">{busy ? 'setting…' : 'Enter set · Tab other field · Esc cancel'}</Text>
      )}
    </Box>
  );
}
