/**
 * ut_holepunch (BEP 55) as an extension of one swarm: the codec (codec.ts), the torrent's three
 * roles (torrent.ts) and one partner (connection.ts), registered as a discovery extension (it
 * finds peers, so the registry never offers it on a private torrent), and hooked to the swarm's
 * failed dials (the initiator's cue).
 */
import { familyOf, type Family } from '../../net/address.js';
import { selfAddressCheck } from '../../net/self.js';
import type { Swarm } from '../../swarm/swarm.js';
import type { OurPorts } from '../../transport/advertised-ports.js';
import type { ExtensionFactory } from '../../wire/extensions.js';
import { HolepunchConnection } from './connection.js';
import { HolepunchTorrent, type HolepunchSummary, type HolepunchSwarm } from './torrent.js';

export type { HolepunchSummary } from './torrent.js';

/** Why holepunching is not offered for a torrent that is private. */
export const PRIVATE_REASON = 'private torrent: no holepunching (BEP 55 finds peers through other peers; a private torrent takes them from its tracker only)';
/** Why we neither ask for holepunches nor act on them without uTP (we still relay for others). */
export const NO_UTP_REASON = 'uTP is off: holepunches need it (turn it on with --transports tcp,utp); relaying for other peers still works';

/** Why a dial failed, when nothing answered it (a NAT or firewall dropping what we sent). */
const NO_ANSWER = /timed out|EHOSTUNREACH/;

export function utHolepunchExtension(torrent: HolepunchTorrent): ExtensionFactory {
  return {
    name: 'ut_holepunch',
    discovery: true,
    attach: (peer, send) => new HolepunchConnection(torrent, peer, send),
  };
}

/** A torrent's holepunching and why part of it is off, for the status feed. */
export class Holepunch {
  constructor(
    private readonly torrent: HolepunchTorrent,
    private readonly swarm: Swarm,
  ) {}

  /** Why holepunching is off (private) or limited (no uTP), if it is. */
  get off(): string | undefined {
    return this.swarm.extensions.private ? PRIVATE_REASON : this.swarm.canPunch ? undefined : NO_UTP_REASON;
  }

  summary(): HolepunchSummary & { off?: string } {
    const off = this.off;
    return { ...this.torrent.summary(), ...(off ? { off } : {}) };
  }
}

/** What holepunching needs of a swarm. */
export function holepunchSwarm(swarm: Swarm, own: { ports: OurPorts; ownAddresses(): Partial<Record<Family, string>> }): HolepunchSwarm {
  return {
    connected: (ep) => swarm.isConnected(ep),
    // Behind a NAT we are known by the port the gateway gave us as well as by our own.
    isSelf: (host, port) => {
      const family = familyOf(host);
      if (family === undefined) return false;
      const addrs = own.ownAddresses();
      return selfAddressCheck(own.ports.local(family), addrs)(host, port) || selfAddressCheck(own.ports.advertised(family), addrs)(host, port);
    },
    punch: (ep, relay, role) => swarm.punch(ep, relay, role),
    event: (e) => swarm.emit('event', { event: 'holepunch', ...e }),
  };
}

/** Turn holepunching on for a swarm (withdrawn by itself if the torrent turns out private). */
export function registerUtHolepunch(swarm: Swarm, own: { ports: OurPorts; ownAddresses(): Partial<Record<Family, string>> }): Holepunch {
  const torrent = new HolepunchTorrent(holepunchSwarm(swarm, own));
  swarm.extensions.register(utHolepunchExtension(torrent));
  swarm.plugins.add({
    dialFailed: (f) => {
      // Only a peer a partner told us about has someone to introduce us, and only silence (a
      // router dropping our SYNs) is what a holepunch mends: a refusal or a closed handshake is not.
      if (!swarm.canPunch || f.source.kind !== 'pex' || !f.source.from || !NO_ANSWER.test(f.reason)) return;
      for (const t of f.targets) {
        const family = familyOf(t.host);
        if (family) torrent.dialFailed({ host: t.host, port: t.port, family }, f.source.from);
      }
    },
  });
  return new Holepunch(torrent, swarm);
}
