/**
 * Fixed UI state for the component tests: two torrents, one of them in detail with peers over
 * IPv6, the tunnel and IPv4, trackers per family (one failing), files and a piece map, and an
 * engine with addresses of several classes, reached over IPv6 only, and a tunnel that is up.
 */
import type { PeerStatus, TorrentDetail, TorrentSummary } from '../../src/status/feed.js';
import { initialState, update, type Capability, type UiSnapshot, type UiState } from '../../cli/ui/state.js';

export const NOW = Date.parse('2026-12-01T12:00:00Z');
const MiB = 1024 * 1024;

export const UBUNTU: TorrentSummary = {
  infoHash: 'aa'.repeat(20),
  name: 'ubuntu-24.04-desktop-amd64.iso',
  state: 'downloading',
  pieces: 1000,
  have: 452,
  totalBytes: 1000 * MiB,
  haveBytes: 452 * MiB,
  percent: 45.2,
  downRate: 12.5 * MiB,
  upRate: 1.25 * MiB,
  maxDown: null,
  maxUp: null,
  downloaded: 452 * MiB,
  uploaded: 40 * MiB,
  wasted: 0,
  ratio: 40 / 452,
  eta: 44,
  peers: 4,
  peers4: 1,
  peers6: 3,
  seeds: 2,
  candidates: 17,
  unreachable: 3,
  gone: 0,
  refusedCandidates: 0,
  webSeeds: [
    { url: 'https://mirror.example/ubuntu/', protocol: 'bep19', state: 'downloading', address: '[2001:db8::80]:443', family: 6, downRate: 2 * MiB, downloaded: 120 * MiB, failures: 0, missingFiles: 0 },
    { url: 'http://old.example/seed.php', protocol: 'bep17', state: 'waiting', downRate: 0, downloaded: 0, failures: 3, lastError: 'busy (HTTP 503, retry in 40 s)', retryIn: 31, missingFiles: 0 },
  ],
};

export const DEBIAN: TorrentSummary = {
  ...UBUNTU,
  infoHash: 'bb'.repeat(20),
  name: 'debian-12-netinst.iso',
  state: 'paused',
  have: 631,
  pieces: 631,
  totalBytes: 631 * 256 * 1024,
  haveBytes: 631 * 256 * 1024,
  percent: 100,
  downRate: 0,
  upRate: 0,
  ratio: 1.5,
  eta: null,
  peers: 0,
  peers4: 0,
  peers6: 0,
  seeds: 0,
};

export const BROKEN: TorrentSummary = {
  ...DEBIAN,
  infoHash: 'cc'.repeat(20),
  name: 'broken.torrent-data',
  state: 'error',
  error: 'cannot write /media/usb/broken: no space left on device; free some space, then re-check it (c)',
};

function peer(address: string, via: PeerStatus['via'], extra: Partial<PeerStatus>): PeerStatus {
  return {
    address,
    family: via === 'ipv4' ? 4 : 6,
    via,
    client: 'qBittorrent 4.5.2',
    direction: 'out',
    source: 'tracker',
    encrypted: false,
    transport: 'tcp',
    holepunched: false,
    downRate: 0,
    upRate: 0,
    downloaded: 0,
    uploaded: 0,
    progress: 1,
    amChoking: true,
    amInterested: true,
    peerChoking: false,
    peerInterested: false,
    ...extra,
  };
}

export const DETAIL: TorrentDetail = {
  ...UBUNTU,
  peerList: [
    peer('[2001:db8:1234:5678:9abc:def0:1234:5678]:51413', 'ipv6', { downRate: 8 * MiB, client: 'Transmission 3.00', encrypted: true }),
    peer('[2001:db8::7]:6881', 'ipv6', { downRate: 3 * MiB, source: 'pex', direction: 'in', peerInterested: true, amChoking: false, upRate: MiB, transport: 'utp' }),
    peer('[2001:db8:77::1]:6881', 'tunnel', { downRate: 1.5 * MiB, client: 'sixswarm 0.1.0', source: 'dht', transport: 'utp', holepunched: true }),
    peer('198.51.100.20:6881', 'ipv4', { downRate: 0, client: 'aria2/1.36.0', progress: 0.3, peerChoking: true, source: 'manual' }),
  ],
  trackers: [
    { url: 'udp://tracker.example:6969/announce', family: 6, lastAnnounce: NOW - 12_000, nextAnnounce: NOW + 1788_000, peers4: 0, peers6: 3 },
    { url: 'udp://tracker.example:6969/announce', family: 4, lastAnnounce: NOW - 12_000, nextAnnounce: null, peers4: 0, peers6: 0, error: 'connection refused (ECONNREFUSED)' },
    { url: 'http://[2001:db8::5]:8000/announce', family: 6, lastAnnounce: NOW - 300_000, nextAnnounce: NOW + 1500_000, peers4: 1, peers6: 2 },
  ],
  files: [
    { path: 'ubuntu-24.04-desktop-amd64.iso', length: 990 * MiB, haveBytes: 450 * MiB, selected: true },
    { path: 'SHA256SUMS', length: 10 * MiB, haveBytes: 10 * MiB, selected: true },
  ],
  pieceMap: {
    cells: 64,
    have: Array.from({ length: 64 }, (_, i) => (i < 28 ? 1 : i === 28 ? 0.5 : 0)),
    availability: Array.from({ length: 64 }, (_, i) => (i % 16 === 15 ? 0 : 1 + (i % 4))),
  },
};

export const SNAPSHOT: UiSnapshot = {
  torrents: [UBUNTU, DEBIAN, BROKEN],
  detail: DETAIL,
  engine: {
    refused: 0,
    listening: [
      { family: 6, address: '::', port: 6881 },
      { family: 4, address: '0.0.0.0', port: 6881 },
    ],
    transports: ['tcp', 'utp'],
    addresses: [
      { family: 4, address: '192.0.2.2', kind: 'documentation', advertised: false, ifname: 'eth0' },
      { family: 6, address: 'fd00::2', kind: 'ula', advertised: false, ifname: 'eth0' },
      { family: 6, address: 'fe80::1', kind: 'link-local', advertised: false, ifname: 'eth0' },
      { family: 6, address: '2001:db8:77::1', kind: 'tunnel', advertised: true },
    ],
    reached: { 6: { from: '[2001:db8::7]:50000', kind: 'documentation', at: NOW - 5_000 } },
    dht: { address: '0.0.0.0', port: 6881, nodes: 143, lookups: 7 },
    lsd: { interfaces: { 4: [{ name: 'eth0', address: '192.0.2.2' }], 6: [{ name: 'eth0', address: 'fd00::2' }] }, torrents: 2, sent: 12, heard: 3, peers: 1, dropped: { malformed: 0, flooding: 0, own: 0 } },
    tunnel: {
      state: 'up',
      mode: 'tun',
      modeReason: 'TUN mode: root and /dev/net/tun are available',
      server: '198.51.100.1:3653',
      id: 'aa:bb:cc:dd:ee:ff',
      ifname: 'sixswarm0',
      routing: 'default',
      offload: true,
      prefix: '2001:db8:77::/64',
      address: '2001:db8:77::1',
      connectedSince: NOW - 725_000,
      reconnects: 1,
      bytesIn: 40 * MiB,
      bytesOut: 3 * MiB,
      packetsIn: 31000,
      packetsOut: 12000,
      droppedOut: 0,
      droppedIn: 2,
      streams: null,
      lastError: null,
    },
  },
  at: NOW,
};

export const ALL: Capability[] = ['add', 'pause', 'resume', 'remove', 'recheck', 'limits'];

/** The fixed state after `samples` snapshots with rising rates (for the chart). */
export function fixedState(can: Capability[] = ALL, samples = 30): UiState {
  let s = initialState('session /home/user/.local/share/sixswarm', can);
  for (let i = 0; i < samples; i++) {
    const k = (i + 1) / samples;
    const torrents = SNAPSHOT.torrents.map((t) => (t.infoHash === UBUNTU.infoHash ? { ...t, downRate: UBUNTU.downRate * k, upRate: UBUNTU.upRate * (1 - k / 2) } : t));
    s = update(s, { type: 'snapshot', snapshot: { ...SNAPSHOT, torrents, at: NOW - (samples - 1 - i) * 1000 } }).state;
  }
  return s;
}
