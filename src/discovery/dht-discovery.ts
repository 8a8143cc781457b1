/**
 * The engine's DHT: one BEP 5 node (IPv4 only, src/dht/) for every torrent the engine runs. Each
 * public torrent looks up peers when its swarm starts and again later, sooner while it has few
 * peers, and announces our peer port; peers found go to the swarm's discovery sink. A private
 * torrent (BEP 27) is never tracked, and one that turns out private (a magnet's metadata
 * arrived) is untracked at once: its lookups end and nothing more is sent for it. A hybrid
 * torrent (BEP 52) is tracked under both its hashes, its v2 one cut to 20 bytes, as libtorrent
 * does: v2 clients look for it there. The node itself answers other nodes' queries all along.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Dht, type AnnounceSummary } from '../dht/dht.js';
import type { Endpoint } from '../dht/rpc.js';
import type { PeerAddress } from '../net/compact.js';
import type { Swarm } from '../swarm/swarm.js';
import type { OurPorts } from '../transport/advertised-ports.js';
import type { DatagramChannel } from '../transport/datagram.js';
import type { Network } from '../transport/network.js';
import { errorMessage } from '../util/errors.js';

export interface DhtConfig {
  /** UDP port; undefined: the engine's peer port (its UDP socket, shared). */
  port?: number;
  bootstrap: readonly Endpoint[];
}

/** What `sixswarm --json` and the status snapshot tell about the DHT. */
export interface DhtStatus {
  address: string;
  port: number;
  /** Nodes in the routing table. */
  nodes: number;
  /** get_peers lookups finished since start. */
  lookups: number;
}

/** One lookup round of one torrent (announce included). */
export interface DhtRound extends AnnounceSummary {
  infoHash: string;
}

/** The part of a swarm the DHT needs: its info hash, the peer count, the sink. */
export type DhtSwarm = Pick<Swarm, 'infoHash' | 'complete' | 'addPeers'> & { stats(): { peers: number } };

/** Fewer connected peers than this (while downloading) makes the next round come sooner. */
export const FEW_PEERS = 5;
/** The next round while few peers: 10 s, doubling up to 5 min. */
const RETRY_MS = [10_000, 20_000, 40_000, 80_000, 160_000, 300_000];
/** The next round otherwise; also renews our announce before the nodes forget it (BEP 5: tokens live 10 min, peers about 30). */
const ROUND_MS = 15 * 60_000;

class TorrentDht {
  private readonly abort = new AbortController();
  private timer?: NodeJS.Timeout;
  private fewRounds = 0;

  constructor(
    readonly swarm: DhtSwarm,
    private readonly binding: DhtDiscovery,
    /** The hash looked up (the swarm's, or a hybrid's v2 one); `v2`: peers found are dialed with it. */
    private readonly infoHash: Buffer,
    private readonly v2: boolean,
  ) {}

  /** Still tracked (not stopped, not found private). */
  allowed(): boolean {
    return !this.abort.signal.aborted;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.abort.abort();
  }

  async round(dht: Dht, ports: OurPorts): Promise<void> {
    const port = ports.advertised(4);
    if (!this.allowed()) return;
    const infoHash = this.infoHash;
    const onPeers = (peers: PeerAddress[]) => {
      if (this.allowed()) this.swarm.addPeers(peers, this.v2 ? { kind: 'dht', v2: true } : { kind: 'dht' });
    };
    const opts = { signal: this.abort.signal, confirm: () => this.allowed() };
    try {
      // Port 0: not listening (yet), so there is nothing to announce; the lookup still helps.
      const r = port > 0 ? await dht.announce(infoHash, port, onPeers, opts) : { ...(await dht.lookup(infoHash, onPeers, opts)), announcedTo: 0 };
      if (this.abort.signal.aborted) return;
      this.binding.finished({ ...r, infoHash: infoHash.toString('hex') });
    } catch (e) {
      if (this.abort.signal.aborted) return;
      this.binding.emit('warning', `DHT lookup for ${infoHash.toString('hex')}: ${errorMessage(e)}`);
    }
    const few = !this.swarm.complete && this.swarm.stats().peers < FEW_PEERS;
    const delay = few ? RETRY_MS[Math.min(this.fewRounds++, RETRY_MS.length - 1)]! : ROUND_MS;
    if (!few) this.fewRounds = 0;
    this.timer = setTimeout(() => void this.round(dht, ports), delay);
    this.timer.unref();
  }
}

export class DhtDiscovery extends EventEmitter<{
  listening: [DhtStatus];
  round: [DhtRound];
  warning: [string];
}> {
  private dht?: Dht;
  private starting?: Promise<Dht | undefined>;
  private readonly torrents = new Set<TorrentDht>();
  private lookups = 0;
  private stopped = false;

  constructor(
    private readonly config: DhtConfig,
    private readonly stateDir: string,
    private readonly network: Network,
    /** Our peer ports: the IPv4 one is what we announce. */
    private readonly ports: OurPorts,
  ) {
    super();
  }

  /** Binds the node and joins the DHT in the background. A node that cannot start is a warning: the torrents run without it. */
  start(): Promise<Dht | undefined> {
    this.starting ??= (async () => {
      let socket: DatagramChannel;
      try {
        socket = await this.socket();
      } catch (e) {
        this.emit('warning', `DHT off: ${errorMessage(e)} (--dht-port N picks another port, --no-dht turns it off)`);
        return undefined;
      }
      const dht = new Dht({
        socket,
        bootstrap: this.config.bootstrap,
        // Per port: two engines sharing a state folder are two nodes, each with its own id and table.
        stateFile: join(this.stateDir, `dht-${socket.address().port}.state`),
        onWarning: (m) => this.emit('warning', m),
      });
      try {
        await dht.start();
      } catch (e) {
        this.emit('warning', `DHT off: ${errorMessage(e)} (--no-dht turns it off)`);
        return undefined;
      }
      if (this.stopped) {
        await dht.stop();
        return undefined;
      }
      this.dht = dht;
      this.emit('listening', this.status()!);
      return dht;
    })();
    return this.starting;
  }

  /** The peer port's IPv4 UDP socket (shared), or the one on `--dht-port`. */
  private async socket(): Promise<DatagramChannel> {
    const port = this.config.port ?? this.ports.local(4);
    try {
      return await this.network.datagrams(4, this.config.port);
    } catch (e) {
      throw new Error(`the DHT cannot listen on UDP port ${port} (${errorMessage(e)})`);
    }
  }

  /**
   * Look up and announce a public torrent's swarm from now on (untrack it when it turns out
   * private), under its own hash or another it is known by (`v2`: a hybrid's v2 hash).
   */
  track(swarm: DhtSwarm, infoHash = swarm.infoHash, v2 = false): void {
    if (this.stopped) return;
    const t = new TorrentDht(swarm, this, infoHash, v2);
    this.torrents.add(t);
    void this.start().then((dht) => {
      if (dht) void t.round(dht, this.ports);
    });
  }

  /** A torrent stopped (paused or removed from a session) or turned out private: its lookups end. */
  untrack(swarm: DhtSwarm): void {
    for (const t of this.torrents) {
      if (t.swarm !== swarm) continue;
      t.stop();
      this.torrents.delete(t);
    }
  }

  /** @internal A torrent's round is done. */
  finished(r: DhtRound): void {
    this.lookups++;
    this.emit('round', r);
  }

  status(): DhtStatus | undefined {
    if (!this.dht) return undefined;
    const s = this.dht.stats();
    return { address: s.address.host, port: s.address.port, nodes: s.nodes, lookups: this.lookups };
  }

  /** Ends every torrent's lookups, then the node (which saves its routing table). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.torrents) t.stop();
    this.torrents.clear();
    await this.starting;
    await this.dht?.stop();
    this.dht = undefined;
  }
}
