/** `sixswarm tunnel up`: keep an IPv6-over-IPv4 tunnel to a tunnel server up until stopped. */
import { chooseTunnelMode, DEFAULT_CLIENT_IFNAME, RECONNECT_MS, TunnelClient, type TunnelStatus } from '../src/tunnel/client.js';
import { parseHostPort } from '../src/net/hostport.js';
import { forwardPort, type Forward } from '../src/tunnel/stream/forward.js';
import { Socks5Server } from '../src/tunnel/stream/socks5.js';
import { ID_MAX_CHARS, idProblem } from '../src/tunnel/handshake.js';
import { DEFAULT_MTU, MTU_MAX, MTU_MIN } from '../src/tunnel/tun.js';
import { errorMessage } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';
import { command } from './command.js';
import { parseIntOption } from './numbers.js';
import { parseOptions, type OptionTable } from './option-table.js';
import { stopSignals } from './stop-signals.js';

const DEFAULT_SOCKS = '127.0.0.1:1080';

const options = {
  server: { type: 'string', value: 'HOST:PORT', help: 'the tunnel server (required), e.g. 192.0.2.1:14629' },
  mode: { type: 'string', value: 'MODE', help: 'auto (default), tun or stream, as above' },
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
  socks: {
    type: 'string',
    value: 'ADDR:PORT',
    help: [
      "stream mode: the SOCKS5 proxy's address (CONNECT, no authentication; IPv6",
      `destinations through the tunnel, IPv4 ones directly; default ${DEFAULT_SOCKS})`,
    ],
  },
  forward: {
    type: 'string',
    multiple: true,
    value: 'PORT[:LOCALPORT]',
    help: ['stream mode: connections to [prefix::1]:PORT go to 127.0.0.1:LOCALPORT', '(default the same port); repeatable'],
  },
  json: { type: 'boolean', help: 'one JSON object per line: "starting", "up", "down", "status" events' },
} as const satisfies OptionTable;

const about = `Bring up the built-in IPv6-over-IPv4 tunnel to a tunnel server (\`sixswarm tunnel-server\`, or
the original Go server), which gives this host a /64 and its address prefix::1. Two modes:

  tun     (root and /dev/net/tun) a TUN device whose IPv6 packets travel over one TCP connection
          to the server: the whole host gets IPv6; bind IPv6 services to prefix::1. If this host
          has no IPv6 default route, IPv6 traffic goes through the tunnel; if it has one, only
          traffic from the tunnel prefix does (a source routing rule), so native IPv6 keeps working.
  stream  (any user; needs a sixswarm tunnel-server) no device: the server terminates IPv6 for
          us and relays the connections over the one TCP connection. Programs reach IPv6 through
          a SOCKS5 proxy (--socks, ${DEFAULT_SOCKS} by default), and --forward makes a local TCP
          port reachable at [prefix::1]:PORT. (\`download\`/\`seed --tunnel\` use it directly.)
  auto    (default) tun when root and /dev/net/tun allow it, else stream.

The tunnel stays up on its own: after any loss it reconnects every ${RECONNECT_MS / 1000} s, keeps the device
and address meanwhile (outgoing packets are dropped; relayed connections close), and gets the same
prefix back. The TUN mode needs root (or CAP_NET_ADMIN), /dev/net/tun, iproute2, and the native
addon (npm run build:native).`;

const notes = `Stops on SIGINT or SIGTERM, removing the device and its routes (stream mode: closing every relayed connection).
A server that hands out anything but a global unicast /64, or a /64 that overlaps an address
of another interface of this host, is refused like an error reply (and retried).
Exit codes: 0 stopped by a signal, 1 the tunnel cannot run here (a message says what is
missing) or its device failed while running, 2 bad options.

Examples:
  sudo sixswarm tunnel up --server 192.0.2.1:14629
  sixswarm tunnel up --server 192.0.2.1:14629 --mode stream --forward 51413   (no root)
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
  const requested = values.mode ?? 'auto';
  if (requested !== 'auto' && requested !== 'tun' && requested !== 'stream') throw new UsageError(`--mode is auto, tun or stream, not "${requested}"`);
  const { mode, reason } = chooseTunnelMode(requested);
  const forwards = (values.forward ?? []).map(parseForward);
  let socksAt: { host: string; port: number } | undefined;
  try {
    socksAt = mode === 'stream' ? parseHostPort(values.socks ?? DEFAULT_SOCKS, '--socks') : undefined;
  } catch (e) {
    throw new UsageError(errorMessage(e));
  }
  if (mode === 'tun' && (values.socks !== undefined || forwards.length > 0)) {
    throw new UsageError(`--socks and --forward are for the stream mode; in the TUN mode (${reason}) programs use IPv6 directly`);
  }

  let client: TunnelClient;
  try {
    client = new TunnelClient({
      server: values.server,
      ...(values.id !== undefined ? { id: values.id } : {}),
      ...(values.token !== undefined ? { token: values.token } : {}),
      ...(mtu !== undefined ? { mtu } : {}),
      ...(values.ifname !== undefined ? { ifname: values.ifname } : {}),
      offload: !values['no-offload'],
      mode,
      modeReason: reason,
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
    if (s.mode === 'stream') {
      emit('up', { ...u, server: s.server, mode: s.mode }, `tunnel up: ${u.prefix}, address ${u.address} via ${s.server} (stream mode: relayed by the server)`);
    } else {
      emit('up', { ...u, server: s.server, mode: s.mode, ifname: s.ifname, routing: s.routing, offload: s.offload },
        `tunnel up: ${u.prefix}, address ${u.address} on ${s.ifname} via ${s.server}${s.offload ? ' (with offload)' : ''}`);
    }
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
  const socks = client.network && new Socks5Server(client.network, (m) => emit('warning', { message: m }, `warning: ${m}`));
  try {
    await client.start();
    const s = client.status();
    if (client.network) {
      const at = await socks!.listen(socksAt!.host, socksAt!.port);
      for (const f of forwards) await forwardPort(client.network, f, (why) => emit('warning', { message: `forward: ${why}` }, `warning: forward: ${why}`));
      emit('starting', { id: s.id, server: s.server, mode, modeReason: reason, socks: `${at.host}:${at.port}`, forwards: forwards.map((f) => ({ port: f.port, to: f.to.port })) },
        `${reason}; SOCKS5 proxy on ${at.host}:${at.port}${forwards.map((f) => `, [prefix::1]:${f.port} -> 127.0.0.1:${f.to.port}`).join('')}; connecting to ${s.server} (Id ${s.id})`);
    } else {
      emit('starting', { id: s.id, server: s.server, mode, modeReason: reason, ifname: s.ifname, routing: s.routing },
        `tunnel device ${s.ifname} ready (Id ${s.id}, ${s.routing === 'default' ? 'default IPv6 route through the tunnel' : 'only traffic from the tunnel prefix uses the tunnel'}); connecting to ${s.server}`);
    }
    return await finished;
  } catch (e) {
    // A proxy or forward that cannot listen: said like a device that cannot be made.
    process.stderr.write(`sixswarm tunnel: ${errorMessage(e)}\n`);
    return 1;
  } finally {
    signals.dispose();
    socks?.close();
    await client.stop();
  }
}

/** `PORT[:LOCALPORT]`: [prefix::1]:PORT to 127.0.0.1:LOCALPORT (default the same). */
function parseForward(text: string): Forward {
  const m = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(text);
  const port = m ? Number(m[1]) : NaN;
  const local = m?.[2] !== undefined ? Number(m[2]) : port;
  if (!(port >= 1 && port <= 65535 && local >= 1 && local <= 65535)) throw new UsageError(`--forward takes PORT or PORT:LOCALPORT (1-65535), got "${text}"`);
  return { port, to: { host: '127.0.0.1', port: local } };
}

export const tunnel = command({
  name: 'tunnel',
  summary: 'bring up the built-in IPv6-over-IPv4 tunnel (tunnel up --server HOST:PORT)',
  usage: `Usage: sixswarm tunnel up --server HOST:PORT [--mode auto|tun|stream] [--id ID] [--token T]
                          [--mtu N] [--ifname NAME] [--no-offload]
                          [--socks ADDR:PORT] [--forward PORT[:LOCALPORT]]... [--json]`,
  about,
  options,
  notes,
  run,
});
