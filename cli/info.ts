/** `sixswarm info`: show what a .torrent file or a magnet link describes. */
import { isMagnet, parseMagnet, toMagnet } from '../src/metainfo/magnet.js';
import { readTorrentFile } from '../src/metainfo/torrent.js';
import type { MagnetLink, Metainfo } from '../src/metainfo/types.js';
import { formatHostPort } from '../src/net/hostport.js';
import { UsageError } from './usage-error.js';
import { printable } from '../src/util/sanitize.js';
import { formatSize } from '../src/util/size.js';
import { command } from './command.js';
import { numberedFiles } from '../src/storage/selection.js';
import { parseHostPorts } from './host-ports.js';
import { parseOptions, type OptionTable } from './option-table.js';

const options = {
  json: { type: 'boolean', help: 'print one JSON object on stdout instead' },
  magnet: { type: 'boolean', help: "print only the torrent's magnet link (with its trackers), for sharing" },
  'x-pe': {
    type: 'string',
    multiple: true,
    value: 'HOST:PORT',
    help: [
      "with --magnet: add this peer to the link (x.pe), e.g. your seed's",
      '[2001:db8::1]:6881, so a downloader can start from it without a tracker or',
      'the DHT (repeatable; not for private torrents, which must use their tracker)',
    ],
  },
} as const satisfies OptionTable;

const about = `Show what a torrent describes: name, infohash, magnet link, size, pieces, trackers, web seeds
(BEP 19 url-list and BEP 17 httpseeds: HTTP servers \`download\` fetches pieces from) and files.
Files are numbered from 1, the numbers \`download --select\` takes (padding files are not listed).
Control characters in names and other text are shown as \\xNN.`;

const notes = `Exit codes: 0 shown, 1 runtime failure, 2 bad usage or bad input (a missing, unreadable,
malformed or unsafe torrent, or a bad magnet link; the reason goes to stderr).

Examples:
  sixswarm info debian.torrent
  sixswarm info 'magnet:?xt=urn:btih:...' --json
`;

function torrentJson(m: Metainfo): object {
  const numbered = numberedFiles(m);
  return {
    type: 'torrent',
    name: m.name,
    infoHash: m.infoHashHex,
    ...(m.infoHashV2 ? { infoHashV2: m.infoHashV2.toString('hex') } : {}),
    version: versionOf(m),
    magnet: toMagnet(m),
    totalLength: m.totalLength,
    pieceLength: m.pieceLength,
    pieceCount: m.pieceCount,
    private: m.private,
    multiFile: m.multiFile,
    announce: m.announce,
    urlList: m.urlList,
    httpSeeds: m.httpSeeds,
    comment: m.comment,
    createdBy: m.createdBy,
    creationDate: m.creationDate,
    files: m.files.map((f, i) => ({ ...(f.pad ? {} : { index: numbered.indexOf(i) + 1 }), path: f.path, length: f.length, offset: f.offset, pad: f.pad })),
  };
}

/** v1 (BEP 3), v2 (BEP 52 only) or hybrid (both halves, one swarm). */
function versionOf(m: Metainfo): 'v1' | 'v2' | 'hybrid' {
  return m.v1 && m.v2 ? 'hybrid' : m.v2 ? 'v2' : 'v1';
}

function torrentText(m: Metainfo): string {
  const lines: string[] = [];
  const row = (label: string, value: string): void => {
    lines.push(`${label.padEnd(12)}${printable(value)}`);
  };
  row('name', m.name);
  if (m.v1) row('infohash', m.infoHashHex);
  if (m.infoHashV2) row(m.v1 ? 'infohash v2' : 'infohash', m.v1 ? m.infoHashV2.toString('hex') : `${m.infoHashV2.toString('hex')} (v2; ${m.infoHashHex} cut to 20 bytes)`);
  row('version', { v1: 'BitTorrent v1', v2: 'BitTorrent v2 (BEP 52)', hybrid: 'hybrid: BitTorrent v1 and v2 (BEP 52)' }[versionOf(m)]);
  row('magnet', toMagnet(m));
  row('size', `${formatSize(m.totalLength)} (${m.totalLength} bytes)`);
  row('pieces', `${m.pieceCount} x ${formatSize(m.pieceLength)} (${m.pieceLength} bytes)`);
  row('private', m.private ? 'yes' : 'no');
  if (m.createdBy !== undefined) row('created by', m.createdBy);
  if (m.creationDate !== undefined) {
    const date = new Date(m.creationDate * 1000);
    row('created', Number.isNaN(date.getTime()) ? String(m.creationDate) : date.toISOString());
  }
  if (m.comment !== undefined) row('comment', m.comment);
  if (m.announce.length === 0) {
    row('trackers', 'none');
  } else {
    lines.push('trackers');
    m.announce.forEach((tier, i) => tier.forEach((url, j) => row(j === 0 ? `  tier ${i + 1}` : '', url)));
  }
  // What `download` fetches from besides peers (unless --no-web-seeds).
  if (m.urlList.length + m.httpSeeds.length > 0) {
    lines.push('web seeds');
    for (const url of m.urlList) row('  BEP 19', url);
    for (const url of m.httpSeeds) row('  BEP 17', url);
  }
  const real = m.files.filter((f) => !f.pad);
  const pads = m.files.length - real.length;
  lines.push(`files (${real.length}${pads > 0 ? `, plus ${pads} padding` : ''})`);
  const sizes = real.map((f) => formatSize(f.length));
  // A loop, not Math.max(...sizes): a spread of 125,000 arguments overflows the stack.
  const width = sizes.reduce((w, s) => Math.max(w, s.length), 0);
  const numWidth = String(real.length).length;
  // Numbered from 1 as `download --select` takes them.
  real.forEach((f, i) => lines.push(`  ${String(i + 1).padStart(numWidth)}  ${sizes[i]!.padStart(width)}  ${printable(f.path.join('/'))}`));
  return `${lines.join('\n')}\n`;
}

function magnetJson(m: MagnetLink): object {
  return {
    type: 'magnet',
    infoHash: m.infoHashHex,
    ...(m.infoHashV2 ? { infoHashV2: m.infoHashV2.toString('hex') } : {}),
    name: m.name,
    trackers: m.trackers,
    ...(m.webSeeds ? { webSeeds: m.webSeeds } : {}),
    peers: m.peers,
  };
}

function magnetText(m: MagnetLink): string {
  const lines: string[] = [];
  const row = (label: string, value: string): void => {
    lines.push(`${label.padEnd(12)}${printable(value)}`);
  };
  if (m.name !== undefined) row('name', m.name);
  const v2Only = m.infoHashV2 !== undefined && m.infoHash.equals(m.infoHashV2.subarray(0, 20));
  if (!v2Only) row('infohash', m.infoHashHex);
  if (m.infoHashV2) row(v2Only ? 'infohash' : 'infohash v2', `${m.infoHashV2.toString('hex')}${v2Only ? ' (v2)' : ''}`);
  row('size', 'unknown until the metadata is fetched from peers');
  if (m.trackers.length === 0) row('trackers', 'none');
  else m.trackers.forEach((url, i) => row(i === 0 ? 'trackers' : '', url));
  (m.webSeeds ?? []).forEach((url, i) => row(i === 0 ? 'web seeds' : '', url));
  m.peers.forEach((p, i) => row(i === 0 ? 'peers' : '', formatHostPort(p.host, p.port)));
  return `${lines.join('\n')}\n`;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(options, argv, { positionals: true });
  if (positionals.length !== 1) throw new UsageError(`expected one torrent file or magnet link, got ${positionals.length}; see \`sixswarm info --help\``);
  const target = positionals[0]!;
  const peers = parseHostPorts(values['x-pe'], '--x-pe');
  if (peers.length > 0 && !values.magnet) throw new UsageError('--x-pe only goes with --magnet');
  let out: string;
  if (values.magnet) {
    const m = isMagnet(target) ? undefined : await readTorrentFile(target);
    if (!m) throw new UsageError('--magnet prints the magnet link of a .torrent file; this is a magnet link already');
    if (m.private && peers.length > 0) throw new UsageError('--x-pe: a private torrent gets its peers from its tracker only (BEP 27)');
    out = `${toMagnet(m, peers)}\n`;
  } else if (isMagnet(target)) {
    const m = parseMagnet(target);
    out = values.json ? `${JSON.stringify(magnetJson(m))}\n` : magnetText(m);
  } else {
    const m = await readTorrentFile(target);
    out = values.json ? `${JSON.stringify(torrentJson(m))}\n` : torrentText(m);
  }
  process.stdout.write(out);
  return 0;
}

export const info = command({
  name: 'info',
  summary: 'show what a .torrent file or magnet link describes',
  usage: 'Usage: sixswarm info <file.torrent | magnet-link> [--json] [--magnet [--x-pe HOST:PORT]...]',
  about,
  options,
  notes,
  run,
});
