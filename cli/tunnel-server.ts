/** `sixswarm tunnel-server`: hand out /64s to tunnel clients and route IPv6 to them. */
import { dirname, resolve } from 'node:path';
import { parseHostPort, type HostPort } from '../src/net/hostport.js';
import { AssignmentStore, MAX_ASSIGNMENTS } from '../src/tunnel/assignments.js';
import { PrefixRange } from '../src/tunnel/prefix.js';
import { ID_MAX_CHARS } from '../src/tunnel/handshake.js';
import {
  DEFAULT_IDS_PER_ADDRESS,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_SERVER_IFNAME,
  SERVER_IFNAME_MAX,
  DEFAULT_TUNNEL_PORT,
  TunnelServer,
  type ServerEvent,
} from '../src/tunnel/server.js';
import { DEFAULT_RELAY_LIMITS } from '../src/tunnel/stream/relay.js';
import { TokenPolicy } from '../src/tunnel/tokens.js';
import { DEFAULT_MTU, MTU_MAX, MTU_MIN } from '../src/tunnel/tun.js';
import { errorMessage } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import { readIni } from '../src/util/ini.js';
import { parseSize } from '../src/util/size.js';
import { command } from './command.js';
import { parseIntOption } from './numbers.js';
import { parseOptions, type OptionTable } from './option-table.js';
import { stopSignals } from './stop-signals.js';

const options = {
  listen: {
    type: 'string',
    value: 'ADDR:PORT',
    help: `TCP address to listen on (default 0.0.0.0:${DEFAULT_TUNNEL_PORT}; [::]:PORT for both families)`,
  },
  'prefix-range': {
    type: 'string',
    value: 'P/LEN',
    help: ['the pool of /64s to hand out, e.g. 2001:db8:100::/56 (required here or in', '--config)'],
  },
  assignments: {
    type: 'string',
    value: 'FILE',
    help: [
      'remembers Id -> prefix (and when each Id was last seen) across restarts:',
      "JSON, replaced atomically; the original server's file is read as well.",
      'Without it assignments last until the server stops',
    ],
  },
  'max-assignments': {
    type: 'string',
    value: 'N',
    help: [
      `Ids to remember at most, 1-${MAX_ASSIGNMENTS} (default: the number of /64s in the`,
      `range, at most ${MAX_ASSIGNMENTS}). When full, or when the range has no free /64,`,
      'a new Id gets the prefix of the Id seen least recently that is not connected',
    ],
  },
  config: {
    type: 'string',
    value: 'FILE',
    help: [
      "read these from the [server] section of a config.ini (the original's):",
      'localhost, listenport, prefixrange, assignments; options given here win',
    ],
  },
  tokens: { type: 'string', value: 'FILE', help: 'require a token: lines of "ID TOKEN", or "* TOKEN" for a shared one' },
  token: { type: 'string', value: 'T', help: 'require this shared token (with or without --tokens)' },
  'max-clients': { type: 'string', value: 'N', help: `live sessions at most (default ${DEFAULT_MAX_CLIENTS})` },
  'ids-per-address': {
    type: 'string',
    value: 'N',
    help: [
      'without tokens, the Ids one source host (an IPv4 address or IPv6 /64) may',
      `hold (default ${DEFAULT_IDS_PER_ADDRESS}); a host at the cap that brings a new Id gets the`,
      "prefix of its own least recently seen Id, never another host's. 0: no cap",
      "(the original server's behaviour). Not applied when tokens are required",
    ],
  },
  'client-rate': {
    type: 'string',
    value: 'BYTES/s',
    help: ['per client and direction, e.g. 1M (default unlimited); excess packets are', 'dropped, stream-mode traffic is paced'],
  },
  'client-pps': { type: 'string', value: 'N', help: 'packets per second per client and direction (default unlimited; TUN mode)' },
  mtu: { type: 'string', value: 'N', help: `MTU of the device, ${MTU_MIN}-${MTU_MAX} (default ${DEFAULT_MTU})` },
  ifname: { type: 'string', value: 'NAME', help: `name of the TUN device, at most ${SERVER_IFNAME_MAX} characters (default ${DEFAULT_SERVER_IFNAME})` },
  'no-offload': { type: 'boolean', help: 'serve every client without offload (no NAME-o device)' },
  'no-streams': { type: 'boolean', help: 'refuse the stream mode (clients without root then cannot use this server)' },
  'client-streams': { type: 'string', value: 'N', help: `stream mode: TCP streams per client at once (default ${DEFAULT_RELAY_LIMITS.maxStreams})` },
  'client-buffer': {
    type: 'string',
    value: 'SIZE',
    help: `stream mode: bytes buffered per client toward its peers (default ${DEFAULT_RELAY_LIMITS.bufferBytes / 1024 / 1024}M)`,
  },
  'client-accept-rate': {
    type: 'string',
    value: 'N',
    help: [
      'stream mode: incoming connections per second per client, and dials per',
      `second (default ${DEFAULT_RELAY_LIMITS.acceptRate}, bursts of twice that); more are refused`,
    ],
  },
  json: {
    type: 'boolean',
    help: [
      'one JSON object per line: listening, session-up, session-replaced,',
      'session-down (with byte, packet and drop counts), prefix-reused, refused,',
      'warning, stopped',
    ],
  },
} as const satisfies OptionTable;

const about = `Run the tunnel server of the stateful IPv6-over-IPv4 tunnel. Clients (\`sixswarm tunnel up\` or
the original client) connect over TCP, send their Id, and get a /64 of the prefix range, the
first free one, and the same one whenever they come back. IPv6 packets for that /64 are
routed to the client over its TCP connection, and the client's packets into the network.

One TUN device serves the whole range (the kernel routes the range to it; the server picks the
client by destination). sixswarm clients that ask for offload are served by a second device,
NAME-o, with a route to their /64 while they are connected: TCP then crosses the tunnel in
segments of up to 64 KiB rather than one MTU-sized packet per write. Packets from a client whose
source is outside its own /64 are dropped.

sixswarm clients without root (no TUN device of their own) ask for the stream mode: the server
configures their prefix::1 on its device while they are connected, terminates their IPv6 TCP and
UDP there and relays it over their connection: their dials leave from prefix::1, connections to
prefix::1 on the ports they listen on reach them, and they reach only global unicast addresses.
Per client it bounds streams (--client-streams), the bytes it buffers for the client
(--client-buffer), dials and accepted connections per second (--client-accept-rate), listeners
(8) and UDP sockets (64); --client-rate paces its streams both ways. A thousand clients need a few
thousand file descriptors (ulimit -n).

IPv6 forwarding must be on for clients to reach beyond this host
(sysctl -w net.ipv6.conf.all.forwarding=1). Needs root (or CAP_NET_ADMIN), /dev/net/tun,
iproute2 and the native addon (npm run build:native).`;

const notes = `Ids are 1-${ID_MAX_CHARS} printable ASCII characters without spaces (a MAC address, a UUID, a host
name); any other Id is refused, so Ids appear in logs and files as they are, never escaped.

A public server needs tokens (--tokens or --token). Without them any client can claim any Id,
and so take over another client's prefix, and a client with many addresses can cycle through
the range: the per-address cap (--ids-per-address) only keeps one host from doing it alone.

A second connection with the Id of a live session replaces the old session: the usual cause is
the same client reconnecting after a NAT timeout while its old connection still looks alive.
A refused client gets {"Error": "..."} and is disconnected. Unfinished handshakes (10 s at most)
are bounded: 16 per source host, 256 in all; a host over its share loses its own oldest, and when
all are taken the host holding the most loses its oldest, so silent connections never keep
another host's client out.
Stops on SIGINT or SIGTERM, removing the device and its route.
Exit codes: 0 stopped by a signal, 1 runtime failure (cannot create the device or listen, or the
device failed while running: a message on stderr says why), 2 bad options or a bad config,
tokens or assignments file.

Examples:
  sudo sixswarm tunnel-server --prefix-range 2001:db8:100::/56 --assignments /var/lib/sixswarm/assignments.json
  sudo sixswarm tunnel-server --config config.ini --tokens tokens.txt --client-rate 2M --json
`;

interface ServerSettings {
  listen: HostPort;
  range: PrefixRange;
  assignments?: string;
}

/** Merges --config's [server] section under the command-line options. */
async function settings(values: { listen?: string; 'prefix-range'?: string; assignments?: string; config?: string }): Promise<ServerSettings> {
  let host = '0.0.0.0';
  let port = DEFAULT_TUNNEL_PORT;
  let rangeText: string | undefined;
  let assignments: string | undefined;
  if (values.config) {
    const server = (await readIni(values.config)).get('server');
    if (!server) throw new UsageError(`${values.config} has no [server] section`);
    const base = dirname(resolve(values.config));
    host = server.get('localhost') || host;
    const p = server.get('listenport');
    if (p !== undefined) port = parseIntOption(p, `${values.config}: listenport`, 1, 65535);
    rangeText = server.get('prefixrange') || undefined;
    const a = server.get('assignments');
    if (a) assignments = resolve(base, a);
  }
  let listen: HostPort;
  try {
    listen = parseHostPort(values.listen ?? (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`), '--listen address');
  } catch (e) {
    throw new UsageError(errorMessage(e));
  }
  rangeText = values['prefix-range'] ?? rangeText;
  if (!rangeText) throw new UsageError('--prefix-range P/LEN is required (or prefixrange in the [server] section of --config)');
  let range: PrefixRange;
  try {
    range = new PrefixRange(rangeText);
  } catch (e) {
    throw new UsageError(`bad prefix range: ${errorMessage(e)}`);
  }
  assignments = values.assignments ?? assignments;
  return { listen, range, ...(assignments ? { assignments } : {}) };
}

function describe(e: ServerEvent): string {
  switch (e.event) {
    case 'listening':
      return `listening on ${e.listen}: handing out /64s of ${e.range} via ${e.ifname}${e.offloadIfname ? ` and ${e.offloadIfname} (offload)` : ''} (MTU ${e.mtu}, max ${e.maxClients} clients${e.tokens ? ', tokens required' : ''})`;
    case 'warning':
      return `warning: ${e.message}`;
    case 'session-up':
      return `${e.id} (${e.remote}) up: ${e.prefix}${e.mode === 'offload' ? ' (with offload)' : e.mode === 'streams' ? ' (stream mode: relayed at its prefix::1)' : ''}`;
    case 'session-replaced':
      return `${e.id} reconnected from ${e.remote}: replacing its session from ${e.oldRemote}`;
    case 'session-down':
      if (e.mode === 'streams') {
        return `${e.id} (${e.remote}) down after ${e.seconds} s: ${e.reason} [in ${e.bytesIn} B, out ${e.bytesOut} B, ${e.streamsOpened ?? 0} streams, ${e.refused ?? 0} refused by a limit, ${e.droppedDatagrams ?? 0} datagrams dropped]`;
      }
      return `${e.id} (${e.remote}) down after ${e.seconds} s: ${e.reason} [in ${e.packetsIn} pkts/${e.bytesIn} B, out ${e.packetsOut} pkts/${e.bytesOut} B, dropped: ${e.droppedSpoofed} spoofed, ${e.droppedRate} over rate, ${e.droppedQueue} queue full, ${e.droppedInvalid} invalid, ${e.droppedOffload} offloaded while switching]`;
    case 'prefix-reused':
      return `${e.id} gets ${e.prefix}, taken from ${e.fromId} (${e.lastSeen ? `last seen ${e.lastSeen}` : 'not seen since last-seen times were kept'}): no free /64 left`;
    case 'refused':
      return `refused ${e.id ?? 'a client'} (${e.remote}): ${e.reason}`;
    case 'stopped':
      return `stopped${e.droppedNoSession ? ` (${e.droppedNoSession} packets for /64s without a session were dropped)` : ''}${
        e.droppedUnknownOffload ? ` (${e.droppedUnknownOffload} packets with offload the tunnel does not carry were dropped)` : ''}`;
  }
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions(options, argv, { positionals: false });
  const conf = await settings(values);
  const maxClients = parseIntOption(values['max-clients'], '--max-clients', 1, 1_000_000);
  const idsPerAddress = parseIntOption(values['ids-per-address'], '--ids-per-address', 0, MAX_ASSIGNMENTS);
  const clientPps = parseIntOption(values['client-pps'], '--client-pps', 1, 1_000_000_000);
  const mtu = parseIntOption(values.mtu, '--mtu', MTU_MIN, MTU_MAX);
  const maxAssignments = parseIntOption(values['max-assignments'], '--max-assignments', 1, MAX_ASSIGNMENTS);
  const maxStreams = parseIntOption(values['client-streams'], '--client-streams', 1, 65536);
  const acceptRate = parseIntOption(values['client-accept-rate'], '--client-accept-rate', 1, 100_000);
  let bufferBytes: number | undefined;
  if (values['client-buffer'] !== undefined) {
    bufferBytes = parseSize(values['client-buffer']);
    if (!bufferBytes || bufferBytes < 1024 * 1024) throw new UsageError(`--client-buffer must be a size of at least 1M like 32M, got "${values['client-buffer']}"`);
  }
  let clientRate: number | undefined;
  if (values['client-rate'] !== undefined) {
    clientRate = parseSize(values['client-rate'].replace(/\/s$/i, ''));
    if (!clientRate) throw new UsageError(`--client-rate must be bytes per second like 262144, 256K or 2M, got "${values['client-rate']}"`);
  }
  let tokens: TokenPolicy | undefined;
  if (values.tokens) tokens = await TokenPolicy.fromFile(values.tokens);
  if (values.token !== undefined) {
    if (!values.token) throw new UsageError('--token must not be empty');
    tokens ??= new TokenPolicy();
    tokens.addShared(values.token);
  }
  const store = await AssignmentStore.load(conf.range, conf.assignments, maxAssignments !== undefined ? { maxAssignments } : {});

  let server: TunnelServer;
  try {
    server = new TunnelServer({
      listen: conf.listen,
      store,
      ...(tokens ? { tokens } : {}),
      ...(maxClients !== undefined ? { maxClients } : {}),
      ...(idsPerAddress !== undefined ? { idsPerAddress } : {}),
      ...(clientRate !== undefined ? { clientRate } : {}),
      ...(clientPps !== undefined ? { clientPps } : {}),
      ...(mtu !== undefined ? { mtu } : {}),
      ...(values.ifname !== undefined ? { ifname: values.ifname } : {}),
      offload: !values['no-offload'],
      streams: !values['no-streams'],
      relayLimits: {
        ...(maxStreams !== undefined ? { maxStreams } : {}),
        ...(acceptRate !== undefined ? { acceptRate, dialRate: acceptRate } : {}),
        ...(bufferBytes !== undefined ? { bufferBytes } : {}),
      },
    });
  } catch (e) {
    throw new UsageError(errorMessage(e));
  }
  const json = values.json ?? false;
  server.on('log', (e) => process.stdout.write(`${json ? JSON.stringify(e) : describe(e)}\n`));
  if (!conf.assignments) {
    server.emit('log', { event: 'warning', message: 'no --assignments file: clients get a different prefix after a server restart' });
  }
  for (const id of store.foreignIds) {
    server.emit('log', { event: 'warning', message: `assignment of "${id}" lies outside ${conf.range.prefix.text}; it gets a new prefix when it returns` });
  }

  // The device can fail under a running server (removed by hand, say): the server stops itself, and so must we.
  const fatal = new Promise<Error>((resolve) => server.once('fatal', resolve));
  const signals = stopSignals();
  try {
    await server.start();
    const outcome = await Promise.race([signals.stopped.then(() => undefined), fatal]);
    if (outcome) throw new Error(`stopped: ${outcome.message}`);
    return 0;
  } finally {
    signals.dispose();
    await server.stop();
  }
}

export const tunnelServer = command({
  name: 'tunnel-server',
  summary: 'run the tunnel server: hand out IPv6 /64s to tunnel clients over IPv4 TCP',
  usage: `Usage: sixswarm tunnel-server [--listen ADDR:PORT] [--prefix-range P/LEN] [--assignments FILE]
                              [--max-assignments N] [--config config.ini] [--tokens FILE] [--token T]
                              [--max-clients N] [--ids-per-address N] [--client-rate BYTES/s]
                              [--client-pps N] [--mtu N] [--ifname NAME] [--no-offload] [--no-streams]
                              [--client-streams N] [--client-buffer SIZE] [--client-accept-rate N] [--json]`,
  about,
  options,
  notes,
  run,
});
