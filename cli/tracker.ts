/** `sixswarm tracker`: run the built-in HTTP + UDP tracker on both address families. */
import { formatHostPort } from '../src/net/hostport.js';
import { TrackerServer } from '../src/tracker/server/tracker-server.js';
import { errorMessage } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import { command } from './command.js';
import { parseIntOption } from './numbers.js';
import { parseOptions, type OptionTable } from './option-table.js';
import { stopSignals } from './stop-signals.js';

const options = {
  port: { type: 'string', value: 'N', help: 'TCP and UDP port for every socket (default 6969; 0 = pick a free one)' },
  http: { type: 'boolean', help: 'serve HTTP only (default: HTTP and UDP)' },
  udp: { type: 'boolean', help: 'serve UDP only' },
  bind: {
    type: 'string',
    multiple: true,
    value: 'ADDR',
    help: [
      'address to listen on; repeat for several (default 0.0.0.0 and ::,',
      'IPv6 sockets are IPv6-only). UDP on 0.0.0.0 or :: is one socket per',
      "address of the host (followed as addresses come and go), so replies",
      'leave from the address that was asked',
    ],
  },
  'honor-ip-params': {
    type: 'boolean',
    help: [
      'also store the ipv4=/ipv6= address a client announces (global unicast',
      'only, in addition to the address the request came from). Off by default:',
      "it lets anyone list someone else's address (BEP 7 discourages it)",
    ],
  },
  interval: {
    type: 'string',
    value: 'SECONDS',
    help: ['announce interval handed to clients (default 1800); peers that have not', 'announced for twice this long are forgotten'],
  },
  json: {
    type: 'boolean',
    help: [
      'one JSON object per line: a "listening" event per socket, then one',
      '"announce" event per announce, a "bad-request" event per refused request,',
      'and "listening"/"closed" as the host gains and loses addresses',
    ],
  },
} as const satisfies OptionTable;

const about = `Run a BitTorrent tracker: HTTP (/announce, /scrape; BEP 3, 23, 48) and UDP (BEP 15) on IPv4 and
IPv6. Every reply carries peers of both families (compact "peers" and "peers6"); a UDP reply can
only carry the requester's own family (18-byte entries to IPv6 clients, 6-byte to IPv4 ones).`;

const notes = `Limits: 5000 peers per torrent, of which 16 from one source host (one IPv4 address or one
IPv6 /64), and 100000 peers in all. A newcomer is never refused for want of room: each peer is
charged to the host whose announce created it, a host holding 1000 loses its own least recently
announced peer for each new one, and when the table is full the host holding the most loses its
oldest (a full torrent, its least recently announced peer). One host announcing random torrents
thus cannot lock anyone else out. A torrent is forgotten when its last peer is; its completion
count (scrape's "downloaded") is kept for the last 10000 torrents that had one.
HTTP: a request that is not one (an empty line, binary) gets 400 at once; a request head must
arrive within 10 s (keep-alive idle: 5 s), within 2 s (1 s) once more than 1000 of the 2000
connections the tracker keeps are waiting; one source host keeps at most 64 waiting, losing its
oldest for each new one, and when all 2000 are taken the host holding the most loses its oldest.
Stops cleanly on SIGINT or SIGTERM.
Exit codes: 0 stopped by a signal, 1 runtime failure (e.g. the port is taken), 2 bad options.

Examples:
  sixswarm tracker
  sixswarm tracker --port 6969 --bind ::1 --bind 127.0.0.1 --json
`;

async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(options, argv, { positionals: false });
  const port = parseIntOption(values.port ?? '6969', '--port', 0, 65535);
  const interval = parseIntOption(values.interval ?? '1800', '--interval', 1, 86_400);
  let server: TrackerServer;
  try {
    server = new TrackerServer({
      port,
      ...(values.http ? { http: true } : {}),
      ...(values.udp ? { udp: true } : {}),
      ...(values.bind ? { bind: values.bind } : {}),
      honorIpParams: values['honor-ip-params'] ?? false,
      intervalSec: interval,
    });
  } catch (e) {
    throw new UsageError(errorMessage(e));
  }
  const json = values.json ?? false;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  server.on('announce', (ev) => {
    if (json) out(JSON.stringify(ev));
    else out(`${ev.transport} ${ev.peer} ${ev.event ?? 'update'} ${ev.infoHash} -> ${ev.returned4} IPv4 + ${ev.returned6} IPv6 peers${ev.notStored ? ` (not stored: ${ev.notStored})` : ''}`);
  });
  server.on('bad-request', (ev) => {
    if (json) out(JSON.stringify(ev));
    else out(`${ev.transport} ${ev.source} refused: ${ev.reason}`);
  });
  server.on('listening', (b) => out(json ? JSON.stringify(b) : `listening: ${b.transport} ${formatHostPort(b.address, b.port)} (an address this host gained)`));
  server.on('closed', (b) => out(json ? JSON.stringify({ ...b, type: 'closed' }) : `closed: ${b.transport} ${formatHostPort(b.address, b.port)} (the host lost this address)`));
  server.on('warning', (message) => (json ? out(JSON.stringify({ type: 'warning', message })) : process.stderr.write(`warning: ${message}\n`)));
  const signals = stopSignals();
  try {
    try {
      await server.listen();
    } catch (e) {
      throw new Error(`cannot listen: ${errorMessage(e)}`);
    }
    for (const b of server.bound) {
      if (json) out(JSON.stringify(b));
      else out(`listening: ${b.transport} ${formatHostPort(b.address, b.port)}`);
    }
    await signals.stopped;
    return 0;
  } finally {
    signals.dispose();
    await server.close();
  }
}

export const tracker = command({
  name: 'tracker',
  summary: 'run a built-in HTTP + UDP tracker (IPv4 and IPv6, peers6)',
  usage: 'Usage: sixswarm tracker [--port N] [--http] [--udp] [--bind ADDR]... [--honor-ip-params] [--interval SECONDS] [--json]',
  about,
  options,
  notes,
  run,
});
