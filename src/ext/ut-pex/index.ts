/**
 * ut_pex (BEP 11) as an extension of one swarm: the codec (codec.ts), the torrent's PEX state
 * (torrent.ts) and one connection's rules (connection.ts), registered as a discovery extension,
 * so the registry never runs it on a private torrent.
 */
import type { Family } from '../../net/address.js';
import { selfAddressCheck } from '../../net/self.js';
import type { Swarm } from '../../swarm/swarm.js';
import type { OurPorts } from '../../transport/advertised-ports.js';
import type { ExtensionFactory } from '../../wire/extensions.js';
import { PexConnection } from './connection.js';
import { PexTorrent, type PexSwarm, type SwarmPeerFacts } from './torrent.js';

export type { PartnerCounts, PexSummary } from './torrent.js';

export function utPexExtension(torrent: PexTorrent): ExtensionFactory {
  return {
    name: 'ut_pex',
    discovery: true,
    attach: (peer, send) => new PexConnection(torrent, peer, send),
  };
}

/** What PEX needs of a swarm: its peers, its discovery sink, our own listening addresses. */
export function pexSwarm(swarm: Swarm, own: { ports: OurPorts; ownAddresses(): Partial<Record<Family, string>> }): PexSwarm {
  return {
    peers: (): SwarmPeerFacts[] =>
      swarm.peerInfo().map((p) => ({
        id: p.id,
        host: p.host,
        family: p.family,
        remotePort: p.remotePort,
        listenPort: p.listenPort,
        outgoing: p.direction === 'out',
        seed: p.seed,
        prefersEncryption: p.prefersEncryption,
        holepunch: p.speaksHolepunch,
        utp: p.speaksUtp,
      })),
    addPeers: (addrs, source) => swarm.addPeers(addrs, source),
    dropFrom: (from) => swarm.dropFrom(from),
    // PEX lists peers by the address they listen on: ours is the local port (on a LAN) or the advertised one.
    selfCheck: () => {
      const own4 = selfAddressCheck(own.ports.local(4), own.ownAddresses());
      const own6 = selfAddressCheck(own.ports.local(6), own.ownAddresses());
      return (host, port) => own4(host, port) || own6(host, port);
    },
    warn: (message) => swarm.emit('event', { event: 'warning', message }),
  };
}

/** Turn PEX on for a swarm; the returned state feeds the status summary. */
export function registerUtPex(swarm: Swarm, own: { ports: OurPorts; ownAddresses(): Partial<Record<Family, string>> }): PexTorrent {
  const torrent = new PexTorrent(pexSwarm(swarm, own));
  swarm.extensions.register(utPexExtension(torrent));
  return torrent;
}
