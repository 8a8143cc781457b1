/** `sixswarm create`: make a .torrent for a file or a folder. */
import { lstat, open, stat, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { createTorrent } from '../src/metainfo/create.js';
import { toMagnet } from '../src/metainfo/magnet.js';
import { parseTorrent } from '../src/metainfo/torrent.js';
import { writeFileAtomic } from '../src/util/atomic-write.js';
import { UsageError } from './usage-error.js';
import { formatSize, parseSize } from '../src/util/size.js';
import { command } from './command.js';
import { parseHostPorts } from './host-ports.js';
import { parseOptions, type OptionTable } from './option-table.js';
import { checkFolderWritable } from '../src/storage/writable.js';

const options = {
  output: { type: 'string', short: 'o', value: 'FILE', help: 'where to write it (default: <name>.torrent in the current folder)' },
  tracker: { type: 'string', short: 't', multiple: true, value: 'URL', help: 'add a tracker tier; repeat for more tiers; URL1,URL2 makes one tier of two' },
  'piece-length': {
    type: 'string',
    short: 'l',
    value: 'SIZE',
    help: ['piece size: a power of two from 16K to 256M, as 262144, 256K or 1M', '(default: chosen for about 1000-2000 pieces)'],
  },
  private: { type: 'boolean', short: 'p', help: 'set the private flag (BEP 27): peers come from the trackers only' },
  v2: { type: 'boolean', help: ['a BitTorrent v2 torrent (BEP 52): per-file SHA-256 merkle trees; only v2', 'clients (libtorrent 2, qBittorrent 4.4 on) can use it'] },
  hybrid: { type: 'boolean', help: ['a v1+v2 hybrid: both kinds of client can use it (files padded to', 'start at pieces; v1 peers and v2 peers share one swarm)'] },
  comment: { type: 'string', short: 'c', value: 'TEXT', help: 'a comment stored in the torrent' },
  force: { type: 'boolean', short: 'f', help: 'replace the output file if it exists' },
  magnet: { type: 'boolean', help: "also print the torrent's magnet link (with its trackers)" },
  'x-pe': {
    type: 'string',
    multiple: true,
    value: 'HOST:PORT',
    help: ['with --magnet: add this peer to the link, e.g. the seed you will run', 'on [2001:db8::1]:6881 (repeatable; refused with --private)'],
  },
} as const satisfies OptionTable;

const notes = `Exit codes: 0 written, 1 runtime failure (e.g. a read error while hashing), 2 bad usage or
bad input (bad options, nothing to share, an unsafe file name, a symlink, an existing output).

Examples:
  sixswarm create ./photos --tracker udp://[2001:db8::1]:6969/announce
  sixswarm create big.iso -o big.torrent --piece-length 4M --private
  sixswarm create ./album --hybrid
`;

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw e;
    },
  );
}

/** Writes without replacing anything: 'wx' fails if the file appeared while we were hashing. */
async function writeNew(file: string, data: Buffer): Promise<void> {
  const fh = await open(file, 'wx', 0o644).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EEXIST') throw new UsageError(`"${file}" already exists; use --force to replace it`);
    throw e;
  });
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(file).catch(() => undefined);
    throw e;
  }
  await fh.close();
}

/** A one-line progress display, redrawn at most ten times a second. */
function progressLine(): { update: (done: number, total: number) => void; finish: () => void } {
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      drawn = true;
      const pct = Math.floor((done / total) * 100);
      process.stderr.write(`\rhashing ${pct}% (${formatSize(done)} of ${formatSize(total)})\x1b[K`);
    },
    finish() {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(options, argv, { positionals: true });
  if (positionals.length !== 1) throw new UsageError(`expected one file or folder to share, got ${positionals.length}; see \`sixswarm create --help\``);
  const source = positionals[0]!;

  let pieceLength: number | undefined;
  if (values['piece-length'] !== undefined) {
    pieceLength = parseSize(values['piece-length']);
    if (pieceLength === undefined) throw new UsageError(`bad --piece-length "${values['piece-length']}": expected bytes, like 262144, 256K or 1M`);
  }
  if (values.v2 && values.hybrid) throw new UsageError('--v2 and --hybrid exclude each other: --hybrid already makes a v2 torrent that v1 clients can use too');
  const format = values.hybrid ? 'hybrid' : values.v2 ? 'v2' : 'v1';
  const trackers = (values.tracker ?? []).map((t) => t.split(',').map((u) => u.trim()).filter((u) => u !== ''));
  const peers = parseHostPorts(values['x-pe'], '--x-pe');
  if (peers.length > 0 && !values.magnet) throw new UsageError('--x-pe only goes with --magnet');
  if (peers.length > 0 && values.private) throw new UsageError('--x-pe: a private torrent gets its peers from its tracker only (BEP 27)');

  const outputName = values.output ?? `${basename(resolve(source))}.torrent`;
  const output = resolve(outputName);
  const outDir = await stat(dirname(output)).catch(() => undefined);
  if (!outDir?.isDirectory()) throw new UsageError(`cannot write "${outputName}": its folder does not exist`);
  // Before the hashing, which may take minutes: a folder the torrent cannot be written into is said now.
  const advice = 'write the torrent elsewhere (-o FILE)';
  await checkFolderWritable(dirname(output), { name: `the folder for ${basename(output)}`, cannotCreate: advice, cannotWrite: advice });
  if (await exists(output)) {
    if (!values.force) throw new UsageError(`"${outputName}" already exists; use --force to replace it`);
    const rel = relative(resolve(source), output);
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) {
      throw new UsageError(`"${outputName}" lies inside the folder being shared; write the torrent somewhere else`);
    }
  }

  const progress = process.stderr.isTTY ? progressLine() : undefined;
  let torrent: Buffer;
  try {
    torrent = await createTorrent({
      path: source,
      format,
      trackers,
      pieceLength,
      private: values.private ?? false,
      comment: values.comment,
      onProgress: progress?.update,
    });
  } finally {
    progress?.finish();
  }
  const meta = parseTorrent(torrent);
  if (values.force) await writeFileAtomic(output, torrent);
  else await writeNew(output, torrent);
  const v2Line = meta.infoHashV2 ? `infohash v2 ${meta.infoHashV2.toString('hex')}\n` : '';
  process.stdout.write(`wrote ${outputName}\n${meta.v1 ? `infohash ${meta.infoHashHex}\n` : ''}${v2Line}${values.magnet ? `magnet ${toMagnet(meta, peers)}\n` : ''}`);
  return 0;
}

export const create = command({
  name: 'create',
  summary: 'make a .torrent for a file or a folder',
  usage: 'Usage: sixswarm create <path> [options]',
  about: `Make a .torrent for a file or a folder (all files below it, in a stable order). Symlinks are
refused (seeding never follows them): copy the file into place, or pass the real folder.`,
  options,
  notes,
  run,
});
