/**
 * The engine's local service discovery: one BEP 14 announcer and listener (src/lsd/) on the LAN
 * groups of the families we listen on, for every public torrent. Each tracked swarm is announced
 * with our listening port (not a port a gateway mapped outside: LAN peers reach our LAN address),
 * and the peers others announce for it go to its discovery sink as `lsd` peers. A private torrent
 * (BEP 27) is never tracked; one that turns out private is untracked at once. On a network with
 * no multicast (memory, a relay) it stays off.
 */
import { EventEmitter } from 'node:events';
import { LSD_GROUP, LSD_PORT } from '../lsd/message.js';
import { Lsd, type LsdStats } from '../lsd/lsd.js';
import type { Family } from '../net/address.js';
import type { Swarm } from '../swarm/swarm.js';
import type { OurPorts } from '../transport/advertised-ports.js';
import type { MulticastChannel } from '../transport/multicast.js';
import type { Network } from '../transport/network.js';
import { errorMessage } from '../util/errors.js';

/** What `--json` and the status snapshot tell about local service discovery. */
export type LsdStatus = LsdStats;

/** The part of a swarm LSD needs: its info hash and the sink. */
export type LsdSwarm = Pick<Swarm, 'infoHash' | 'addPeers'>;

export class LsdDiscovery extends EventEmitter<{ listening: [LsdStatus]; warning: [string] }> {
  private lsd?: Lsd;
  private starting?: Promise<Lsd | undefined>;
  private readonly swarms = new Map<string, LsdSwarm>();
  private stopped = false;
  /** It could not start (no group joined in any family). */
  private failed = false;

  constructor(
    private readonly network: Network,
    private readonly ports: OurPorts,
    /** The families we listen on and may announce over. */
    private readonly families: readonly Family[],
  ) {
    super();
  }

  /** Joins the groups (in the background); a family that cannot is a warning, and LSD runs on the others. */
  start(): Promise<Lsd | undefined> {
    this.starting ??= (async () => {
      const open = this.network.multicast?.bind(this.network);
      if (!open) return undefined;
      const channels: Partial<Record<Family, MulticastChannel>> = {};
      for (const f of this.families) {
        try {
          channels[f] = await open(f, { address: LSD_GROUP[f], port: LSD_PORT });
        } catch (e) {
          this.emit('warning', `local peer discovery over IPv${f} off: ${errorMessage(e)} (--no-lsd turns it off)`);
        }
      }
      const opened = Object.values(channels);
      if (this.stopped || opened.length === 0) {
        this.failed = true;
        await Promise.all(opened.map((c) => c.close()));
        return undefined;
      }
      const lsd = new Lsd({ channels, port: (f) => this.ports.local(f) });
      lsd.on('peer', (infoHash, peer) => this.swarms.get(infoHash)?.addPeers([peer], { kind: 'lsd', from: peer.host }));
      lsd.on('interfaces', () => this.emit('listening', lsd.stats()));
      lsd.on('warning', (m) => this.emit('warning', m));
      for (const s of this.swarms.values()) lsd.add(s.infoHash);
      lsd.start();
      this.lsd = lsd;
      this.emit('listening', lsd.stats());
      return lsd;
    })();
    return this.starting;
  }

  /** Announce a public torrent's swarm and take the peers heard for it, from now on; false when LSD could not start. */
  track(swarm: LsdSwarm): boolean {
    if (this.stopped || this.failed) return false;
    this.swarms.set(swarm.infoHash.toString('hex'), swarm);
    this.lsd?.add(swarm.infoHash);
    return true;
  }

  /** A torrent stopped or turned out private: not announced any more, its peers not taken. */
  untrack(swarm: LsdSwarm): void {
    const key = swarm.infoHash.toString('hex');
    if (this.swarms.get(key) !== swarm) return;
    this.swarms.delete(key);
    this.lsd?.remove(swarm.infoHash);
  }

  status(): LsdStatus | undefined {
    return this.lsd?.stats();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.swarms.clear();
    await this.starting;
    await this.lsd?.stop();
    this.lsd = undefined;
  }
}
