/** `sixswarm download`: download a torrent, then seed it. */
import { command } from './command.js';
import { runTorrent } from './torrent-runner.js';
import { parseTorrentArgs, sharedRunOptions } from './torrent-options.js';
import { CONFIG_FILE_NOTE, DOWNLOAD_OPTIONS } from './torrent-option-tables.js';
import { UsageError } from './usage-error.js';

export const download = command({
  name: 'download',
  summary: 'download a torrent (then keep seeding it until stopped)',
  usage: `Usage: sixswarm download <torrent|magnet> [-o DIR] [--peer HOST:PORT]... [--port N]
                          [--no-ipv4] [--no-ipv6] [--exit-on-complete] [--json]
                          [--select 1,3-5] [--skip GLOB]... [--sequential]
                          [--max-down RATE] [--max-up RATE] [--seed-ratio R] [--seed-time DURATION]`,
  about: `Downloads into DIR (the torrent's name is created inside it), verifying every piece with SHA-1
before it counts. Data already in DIR is checked first, so an interrupted download (even one
killed with kill -9) resumes where it was. After completion it keeps seeding until Ctrl-C,
unless --exit-on-complete is given.
On a terminal it shows the terminal UI (Enter: peers by family, trackers, files, pieces;
n: network; ? every key; q or Ctrl-C quits cleanly); with --json, or when stdout or stdin is
not a terminal, it prints lines instead.

A magnet link ('magnet:?xt=urn:btih:HASH&dn=NAME&tr=TRACKER&x.pe=[2001:db8::1]:6881', quoted for
the shell) needs no .torrent: sixswarm finds peers through the link's trackers (tr), its peers
(x.pe) and --peer, fetches the torrent's metadata from them (BEP 9, checked against the info
hash), keeps it in the state folder so a restart does not fetch it again, and then downloads as
from the .torrent. Until a peer answers it says so every 10 s.

DIR is checked before anything is created in it. A symlink inside DIR on the way to a torrent's
file, a file where the torrent needs a folder, a folder, FIFO or device where it needs a file,
or a file with more than one hard link (writing it would change the data under its other
names too) stops the download with exit 2, naming the path: such things are refused, never
replaced or written through; remove them or choose another DIR. (\`seed\` only reads: it seeds
files that have other hard links as they are.)`,
  options: DOWNLOAD_OPTIONS,
  notes: `${CONFIG_FILE_NOTE}

Exit codes: 0 done (every selected piece verified; also when stopped by a signal after that),
1 runtime failure (or another sixswarm downloads this torrent into DIR: it is named), 2 bad
usage, a bad torrent, or DIR holding something in the torrent's way
(see above) or not writable, 130 / 143 stopped by SIGINT / SIGTERM before the download
finished (state saved: the next run resumes).`,
  async run(argv) {
    const { values, positionals } = parseTorrentArgs(argv, 'download');
    if (positionals.length !== 1) throw new UsageError('download needs exactly one torrent file or magnet link. Run with --help for usage.');
    if (values['exit-on-complete'] && (values['seed-ratio'] !== undefined || values['seed-time'] !== undefined)) {
      throw new UsageError('--exit-on-complete exits at once when complete; --seed-ratio / --seed-time exit after seeding that much: give one or the other');
    }
    return runTorrent({
      ...sharedRunOptions(values),
      source: positionals[0]!,
      dir: values.output ?? '.',
      mode: 'download',
      exitOnComplete: !!values['exit-on-complete'],
      select: { select: values.select, skip: values.skip },
      sequential: !!values.sequential,
    });
  },
});
