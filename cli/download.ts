/** `sixswarm download`: download a torrent, then seed it. */
import { command } from './command.js';
import { runTorrent } from './torrent-runner.js';
import { parseTorrentArgs, sharedRunOptions } from './torrent-options.js';
import { CONFIG_FILE_NOTE, DOWNLOAD_OPTIONS } from './torrent-option-tables.js';
import { UsageError } from './usage-error.js';

export const download = command({
  name: 'download',
  summary: 'download a torrent (then keep seeding it until stopped)',
  usage: `Usage: sixswarm download <torrent|magnet> [-o DIR] [options]`,
  about: `Downloads a torrent (a .torrent file, or a magnet link in quotes) into DIR, verifying every
piece, then keeps seeding it until Ctrl-C, unless --exit-on-complete. An interrupted download
resumes where it stopped. On a terminal it shows the terminal UI (? lists its keys); with --json,
or when stdout or stdin is not a terminal, it prints lines instead.

  sixswarm download ubuntu.iso.torrent -o ~/Downloads --exit-on-complete
  sixswarm download 'magnet:?xt=urn:btih:HASH&dn=NAME' --max-down 2M --seed-ratio 1`,
  common: ['output', 'exit-on-complete', 'peer', 'port', 'max-down', 'max-up', 'seed-ratio', 'seed-time', 'select', 'skip', 'sequential', 'encryption', 'json'],
  options: DOWNLOAD_OPTIONS,
  notes: `Magnet links: no .torrent needed. sixswarm finds peers through the link's trackers (tr), its
peers (x.pe) and --peer, fetches the torrent's metadata from them (BEP 9, checked against the
info hash), keeps it in the state folder so a restart does not fetch it again, then downloads as
from the .torrent. Until a peer answers it says so every 10 s.

DIR is checked before anything is created in it. A symlink inside DIR on the way to a torrent's
file, a file where the torrent needs a folder, a folder, FIFO or device where it needs a file,
or a file with more than one hard link (writing it would change the data under its other
names too) stops the download with exit 2, naming the path: such things are refused, never
replaced or written through; remove them or choose another DIR. (\`seed\` only reads: it seeds
files that have other hard links as they are.)

${CONFIG_FILE_NOTE}

Exit codes: 0 done (every selected piece verified; also when stopped by a signal after that),
1 runtime failure (or another sixswarm downloads this torrent into DIR: it is named), 2 bad
usage, a bad torrent, or DIR holding something in the torrent's way
(see above) or not writable, 129 / 130 / 143 stopped by SIGHUP (the terminal closed) / SIGINT
(or q / Ctrl-C in the UI) / SIGTERM before the download finished (state saved: the next run
resumes).`,
  async run(argv) {
    const { values, positionals, attributed } = parseTorrentArgs(argv, 'download');
    if (positionals.length !== 1) throw new UsageError('download needs exactly one torrent file or magnet link. Run with --help for usage.');
    if (values['exit-on-complete'] && (values['seed-ratio'] !== undefined || values['seed-time'] !== undefined)) {
      throw new UsageError('--exit-on-complete exits at once when complete; --seed-ratio / --seed-time exit after seeding that much: give one or the other');
    }
    return attributed(() =>
      runTorrent({
        ...sharedRunOptions(values),
        source: positionals[0]!,
        dir: values.output ?? '.',
        mode: 'download',
        exitOnComplete: !!values['exit-on-complete'],
        select: { select: values.select, skip: values.skip },
        sequential: !!values.sequential,
      }),
    );
  },
});
