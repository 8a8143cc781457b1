/**
 * The option tables of `download`, `seed`, `ui` and `daemon`, the commands that run torrents: the options
 * they share are declared once here and composed into each command's table, which is also what
 * the config file's keys are checked against (CONFIG_COMMANDS).
 */
import { retold, without, type OptionTable } from './option-table.js';
import { defaultStateDir } from '../src/storage/resume.js';
import { defaultSessionDir } from '../src/session/session-store.js';
import { ENV, envValue, xdgDir } from '../src/util/environment.js';
import { EVENT_NAMES } from '../src/status/event-names.js';

/** --json's help: what it prints, and every event there is (the feed's own list), wrapped to the help column. */
function jsonHelp(): string[] {
  const lines = ['print one JSON object per line on stdout and nothing else; each has', '"event" (per torrent also "torrent", its info hash) and "time". Events:'];
  let line = '';
  for (const [i, name] of EVENT_NAMES.entries()) {
    const word = `${name}${i < EVENT_NAMES.length - 1 ? ',' : ''}`;
    if (line && line.length + 1 + word.length > 62) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/** Options `download` and `seed` share (and `ui`, but for NOT_IN_UI), in the order --help lists them. */
export const SHARED_OPTIONS = {
  peer: {
    type: 'string',
    multiple: true,
    value: 'HOST:PORT',
    help: [
      'connect to this peer (repeatable): 1.2.3.4:6881, [2001:db8::1]:6881, host.example:6881',
      '(a host name with A and AAAA records is dialed Happy-Eyeballs style, IPv6 first)',
    ],
  },
  port: {
    type: 'string',
    value: 'N',
    default: '6881, or a free port when another program has it',
    help: ['listening port for both IPv4 and IPv6 (default 6881, or a free one when', 'another program has 6881; 0 picks a free one)'],
  },
  'no-ipv4': { type: 'boolean', help: 'do not listen on or connect over IPv4' },
  'no-ipv6': { type: 'boolean', help: 'do not listen on or connect over IPv6' },
  json: { type: 'boolean', help: jsonHelp() },
  recheck: { type: 'boolean', help: 'hash all data on disk, ignoring saved resume state' },
  'state-dir': {
    type: 'string',
    value: 'DIR',
    env: ENV.stateDir,
    default: defaultStateDir,
    help: [
      'where resume state lives (default $SIXSWARM_STATE_DIR, else $XDG_STATE_HOME/sixswarm,',
      'else ~/.local/state/sixswarm)',
    ],
  },
  'max-peers': { type: 'string', value: 'N', default: '60', help: 'connected peers per torrent (default 60)' },
  'max-down': {
    type: 'string',
    value: 'RATE',
    default: 'no limit',
    help: [
      'download at most RATE bytes per second (500k, 2M, 1.5MiB/s; binary units;',
      '0 or absent: no limit). Requests go out only as fast as the limit lets data',
      'in, shared by the peers in turn; shown in the progress line as (max ...)',
    ],
  },
  'max-up': { type: 'string', value: 'RATE', default: 'no limit', help: 'upload at most RATE bytes per second, likewise' },
  'seed-ratio': {
    type: 'string',
    value: 'R',
    help: [
      'once complete, seed until uploaded / downloaded reaches R (for a seed that',
      'downloaded nothing: uploaded / size), then exit 0',
    ],
  },
  'seed-time': {
    type: 'string',
    value: 'DURATION',
    help: [
      'once complete, seed for DURATION (90, 30s, 10m, 2h, 1h30m), then exit 0;',
      'with --seed-ratio too, whichever comes first',
    ],
  },
  tracker: {
    type: 'string',
    multiple: true,
    value: 'URL',
    help: [
      'announce to this tracker too (repeatable; http, https or udp; IPv6 literals',
      'in brackets: udp://[2001:db8::1]:6969). Every tracker is announced to once per',
      'address family we can use (BEP 7), each from a socket of that family.',
    ],
  },
  'no-trackers': { type: 'boolean', help: 'do not announce to any tracker (peers only from --peer and what they tell us: PEX)' },
  'announce-ip': {
    type: 'string',
    value: 'auto|always|never',
    default: 'auto',
    help: [
      'send our own address of the other family to HTTP trackers (BEP 7 ipv6= over',
      'IPv4, ipv4= over IPv6), so a tracker that is reachable over one family only',
      'can still hand out our other address. Only a global unicast address is ever',
      'sent (never link-local, unique-local, loopback, multicast or v4-mapped).',
      'auto (default): only when the tracker cannot be reached over that family (no',
      '  address of that family, or the announce over it could not connect);',
      '  otherwise the per-family announce already tells the tracker our address.',
      'always: on every HTTP announce.  never: not at all.',
      'Trade-off: BEP 7 now discourages these parameters because a tracker that',
      "honours them lets anyone announce someone else's address (traffic can be",
      'pointed at a third party), so many trackers ignore them; sending them only',
      'helps with trackers that still honour them. UDP trackers (BEP 15) have no',
      'field for them.',
    ],
  },
  tunnel: {
    type: 'string',
    value: 'HOST:PORT|auto|off',
    default: () => (envValue(ENV.tunnelServer) ? `auto, with ${envValue(ENV.tunnelServer)} from $${ENV.tunnelServer}` : 'off'),
    help: [
      'bring up the built-in IPv6-over-IPv4 tunnel for this session: a routed /64',
      'from that tunnel server; the engine then binds, announces and advertises the',
      "tunnel's address (prefix::1) and accepts IPv6 peers on it. auto (the default",
      'when $SIXSWARM_TUNNEL_SERVER is set): only when this host has no global IPv6',
      'address of its own. off: never.',
    ],
  },
  'tunnel-mode': {
    type: 'string',
    value: 'auto|tun|stream',
    help: [
      'tun: a TUN device carries the packets (root and /dev/net/tun); stream: the',
      'tunnel server (sixswarm tunnel-server) relays our IPv6 connections, no device',
      'and no root needed; auto (default): tun when it can run here, else stream',
    ],
  },
  encryption: {
    type: 'string',
    value: 'prefer|require|allow|off',
    default: 'prefer',
    help: [
      'protocol encryption (MSE/PE, RC4) with peers. Peers that dial us are answered',
      'in kind (their first bytes tell plaintext from encrypted). prefer (default):',
      'dial encrypted, and in plaintext a peer that does not speak encryption',
      '(remembered per peer); require: encrypted only, never a plaintext byte in',
      'either direction (plaintext-only peers are not reached); allow: dial in',
      'plaintext (encrypted to peers known to want it), accept both; off: plaintext',
      'only, encrypted attempts are refused',
    ],
  },
  transports: {
    type: 'string',
    value: 'LIST',
    default: 'tcp,utp',
    help: [
      'peer transports, comma-separated: tcp, utp (uTP, BEP 29: over UDP on the',
      'listening port, shared with the DHT; its congestion control yields to your',
      'other traffic, and it reaches peers behind NATs that TCP does not). Default',
      'tcp,utp: listen on both, dial a peer over the one it is known to speak (PEX',
      'flag, an earlier connection; else uTP to an IPv4 peer on the Internet when we',
      'are behind a NAT, TCP otherwise) and try the other half a second later, keep',
      'the first that connects.',
      'tcp: TCP only, no uTP packet sent; utp: uTP only',
    ],
  },
  'tunnel-id': { type: 'string', value: 'ID', default: 'the MAC of the uplink', help: 'Id to present to the tunnel server (default: the MAC of the uplink)' },
  'tunnel-token': { type: 'string', value: 'T', help: 'token for a tunnel server that requires one' },
  'no-port-mapping': {
    type: 'boolean',
    default: () => (envValue(ENV.portMapping) === 'off' ? `on ($${ENV.portMapping}=off)` : 'off'),
    help: [
      'do not ask the home router to open our port (by default PCP, then NAT-PMP, then',
      'UPnP IGD map it for IPv4 and open an IPv6 firewall pinhole, renewed while we run',
      'and deleted when we stop; what they grant is the port and address we advertise)',
    ],
  },
  'no-web-seeds': {
    type: 'boolean',
    help: [
      "do not fetch from the torrent's web seeds (by default the HTTP and HTTPS servers",
      'of its url-list, BEP 19, and httpseeds, BEP 17, serve the pieces peers are not',
      'fetching: Range requests over IPv6 and IPv4, checked like any piece)',
    ],
  },
  'no-dht': { type: 'boolean', help: 'do not use the DHT at all (no UDP socket, no lookups, no announces)' },
  'dht-port': { type: 'string', value: 'N', default: 'the listening port', help: 'UDP port of our DHT node (default: the listening port; 0 picks a free one)' },
  'dht-bootstrap': {
    type: 'string',
    multiple: true,
    value: 'HOST:PORT',
    env: ENV.dhtBootstrap,
    default: 'the public routers (router.bittorrent.com:6881 and others)',
    help: [
      'join the DHT through this node (repeatable; IPv4 address or host name),',
      'instead of $SIXSWARM_DHT_BOOTSTRAP (comma-separated HOST:PORT list, or none),',
      'else the public routers (router.bittorrent.com:6881 and others).',
      'The DHT (BEP 5) runs over IPv4 only, by design: without IPv4 (--no-ipv4) it',
      'is off. Private torrents (BEP 27) never use it. Its routing table is kept in',
      'the state folder (dht-PORT.state) for the next start.',
    ],
  },
  'no-lsd': {
    type: 'boolean',
    help: [
      'do not use local peer discovery (BEP 14). By default each public torrent is',
      'announced on the LAN with our port (multicast to 239.192.152.143:6771 and',
      '[ff15::efc0:988f]:6771 out of every LAN interface, once at start, a minute',
      'later, then every 5 minutes), and the peers that announce it there are dialed.',
      'Private torrents (BEP 27) never use it.',
    ],
  },
} as const satisfies OptionTable;

/** `download`: its own options, then the shared ones. */
export const DOWNLOAD_OPTIONS = {
  output: { type: 'string', short: 'o', value: 'DIR', default: () => process.cwd(), help: 'download folder (default: the current folder)' },
  'exit-on-complete': { type: 'boolean', help: 'exit with code 0 once every piece is verified on disk' },
  select: {
    type: 'string',
    multiple: true,
    value: 'LIST',
    help: [
      'download only these files: numbers and ranges as `sixswarm info` lists',
      'them, e.g. 1,3-5 (repeatable). Skipped files are never created; the bytes of',
      'theirs that share a piece with a selected file are kept in a part file',
      '(DIR/.sixswarm-<infohash>.parts/). Complete means every selected file verified',
    ],
  },
  skip: {
    type: 'string',
    multiple: true,
    value: 'GLOB',
    help: [
      'do not download files whose path inside the torrent matches GLOB (repeatable;',
      '* ? [..] within a name, ** across folders; a GLOB without / matches names),',
      "e.g. --skip '*.nfo' --skip 'extras/**'; applied after --select",
    ],
  },
  sequential: { type: 'boolean', help: 'download pieces in order, first to last, to watch or listen while it loads' },
  ...SHARED_OPTIONS,
} as const satisfies OptionTable;

/** `seed`: the shared options. */
export const SEED_OPTIONS = SHARED_OPTIONS;

/** Shared options `ui` refuses: they name one transfer's peers, its output or a tunnel of its own. */
export const NOT_IN_UI = ['peer', 'json', 'recheck', 'tunnel', 'tunnel-mode', 'tunnel-id', 'tunnel-token'] as const;

/** `ui`: its own options, then the shared ones it takes, told as they apply to a session of torrents. */
export const UI_OPTIONS = {
  session: {
    type: 'string',
    value: 'DIR',
    default: defaultSessionDir,
    help: [
      'where the session lives (default $XDG_DATA_HOME/sixswarm, else',
      '~/.local/share/sixswarm): session.json and a copy of every added .torrent',
    ],
  },
  output: {
    type: 'string',
    short: 'o',
    value: 'DIR',
    default: () => xdgDir('XDG_DOWNLOAD_DIR', 'Downloads'),
    help: [
      "where added torrents' data goes (default $XDG_DOWNLOAD_DIR, else ~/Downloads);",
      'each torrent keeps the folder it was added with',
    ],
  },
  ...retold(without(SHARED_OPTIONS, NOT_IN_UI), {
    'max-down': [
      'download at most RATE bytes per second, all torrents together (500k, 2M;',
      '0: no limit), shared by the peers in turn',
    ],
    'max-up': 'upload at most RATE bytes per second, all torrents together, likewise',
    'seed-ratio': [
      'once a torrent is complete, seed it until uploaded / downloaded reaches R (for',
      'one that downloaded nothing: uploaded / size), then pause it',
    ],
    'seed-time': [
      'once a torrent is complete, seed it for DURATION (90, 30s, 10m, 2h, 1h30m),',
      'then pause it; with --seed-ratio too, whichever comes first',
    ],
    tracker: 'announce every torrent to this tracker too (repeatable)',
    'no-trackers': 'do not announce to any tracker',
    'announce-ip': 'BEP 7 ipv6=/ipv4= in announces (see `sixswarm download --help`)',
    'no-dht': 'do not use the DHT (public torrents look up and announce there by default)',
    'no-web-seeds': "do not fetch from torrents' web seeds (url-list, httpseeds)",
    'dht-port': 'UDP port of our DHT node (default: the listening port)',
    'dht-bootstrap': [
      'join the DHT through this node (repeatable; default $SIXSWARM_DHT_BOOTSTRAP,',
      'else the public routers; see `sixswarm download --help`)',
    ],
    'no-lsd': ['do not announce torrents on the LAN nor take peers from it (local peer', 'discovery, BEP 14)'],
    encryption: 'protocol encryption with peers (default prefer; see `sixswarm download --help`)',
    transports: 'peer transports: tcp, utp or tcp,utp (default; see `sixswarm download --help`)',
    'state-dir': [
      'where resume state lives (default $SIXSWARM_STATE_DIR, else',
      '$XDG_STATE_HOME/sixswarm, else ~/.local/state/sixswarm)',
    ],
  }),
} as const satisfies OptionTable;

/** Shared options `daemon` refuses: they name one transfer's peers or ask for a check at start. */
export const NOT_IN_DAEMON = ['peer', 'recheck'] as const;

/** `daemon`: its own options, then the session's (ui's), then the tunnel, which a server may need. */
export const DAEMON_OPTIONS = {
  foreground: {
    type: 'boolean',
    help: [
      'stay in the foreground (for systemd and other service managers); log lines',
      'go to stdout, prefixed with their priority when that is the journal',
    ],
  },
  json: {
    type: 'boolean',
    help: [
      'log one JSON object per line (the events of `download --json` but',
      'progress, checking and piece-verified, plus web-listening, remote,',
      'refused and session-problem)',
    ],
  },
  log: { type: 'string', value: 'FILE', default: 'daemon.log in the state folder', help: 'in the background, where the log goes (default daemon.log in the state folder)' },
  'allow-dir': {
    type: 'string',
    multiple: true,
    value: 'DIR',
    help: [
      'another folder remotes may choose as download-dir (repeatable); folders',
      'inside these and -o are allowed, nothing outside (not through symlinks either)',
    ],
  },
  'rpc-bind': {
    type: 'string',
    multiple: true,
    value: 'ADDR',
    default: '127.0.0.1 and ::1',
    help: [
      'listen for HTTP on this address (default 127.0.0.1 and ::1; repeatable; ::',
      'or 0.0.0.0 for every address); anything but loopback needs --credentials',
    ],
  },
  'rpc-port': { type: 'string', value: 'N', default: '9091', help: "the HTTP port (default 9091, Transmission's; 0 picks a free one)" },
  'rpc-host': {
    type: 'string',
    multiple: true,
    value: 'NAME',
    help: [
      'a host name the daemon answers to besides localhost and IP addresses',
      '(repeatable): the name you reach it by (nas.example.org)',
    ],
  },
  credentials: {
    type: 'string',
    value: 'FILE',
    help: ['require a login: FILE holds name:password lines (chmod 600; refused when', 'others may read it)'],
  },
  'tls-cert': { type: 'string', value: 'FILE', help: 'serve HTTPS with this certificate (PEM, the chain included)' },
  'tls-key': { type: 'string', value: 'FILE', help: 'and this private key (PEM)' },
  ...UI_OPTIONS,
  ...retold(
    { tunnel: SHARED_OPTIONS.tunnel, 'tunnel-mode': SHARED_OPTIONS['tunnel-mode'], 'tunnel-id': SHARED_OPTIONS['tunnel-id'], 'tunnel-token': SHARED_OPTIONS['tunnel-token'] },
    {
      tunnel: [
        "the built-in IPv6-over-IPv4 tunnel for the daemon's session (see",
        '`sixswarm download --help`): a server without IPv6 of its own becomes',
        'reachable to IPv6 peers',
      ],
    },
  ),
} as const satisfies OptionTable;

/** The commands that read the config file, with their tables: every key of the file is an option of one of them. */
export const CONFIG_COMMANDS = { download: DOWNLOAD_OPTIONS, seed: SEED_OPTIONS, ui: UI_OPTIONS, daemon: DAEMON_OPTIONS } as const;

/** What the --help of download, seed and ui says about the config file, after their options. */
export const CONFIG_FILE_NOTE = `Every long option can also be set in the config file ($XDG_CONFIG_HOME/sixswarm/config.toml, key =
the option without its dashes); options given here win, and every flag has an opposite that turns
off what the file turns on: --no-X for --X (--no-json), --X for --no-X (--dht). \`sixswarm config\`
shows the settings in force and where each comes from; \`sixswarm config --help\` describes the file.`;
