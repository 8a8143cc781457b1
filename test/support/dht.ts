/**
 * Test support for the DHT: a local DHT of sixswarm nodes, each on its own loopback address
 * (127.N.0.1: each node in a /16 of its own, so the per-IP and per-/24 limits of the routing
 * table and of lookups see distinct hosts, as on a real network; all of 127/8 reaches lo), and a
 * python3-libtorrent DHT node that joins it. Nothing here ever names a public bootstrap node:
 * every node is given local ones, and libtorrent's session is never built from its defaults.
 */
import { Dht, type DhtOptions } from '../../src/dht/dht.js';
import type { Endpoint } from '../../src/dht/rpc.js';
import { PYTHON, waitUntil } from './peers.js';
import { spawnTracked, type SixswarmProcess } from './sixswarm.js';

/** 127.N.0.1: the loopback address of test host N (1-254), in a /16 of its own. */
export function loopbackHost(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 254) throw new RangeError(`test host ${n} is not 1-254`);
  return `127.${n}.0.1`;
}

export interface LocalDht {
  nodes: Dht[];
  /** The first node, every other node's bootstrap. */
  router: Endpoint;
  stop(): Promise<void>;
}

/**
 * `count` sixswarm nodes on 127.<firstHost>.0.1, 127.<firstHost + 1>.0.1, ... (any free port; the
 * first on `routerPort` if given), all bootstrapped through the first; resolved once each knows at least `count - 1` others.
 */
export async function localDht(count: number, firstHost: number, opts: Partial<DhtOptions> = {}, routerPort = 0): Promise<LocalDht> {
  const nodes: Dht[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    const first = new Dht({ port: routerPort, host: loopbackHost(firstHost), bootstrap: [], ...opts });
    nodes.push(first);
    await first.start();
    const router = first.address();
    for (let i = 1; i < count; i++) {
      const n = new Dht({ port: 0, host: loopbackHost(firstHost + i), bootstrap: [router], ...opts });
      nodes.push(n);
      await n.start();
    }
    await waitUntil(() => nodes.every((n) => n.stats().nodes >= Math.min(count - 1, 8)), 15_000, () => `every node knows the others: ${nodes.map((n) => n.stats().nodes).join(',')}`);
    return { nodes, router, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * A libtorrent 2.0 session with only its DHT doing anything, on one loopback address (TCP and
 * UDP on the same port). Prints JSON lines: listening, bootstrapped, peers {infoHash, peers:
 * ["ip:port"]} for every get_peers reply to its own lookups, announce-in {infoHash, peer} for
 * every announce_peer it receives.
 *   announce: info hashes added as torrents without metadata, so libtorrent announces its port
 *   lookup: info hashes it looks up (dht_get_peers) every second
 */
const LIBTORRENT_DHT = String.raw`
import json, sys, time
import libtorrent as lt
cfg = json.loads(sys.argv[1])
def out(**e):
    print(json.dumps(e), flush=True)
cat = lt.alert.category_t
ses = lt.session({
    'listen_interfaces': '%s:%d' % (cfg['host'], cfg['port']),
    'enable_dht': True,
    'dht_bootstrap_nodes': cfg['bootstrap'],   # local nodes only: never its public default
    'dht_restrict_routing_ips': False,          # libtorrent counts all of 127/8 as one network
    'dht_restrict_search_ips': False,
    'dht_block_ratelimit': 100000,
    'dht_upload_rate_limit': 1000000,
    'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_incoming_utp': False, 'enable_outgoing_utp': False,
    'alert_mask': cat.dht_notification | cat.dht_operation_notification | cat.error_notification | cat.status_notification,
})
handles = []
for h in cfg['announce']:
    p = lt.add_torrent_params()
    p.info_hashes = lt.info_hash_t(lt.sha1_hash(bytes.fromhex(h)))
    p.save_path = cfg['save']
    handles.append(ses.add_torrent(p))
last = 0
while True:
    for a in ses.pop_alerts():
        kind = type(a).__name__
        if kind == 'listen_succeeded_alert' and a.socket_type == lt.socket_type_t.udp:
            out(event='listening', address=str(a.address), port=a.port)
        elif kind == 'dht_bootstrap_alert':
            out(event='bootstrapped')
        elif kind == 'dht_get_peers_reply_alert':
            out(event='peers', infoHash=str(a.info_hash), peers=['%s:%d' % (ip, port) for ip, port in a.peers()])
        elif kind == 'dht_announce_alert':
            out(event='announce-in', infoHash=str(a.info_hash), peer='%s:%d' % (a.ip, a.port))
        elif kind in ('listen_failed_alert', 'dht_error_alert'):
            out(event='error', message=a.message())
    if time.time() - last > 1:
        last = time.time()
        for h in cfg['lookup']:
            ses.dht_get_peers(lt.sha1_hash(bytes.fromhex(h)))
        # Its own schedule announces once, maybe before its routing table filled, then waits
        # 15 minutes: ask again every second so the test does not race that first round.
        for h in handles:
            h.force_dht_announce()
    time.sleep(0.05)
`;

export interface LibtorrentDhtOptions {
  host: string;
  port: number;
  bootstrap: readonly Endpoint[];
  /** Folder for the metadata-less torrents of `announce`. */
  save: string;
  announce?: string[];
  lookup?: string[];
}

/** The command line of a libtorrent DHT node (to run it elsewhere, e.g. in a namespace). */
export function libtorrentDhtCommand(o: LibtorrentDhtOptions): [string, string[]] {
  const cfg = {
    host: o.host,
    port: o.port,
    bootstrap: o.bootstrap.map((b) => `${b.host}:${b.port}`).join(','),
    save: o.save,
    announce: o.announce ?? [],
    lookup: o.lookup ?? [],
  };
  return [PYTHON, ['-c', LIBTORRENT_DHT, JSON.stringify(cfg)]];
}

export function libtorrentDht(o: LibtorrentDhtOptions): SixswarmProcess {
  const [cmd, args] = libtorrentDhtCommand(o);
  return spawnTracked(cmd, args, { label: 'libtorrent dht' });
}
