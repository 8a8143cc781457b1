/** Every key, and what the peer flags mean. Any key closes it. */
import { Box, Text } from 'ink';
import type { Capability } from './state.js';

export const KEYS: { keys: string; what: string; needs?: Capability }[] = [
  { keys: '↑ ↓  j k  PgUp PgDn', what: 'select a torrent (in details and the log: scroll)' },
  { keys: 'Enter  →', what: 'details of the selected torrent' },
  { keys: 'Esc  ←  Backspace', what: 'back to the list' },
  { keys: '1-4  Tab', what: 'details: peers, trackers, files, pieces' },
  { keys: 's  S', what: 'sort the list by the next figure (name, progress, rates, size...) / reverse it' },
  { keys: '/', what: 'filter the list by name or state as you type (Enter keeps it, Esc clears it)' },
  { keys: 't', what: 'rate limits: download and upload at most, for all torrents, now', needs: 'limits' },
  { keys: 'l', what: 'the log: every warning, error and notice of this run' },
  { keys: 'n', what: 'network: our addresses, reachability, the tunnel' },
  { keys: 'a', what: 'add a .torrent file (Tab completes its path) or a magnet link', needs: 'add' },
  { keys: 'p  r  space', what: 'pause (peers closed, trackers told) / resume / either, the selected torrent', needs: 'pause' },
  { keys: 'c', what: 're-check: hash all its data again', needs: 'recheck' },
  { keys: 'd', what: 'remove it (asks: keep the data, or delete its files)', needs: 'remove' },
  { keys: 'q  Ctrl-C', what: 'quit: resume state saved, peers closed cleanly' },
];

export function HelpOverlay({ can, width, height }: { can: ReadonlySet<Capability>; width: number; height: number }) {
  const lines = [
    ...KEYS.map((k) => `  ${k.keys.padEnd(22)}${k.what}${k.needs && !can.has(k.needs) ? (k.needs === 'limits' ? ' (not in the demo)' : ' (in `sixswarm ui` only)') : ''}`),
    'Peer flags: D we download from it (d: it chokes us), U we upload to it (u: we',
    '  choke it), E encrypted, T over uTP (H: holepunched), in/out. Learned:',
    '  tracker, pex, dht, lsd (on the LAN), manual (--peer), magnet, ltep (its',
    '  other family), incoming. Grouped: IPv6, IPv6 via our tunnel, IPv4. Files',
    '  are chosen at start (download --select / --skip). Press any key to close.',
  ];
  return (
    <Box flexDirection="column" height={height} width={width}>
      <Text bold>Keys</Text>
      {lines.slice(0, height - 1).map((l, i) => (
        <Text key={i} wrap="truncate">{l}</Text>
      ))}
    </Box>
  );
}
