/**
 * The add prompt: a .torrent path or a magnet link, with the reason shown in place when it is
 * refused; Tab completes a path, and lists what it could be when that is more than one thing.
 */
import { Box, Text } from 'ink';
import { fit } from './format.js';
import { useTheme } from './theme.js';

export function AddPrompt({ text, error, busy, candidates, width }: { text: string; error?: string | undefined; busy: boolean; candidates?: string[] | undefined; width: number }) {
  const t = useTheme();
  const room = Math.max(8, width - 4);
  // The end of a long input stays visible, where the typing happens.
  const shown = [...text].length > room ? `…${[...text].slice(-(room - 1)).join('')}` : text;
  return (
    <Box flexDirection="column" borderStyle="round" width={width} paddingX={1}>
      <Text bold wrap="truncate">Add a torrent: the path of a .torrent file, or a magnet link</Text>
      <Text wrap="truncate">
        {fit(shown, room)}
        <Text inverse>{busy ? '…' : ' '}</Text>
      </Text>
      {candidates ? <Text wrap="truncate">{fit(candidates.join('  '), room)}</Text> : null}
      {error ? (
        <Text color={t.error} wrap="truncate">{fit(`✗ ${error}`, room)}</Text>
      ) : (
        <Text dimColor wrap="truncate">{busy ? 'adding…' : 'Enter add · Tab complete the path · Esc cancel · Ctrl-U clear'}</Text>
      )}
    </Box>
  );
}
