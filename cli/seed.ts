/** `sixswarm seed`: seed a torrent from data on disk. */
import { command } from './command.js';
import { runTorrent } from './torrent-runner.js';
import { parseTorrentArgs, sharedRunOptions } from './torrent-options.js';
import { CONFIG_FILE_NOTE, SEED_OPTIONS } from './torrent-option-tables.js';
import { UsageError } from './usage-error.js';

export const seed = command({
  name: 'seed',
  summary: 'seed a torrent from data already on disk',
  usage: `Usage: sixswarm seed <torrent> <dir> [--port N] [--peer HOST:PORT]... [--json]
                      [--max-up RATE] [--seed-ratio R] [--seed-time DURATION]`,
  about: `Seeds the data in <dir>, the folder that holds the torrent's name (what \`download -o\` was given),
so a finished download can be seeded as it lies. The data is checked first (resume state makes
later starts instant); only verified pieces are offered. It says what it seeds and how much of
it is there; when none is, but the files are one folder up or down (\`seed x.torrent data/x\`
instead of \`seed x.torrent data\`), it names the folder to give and exits 2. Runs until Ctrl-C /
SIGTERM, or until --seed-ratio / --seed-time is reached.
Files are read where the torrent says they are, never through a symlink inside <dir>: a link,
or something other than a folder or regular file, where the torrent needs one stops seed with
exit 2, naming the path. Files with other hard links are read as they are.
--peer makes the seed dial a leecher itself (useful for clients that only accept connections).
On a terminal it shows the terminal UI (Enter: peers by family, trackers, files, pieces;
n: network; ? every key; q or Ctrl-C quits cleanly); with --json, or when stdout or stdin is
not a terminal, it prints lines instead.`,
  options: SEED_OPTIONS,
  notes: `${CONFIG_FILE_NOTE}

Exit codes: 0 stopped by SIGINT/SIGTERM or a seeding limit, 1 runtime failure (or another
sixswarm runs this torrent in <dir>), 2 bad usage, a bad torrent, or the data elsewhere.`,
  async run(argv) {
    const { values, positionals } = parseTorrentArgs(argv, 'seed');
    if (positionals.length !== 2) throw new UsageError('seed needs a torrent file and the folder that holds its data. Run with --help for usage.');
    return runTorrent({
      ...sharedRunOptions(values),
      source: positionals[0]!,
      dir: positionals[1]!,
      mode: 'seed',
      exitOnComplete: false,
    });
  },
});
