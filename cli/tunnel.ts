/** `sixswarm tunnel up`: keep an IPv6-over-IPv4 tunnel to a tunnel server up until stopped. */
import { DEFAULT_CLIENT_IFNAME, RECONNECT_MS, TunnelClient, type TunnelStatus } from '../src/tunnel/client.js';
import { ID_MAX_CHARS, idProblem } from '../src/tunnel/handshake.js';
import { DEFAULT_MTU, MTU_MAX, MTU_MIN } from '../src/tunnel/tun.js';
import { errorMessage } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import { command } from './command.js';
import { parseIntOption } from './numbers.js';
import { parseOptions, type OptionTable } from './option-table.js';
import { stopSignals } from './stop-signals.js';

const options = {
  server: { type: 'string', value: 'HOST:PORT', help: 'the tunnel server (required), e.g. 192.0.2.1:14629' },
  id: {
    type: 'string',
    value: 'ID',
    help: [
      'the Id to introduce this host with (default: the MAC address of the',
      'IPv4 uplink, like the original client); the server keys prefixes on it.',
      `1-${ID_MAX_CHARS} printable ASCII characters without spaces`,
    ],
  },
  token: { type: 'string', value: 'T', help: 'a token for servers that require one (ignored by servers that do not)' },
  mtu: { type: 'string', value: 'N', help: `MTU of the device, ${MTU_MIN}-${MTU_MAX} (default ${DEFAULT_MTU})` },
  ifname: { type: 'string', value: 'NAME', help: `name of the TUN device (default ${DEFAULT_CLIENT_IFNAME})` },
  'no-offload': {
    type: 'boolean',
    help: [
      'do not offer segmentation offload: with a sixswarm server that agrees,',
      'TCP travels the tunnel in segments of up to 64 KiB instead of one',
      'MTU-sized packet at a time (several times less CPU per byte); the',
      'original server never agrees, so this only matters for troubleshooting',
    ],
  },
  json: { type: 'boolean', help: 'one JSON object per line: "starting", "up", "down", "status" events' },
} as const satisfies OptionTable;

const about = `Bring up the built-in IPv6-over-IPv4 tunnel: a TUN device whose IPv6 packets travel over one
TCP connection to a tunnel server (\`sixswarm tunnel-server\`, or the original Go server), which
routes a /64 to this host. The device gets prefix::1, the address to bind IPv6 services to.

If this host has no IPv6 default route, IPv6 traffic goes through the tunnel by default.
If it has one, only traffic from the tunnel prefix uses the tunnel (a source routing rule),
so native IPv6 keeps working.

The tunnel stays up on its own: after any loss it reconnects every ${RECONNECT_MS / 1000} s, keeps the device
and address meanwhile (outgoing packets are dropped), and gets the same prefix back.
Needs root (or CAP_NET_ADMIN), /dev/net/tun, iproute2, and the native addon (npm run build:native).`;

const notes = `Stops on SIGINT or SIGTERM, removing the device and its routes.
A server that hands out anything but a global unicast /64, or a /64 that overlaps an address
of another interface of this host, is refused like an error reply (and retried).
Exit codes: 0 stopped by a signal, 1 the tunnel cannot run here (a message says what is
missing) or its device failed while running, 2 bad options.

Examples:
  sudo sixswarm tunnel up --server 192.0.2.1:14629
  sudo sixswarm tunnel up --server tunnel.example.net:14629 --token s3cret --json
`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(options, argv, { positionals: true });
  if (positionals.length !== 1 || positionals[0] !== 'up') {
    throw new UsageError(`expected \`sixswarm tunnel up --server HOST:PORT\`${positionals.length ? `, not "${positionals.join(' ')}"` : ''}`);
  }
  if (!values.server) throw new UsageError('--server HOST:PORT is required');
  const mtu = parseIntOption(values.mtu, '--mtu', MTU_MIN, MTU_MAX);
  const idRefused = values.id !== undefined ? idProblem(values.id) : undefined;
  if (idRefused) throw new UsageError(`--id: ${idRefused}`);

  let client: TunnelClient;
  try {
    client = new TunnelClient({
      server: values.server,
      ...(values.id !== undefined ? { id: values.id } : {}),
      ...(values.token !== undefined ? { token: values.token } : {}),
      ...(mtu !== undefined ? { mtu } : {}),
      ...(values.ifname !== undefined ? { ifname: values.ifname } : {}),
      offload: !values['no-offload'],
    });
  } catch (e) {
    throw new UsageError(errorMessage(e));
  }

  const json = values.json ?? false;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const emit = (event: string, data: object, text: string) => (json ? out(JSON.stringify({ event, ...data })) : out(text));

  let lastReported: string | null = null;
  client.on('up', (u) => {
    const s = client.status();
    lastReported = null;
    emit('up', { ...u, server: s.server, ifname: s.ifname, routing: s.routing, offload: s.offload },
      `tunnel up: ${u.prefix}, address ${u.address} on ${s.ifname} via ${s.server}${s.offload ? ' (with offload)' : ''}`);
  });
  client.on('down', ({ reason }) => {
    lastReported = reason;
    emit('down', { reason }, `tunnel down: ${reason}${reason === 'stopped' ? '' : `; reconnecting every ${RECONNECT_MS / 1000} s`}`);
  });
  client.on('status', (s: TunnelStatus) => {
    if (json) return out(JSON.stringify({ event: 'status', ...s }));
    // While it keeps failing, say why once per distinct reason rather than every 2 s.
    if (s.state === 'down' && s.lastError && s.lastError !== lastReported) {
      lastReported = s.lastError;
      out(`tunnel not connected: ${s.lastError}; retrying every ${RECONNECT_MS / 1000} s`);
    }
  });

  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const signals = stopSignals();
  void signals.stopped.then(() => finish(0));
  client.on('fatal', (e) => {
    process.stderr.write(`sixswarm tunnel: ${e.message}\n`);
    finish(1);
  });
  try {
    await client.start();
    const s = client.status();
    emit('starting', { id: s.id, server: s.server, ifname: s.ifname, routing: s.routing },
      `tunnel device ${s.ifname} ready (Id ${s.id}, ${s.routing === 'default' ? 'default IPv6 route through the tunnel' : 'only traffic from the tunnel prefix uses the tunnel'}); connecting to ${s.server}`);
    return await finished;
  } finally {
    signals.dispose();
    await client.stop();
  }
}

export const tunnel = command({
  name: 'tunnel',
  summary: 'bring up the built-in IPv6-over-IPv4 tunnel (tunnel up --server HOST:PORT)',
  usage: `Usage: sixswarm tunnel up --server HOST:PORT [--id ID] [--token T] [--mtu N] [--ifname NAME]
                          [--no-offload] [--json]`,
  about,
  options,
  notes,
  run,
});
